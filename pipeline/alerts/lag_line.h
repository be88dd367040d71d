// SPDX-License-Identifier: Apache-2.0
// internvlrecord's delay line: encoded units wait `lag` of stream time before the clip planner
// sees them. The events that open and close clips are decided in the other branch, after
// min-on / min-off and the inference, and a file read faster than real time lets the encoded
// branch run ahead of them; seen this much later, an event up to `lag` late still finds its
// pre-roll and stops its clip at the right unit.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "pipeline/alerts/pre_roll_window.h"

namespace ivs::pipeline {

/// Not thread-safe: the element's streaming thread uses it.
class LagLine {
 public:
  /// Holds units until they are `lag_ns` older than the newest, and at most `max_bytes` (the
  /// oldest leave early beyond that).
  LagLine(uint64_t lag_ns, uint64_t max_bytes) : lag_ns_(lag_ns), max_bytes_(max_bytes) {}

  /// Adds `unit`; returns the units that leave now, oldest first.
  std::vector<EncodedUnit> push(EncodedUnit unit);
  /// Every unit, oldest first (end of stream).
  std::vector<EncodedUnit> drain();
  void clear();

  size_t size() const { return units_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t lag_ns_;
  uint64_t max_bytes_;
  std::deque<EncodedUnit> units_;
  uint64_t bytes_ = 0;
  uint64_t newest_pts_ = 0;
};

}  // namespace ivs::pipeline
