// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/clip_planner.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace ivs::pipeline {
namespace {

uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
uint64_t plus(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

uint64_t seconds_to_ns(double seconds) {
  if (!(seconds > 0.0)) return 0;
  const double ns = std::round(seconds * 1e9);
  return ns >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(ns);
}

ClipPlanner::ClipPlanner(const ClipLimits& limits)
    : pre_roll_ns_(seconds_to_ns(limits.pre_roll_seconds)),
      post_roll_ns_(seconds_to_ns(limits.post_roll_seconds)),
      max_duration_ns_(seconds_to_ns(limits.max_duration_seconds)),
      window_(pre_roll_ns_, limits.max_pre_roll_bytes) {}

ClipActions ClipPlanner::on_event(const AlertEvent& event) {
  ClipActions actions;
  Clip* clip = find(event.id);
  // An event without a time is taken as happening at the newest unit.
  const auto when = [&](uint64_t pts) { return pts == kNoClockTime ? window_.newest_pts() : pts; };
  if (event.state == AlertState::kStart) {
    if (clip != nullptr) return actions;
    clips_.push_back(Clip{event.id, minus(when(event.start_pts), pre_roll_ns_)});
    Clip& added = clips_.back();
    if (!window_.empty() && window_.newest_pts() >= added.from) open(added, actions);
    return actions;
  }
  if (clip == nullptr) return actions;
  clip->stop = std::min(clip->stop, plus(when(event.end_pts), post_roll_ns_));
  if (clip->open && !window_.empty() && window_.newest_pts() >= clip->stop) {
    actions.finished.push_back(clip->event_id);
    clips_.erase(clips_.begin() + (clip - clips_.data()));
  }
  return actions;
}

ClipActions ClipPlanner::push(EncodedUnit unit) {
  ClipActions actions;
  const uint64_t pts = unit.pts;
  for (auto it = clips_.begin(); it != clips_.end();) {
    if (it->open && pts >= it->stop) {
      actions.finished.push_back(it->event_id);
      it = clips_.erase(it);
      continue;
    }
    if (it->open) actions.append.push_back(it->event_id);
    ++it;
  }
  if (!window_.push(std::move(unit))) ++units_dropped_;
  // A start that was ahead of the stream opens once the stream reaches its pre-roll; its units
  // (this one included) come from the window.
  for (auto& clip : clips_) {
    if (!clip.open && !window_.empty() && window_.newest_pts() >= clip.from) open(clip, actions);
  }
  return actions;
}

ClipActions ClipPlanner::finish_all() {
  ClipActions actions;
  for (auto& clip : clips_) {
    if (!clip.open) open(clip, actions);
    if (clip.open) actions.finished.push_back(clip.event_id);
  }
  clips_.clear();
  return actions;
}

void ClipPlanner::open(Clip& clip, ClipActions& actions) {
  std::vector<EncodedUnit> units = window_.from(clip.from);
  if (units.empty()) return;
  clip.open = true;
  clip.stop = std::min(clip.stop, plus(units.front().pts, max_duration_ns_));
  // The pre-roll's own units obey the stop time too (an event ended before the stream got here).
  const uint64_t stop = clip.stop;
  units.erase(std::remove_if(units.begin(), units.end(),
                             [stop](const EncodedUnit& u) { return u.pts >= stop; }),
              units.end());
  actions.started.push_back(ClipStart{clip.event_id, std::move(units)});
}

ClipPlanner::Clip* ClipPlanner::find(const std::string& event_id) {
  for (auto& clip : clips_) {
    if (clip.event_id == event_id) return &clip;
  }
  return nullptr;
}

}  // namespace ivs::pipeline
