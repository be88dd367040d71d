// SPDX-License-Identifier: Apache-2.0
// The time source of result scheduling. Production code uses the steady clock; tests inject a
// simulated one (tests/common/fake_clock.h), so deadlines, late frames and bounded waits are
// tested without sleeping.
#pragma once

#include <chrono>
#include <functional>

namespace ivs::pipeline {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  virtual TimePoint now() const = 0;

  /// Waits until `deadline` for something that `wait_for(timeout)` blocks on (a future's
  /// wait_for, say) and returns whether it happened. The steady clock calls wait_for with the
  /// time left; a simulated clock asks once without waiting, and when the answer is no it moves
  /// its time to `deadline` and asks again.
  virtual bool wait_until(TimePoint deadline,
                          const std::function<bool(Duration timeout)>& wait_for) const = 0;

  /// The process's steady clock.
  static const Clock& steady();
};

}  // namespace ivs::pipeline
