// SPDX-License-Identifier: Apache-2.0
// One alert rule: a text prompt whose probability against its negatives (a softmax with the
// model's logit scale, templates as in zero-shot classification) starts and ends events, with
// hysteresis (separate on and off thresholds), minimum durations and a cooldown.
#pragma once

#include <string>
#include <vector>

namespace ivs::pipeline {

struct AlertRule {
  std::string name;
  std::string prompt;                  // "a person climbing a fence"
  std::vector<std::string> negatives;  // empty: default_alert_negatives()
  double on_threshold = 0.6;           // probability that (for min_on) starts an event
  double off_threshold = 0.4;          // probability that (for min_off) ends it
  double min_on_seconds = 1.0;         // stream time above on_threshold before the start
  double min_off_seconds = 2.0;        // stream time below off_threshold before the end
  double cooldown_seconds = 0.0;       // after an end, before the rule may start again
  unsigned smoothing = 1;              // samples averaged into the probability (1: none)

  /// The negatives the probability is computed against, the prompt itself left out (so a
  /// whole label set may serve as the negatives of each of its labels).
  std::vector<std::string> effective_negatives() const;

  /// Throws std::invalid_argument naming the field and the fix: an empty name or prompt, a
  /// threshold outside [0, 1], off_threshold above on_threshold, a negative duration, smoothing
  /// 0, no negative but the prompt, or a ';' in the prompt (the list separator).
  void validate() const;
};

/// What a prompt competes against when a rule names no negatives: scenes in which nothing in
/// particular happens (README.md, "Alerts").
const std::vector<std::string>& default_alert_negatives();

}  // namespace ivs::pipeline
