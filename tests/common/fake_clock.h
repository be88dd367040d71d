// SPDX-License-Identifier: Apache-2.0
// A simulated ivs::pipeline::Clock: time moves only when a test advances it or a wait runs out.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "pipeline/scheduling/clock.h"

namespace ivs::testing {

class FakeClock final : public pipeline::Clock {
 public:
  TimePoint now() const override { return TimePoint(Duration(now_.load())); }
  void advance(Duration by) { now_ += by.count(); }
  /// Asks once; when not done, time jumps to `deadline` (the wait ran out) and it asks again.
  bool wait_until(TimePoint deadline,
                  const std::function<bool(Duration)>& wait_for) const override {
    if (wait_for(Duration::zero())) return true;
    if (deadline > now()) now_ = deadline.time_since_epoch().count();
    return wait_for(Duration::zero());
  }

 private:
  // Starts well past the epoch, as a steady clock does, so "now - 1 s" is a valid time.
  mutable std::atomic<Duration::rep> now_{
      std::chrono::duration_cast<Duration>(std::chrono::hours(1000)).count()};
};

}  // namespace ivs::testing
