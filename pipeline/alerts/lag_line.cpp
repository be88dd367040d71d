// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/lag_line.h"

#include <algorithm>
#include <utility>

namespace ivs::pipeline {

std::vector<EncodedUnit> LagLine::push(EncodedUnit unit) {
  newest_pts_ = std::max(newest_pts_, unit.pts);
  bytes_ += unit.bytes;
  units_.push_back(std::move(unit));
  std::vector<EncodedUnit> out;
  // By decode order: a B-frame's reordered pts may be older than a unit still held.
  while (!units_.empty() && (units_.front().pts + lag_ns_ <= newest_pts_ ||
                             (max_bytes_ > 0 && bytes_ > max_bytes_ && units_.size() > 1))) {
    bytes_ -= units_.front().bytes;
    out.push_back(std::move(units_.front()));
    units_.pop_front();
  }
  return out;
}

std::vector<EncodedUnit> LagLine::drain() {
  std::vector<EncodedUnit> out(std::make_move_iterator(units_.begin()),
                               std::make_move_iterator(units_.end()));
  clear();
  return out;
}

void LagLine::clear() {
  units_.clear();
  bytes_ = 0;
  newest_pts_ = 0;
}

}  // namespace ivs::pipeline
