// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/alert_tracker.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace ivs::pipeline {
namespace {

uint64_t to_ns(double seconds) { return static_cast<uint64_t>(std::llround(seconds * 1e9)); }

// Whether at least `duration_ns` of stream time lies between `since` and `now` (a stream time
// that went backwards counts as no time).
bool lasted(uint64_t since, uint64_t now, uint64_t duration_ns) {
  return now >= since && now - since >= duration_ns;
}

}  // namespace

AlertTracker::AlertTracker(AlertRule rule, std::string stream_id, IdMaker make_id)
    : rule_(std::move(rule)), stream_id_(std::move(stream_id)), make_id_(std::move(make_id)) {
  if (!make_id_) {
    make_id_ = [stream = stream_id_](const AlertRule& r, uint64_t n) {
      return stream + "-" + r.name + "-" + std::to_string(n);
    };
  }
}

std::optional<AlertEvent> AlertTracker::update(uint64_t pts_ns, uint64_t frame,
                                               double probability) {
  recent_.push_back(probability);
  while (recent_.size() > rule_.smoothing) recent_.pop_front();
  probability_ =
      std::accumulate(recent_.begin(), recent_.end(), 0.0) / static_cast<double>(recent_.size());
  const double p = probability_;

  if (!active_) {
    if (cooldown_until_ && pts_ns < *cooldown_until_) return std::nullopt;
    cooldown_until_.reset();
    if (p < rule_.on_threshold) {
      above_since_.reset();
      return std::nullopt;
    }
    if (!above_since_ || pts_ns < *above_since_) {
      above_since_ = pts_ns;
      above_since_frame_ = frame;
    }
    if (!lasted(*above_since_, pts_ns, to_ns(rule_.min_on_seconds))) return std::nullopt;
    active_ = true;
    current_ = make_event(AlertState::kStart, pts_ns, frame);
    current_.id = make_id_(rule_, ++events_);
    current_.start_pts = *above_since_;
    current_.start_frame = above_since_frame_;
    current_.peak_probability = p;
    above_since_.reset();
    below_since_.reset();
    return current_;
  }

  current_.peak_probability = std::max(current_.peak_probability, p);
  if (p > rule_.off_threshold) {
    below_since_.reset();
    return std::nullopt;
  }
  if (!below_since_ || pts_ns < *below_since_) below_since_ = pts_ns;
  if (!lasted(*below_since_, pts_ns, to_ns(rule_.min_off_seconds))) return std::nullopt;
  const uint64_t end_pts = *below_since_;
  AlertEvent end = finish(pts_ns, frame).value();
  end.end_pts = end_pts;
  return end;
}

std::optional<AlertEvent> AlertTracker::finish(uint64_t pts_ns, uint64_t frame) {
  if (!active_) return std::nullopt;
  active_ = false;
  below_since_.reset();
  AlertEvent end = current_;
  end.state = AlertState::kEnd;
  end.end_pts = pts_ns;
  end.pts = pts_ns;
  end.frame = frame;
  end.probability = probability_;
  end.snapshot_path = current_.snapshot_path;
  cooldown_until_ = pts_ns + to_ns(rule_.cooldown_seconds);
  return end;
}

void AlertTracker::reset() {
  recent_.clear();
  probability_ = 0.0;
  active_ = false;
  above_since_.reset();
  below_since_.reset();
  cooldown_until_.reset();
}

void AlertTracker::set_snapshot_path(std::string path) { current_.snapshot_path = std::move(path); }

AlertEvent AlertTracker::make_event(AlertState state, uint64_t pts_ns, uint64_t frame) const {
  AlertEvent event;
  event.stream_id = stream_id_;
  event.rule = rule_.name;
  event.prompt = rule_.prompt;
  event.state = state;
  event.pts = pts_ns;
  event.frame = frame;
  event.probability = probability_;
  return event;
}

}  // namespace ivs::pipeline
