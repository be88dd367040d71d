// SPDX-License-Identifier: Apache-2.0
#include "pipeline/scheduling/clock.h"

#include <algorithm>

namespace ivs::pipeline {
namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  bool wait_until(TimePoint deadline,
                  const std::function<bool(Duration)>& wait_for) const override {
    return wait_for(std::max(deadline - now(), Duration::zero()));
  }
};

}  // namespace

const Clock& Clock::steady() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace ivs::pipeline
