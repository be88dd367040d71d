// SPDX-License-Identifier: Apache-2.0
// The encoded pre-roll of internvlrecord: the newest access units of a stream, always starting
// at a keyframe (a clip can only begin at one), bounded by a time span plus at most one GOP and
// by a byte cap. Plain C++ over timestamps and keyframe flags, so it is tested in simulated time.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace ivs::pipeline {

/// One encoded access unit as the recorder sees it.
struct EncodedUnit {
  uint64_t pts = 0;  // stream time (ns)
  bool keyframe = false;
  uint64_t bytes = 0;
  /// The element's buffer (type-erased, so that this layer needs no GStreamer); released when
  /// the last copy of the unit is dropped.
  std::shared_ptr<const void> payload;
};

/// Not thread-safe: one streaming thread pushes and reads.
class PreRollWindow {
 public:
  /// Keeps `span_ns` of stream time back from the newest unit, rounded back to a keyframe, and
  /// drops whole GOPs from the front while over `max_bytes` (the newest GOP is always kept).
  PreRollWindow(uint64_t span_ns, uint64_t max_bytes);

  /// Adds `unit`. A delta unit while the window holds no keyframe (start of stream, after a
  /// clear) cannot start a clip: it is not kept and push returns false.
  bool push(EncodedUnit unit);

  /// Copies of the units from the last keyframe at or before `time` (from the first unit when
  /// every keyframe is later) to the newest, oldest first; empty when the window is.
  std::vector<EncodedUnit> from(uint64_t time) const;

  bool empty() const { return units_.empty(); }
  size_t size() const { return units_.size(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t first_pts() const;                          // 0 when empty
  uint64_t newest_pts() const { return newest_pts_; }  // highest pts pushed (B-frames reorder)
  void clear();

 private:
  // Index of the second GOP's keyframe, or 0 when the window holds one GOP.
  size_t second_keyframe() const;
  void drop_front_gop(size_t count);

  uint64_t span_ns_;
  uint64_t max_bytes_;
  std::deque<EncodedUnit> units_;  // units_.front() is a keyframe whenever non-empty
  uint64_t bytes_ = 0;
  uint64_t newest_pts_ = 0;
};

}  // namespace ivs::pipeline
