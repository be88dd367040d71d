// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/pre_roll_window.h"

#include <algorithm>
#include <utility>

namespace ivs::pipeline {

PreRollWindow::PreRollWindow(uint64_t span_ns, uint64_t max_bytes)
    : span_ns_(span_ns), max_bytes_(max_bytes) {}

bool PreRollWindow::push(EncodedUnit unit) {
  if (units_.empty() && !unit.keyframe) return false;
  newest_pts_ = units_.empty() ? unit.pts : std::max(newest_pts_, unit.pts);
  bytes_ += unit.bytes;
  units_.push_back(std::move(unit));
  // Drop the oldest GOP while the rest still reaches back `span_ns_` (so the window never holds
  // more than the span plus one GOP), or while over the byte cap.
  for (size_t next = second_keyframe(); next != 0; next = second_keyframe()) {
    const bool rest_covers_span = units_[next].pts + span_ns_ <= newest_pts_;
    if (!rest_covers_span && bytes_ <= max_bytes_) break;
    drop_front_gop(next);
  }
  return true;
}

std::vector<EncodedUnit> PreRollWindow::from(uint64_t time) const {
  size_t begin = 0;
  for (size_t i = 0; i < units_.size(); ++i) {
    if (units_[i].keyframe && units_[i].pts <= time) begin = i;
  }
  return std::vector<EncodedUnit>(units_.begin() + static_cast<std::ptrdiff_t>(begin),
                                  units_.end());
}

uint64_t PreRollWindow::first_pts() const { return units_.empty() ? 0 : units_.front().pts; }

void PreRollWindow::clear() {
  units_.clear();
  bytes_ = 0;
  newest_pts_ = 0;
}

size_t PreRollWindow::second_keyframe() const {
  for (size_t i = 1; i < units_.size(); ++i) {
    if (units_[i].keyframe) return i;
  }
  return 0;
}

void PreRollWindow::drop_front_gop(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    bytes_ -= units_.front().bytes;
    units_.pop_front();
  }
}

}  // namespace ivs::pipeline
