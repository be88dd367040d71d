// SPDX-License-Identifier: Apache-2.0
// The state of one alert rule on one stream, driven by the rule's probability on each sampled
// frame at its stream time: idle until the probability stays at or above on_threshold for
// min_on seconds (start), active until it stays at or below off_threshold for min_off seconds
// (end), then idle again once the cooldown has passed. Between the thresholds nothing changes
// (hysteresis), so a probability hovering around one threshold does not flap. Time is the
// samples' stream time, so a file decoded faster than real time alerts like a camera would.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "pipeline/alerts/alert_event.h"
#include "pipeline/alerts/alert_rule.h"

namespace ivs::pipeline {

class AlertTracker {
 public:
  /// Makes the ids of this tracker's events; the default is "<stream>-<rule>-<n>".
  using IdMaker = std::function<std::string(const AlertRule&, uint64_t n)>;

  /// `rule` must be valid (AlertRule::validate).
  AlertTracker(AlertRule rule, std::string stream_id, IdMaker make_id = {});

  const AlertRule& rule() const { return rule_; }
  bool active() const { return active_; }
  /// The probability the rule last saw, smoothed.
  double probability() const { return probability_; }

  /// One sample: `probability` of the rule at stream time `pts_ns` on frame `frame`. Returns the
  /// event when this sample starts or ends one.
  std::optional<AlertEvent> update(uint64_t pts_ns, uint64_t frame, double probability);

  /// End of stream at `pts_ns`: an active event ends there (whatever min_off says).
  std::optional<AlertEvent> finish(uint64_t pts_ns, uint64_t frame);

  /// Forgets everything but the rule and the event count (a flush or a seek).
  void reset();

  /// The snapshot of the active event (written after its start), repeated on its end.
  void set_snapshot_path(std::string path);

 private:
  AlertEvent make_event(AlertState state, uint64_t pts_ns, uint64_t frame) const;

  AlertRule rule_;
  std::string stream_id_;
  IdMaker make_id_;
  std::deque<double> recent_;  // the last `smoothing` probabilities
  double probability_ = 0.0;
  bool active_ = false;
  std::optional<uint64_t> above_since_;  // idle: first sample of the run at or above on
  uint64_t above_since_frame_ = 0;
  std::optional<uint64_t> below_since_;  // active: first sample of the run at or below off
  std::optional<uint64_t> cooldown_until_;
  AlertEvent current_;  // active: the event that started
  uint64_t events_ = 0;
};

}  // namespace ivs::pipeline
