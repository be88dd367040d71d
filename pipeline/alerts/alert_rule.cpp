// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/alert_rule.h"

#include <stdexcept>

namespace ivs::pipeline {
namespace {

[[noreturn]] void invalid(const std::string& rule, const std::string& field,
                          const std::string& problem) {
  throw std::invalid_argument("alert rule '" + rule + "': " + field + " " + problem);
}

}  // namespace

const std::vector<std::string>& default_alert_negatives() {
  static const std::vector<std::string> negatives{"an empty scene", "a background",
                                                  "an ordinary scene", "something else"};
  return negatives;
}

std::vector<std::string> AlertRule::effective_negatives() const {
  std::vector<std::string> out;
  for (const auto& negative : negatives.empty() ? default_alert_negatives() : negatives) {
    if (negative != prompt) out.push_back(negative);
  }
  return out;
}

void AlertRule::validate() const {
  if (name.empty()) invalid(name, "name", "is empty: give the rule a name");
  if (prompt.empty()) invalid(name, "prompt", "is empty: describe what to alert on");
  if (prompt.find(';') != std::string::npos) {
    invalid(name, "prompt", "contains ';', the list separator: rephrase it without one");
  }
  for (const auto& negative : negatives) {
    if (negative.empty()) invalid(name, "negatives", "contains an empty entry");
  }
  auto check_probability = [&](const char* field, double value) {
    if (!(value >= 0.0 && value <= 1.0)) {
      invalid(name, field, "must be a probability in [0, 1] (got " + std::to_string(value) + ")");
    }
  };
  check_probability("on-threshold", on_threshold);
  check_probability("off-threshold", off_threshold);
  if (off_threshold > on_threshold) {
    invalid(name, "off-threshold",
            "(" + std::to_string(off_threshold) + ") is above on-threshold (" +
                std::to_string(on_threshold) + "): it must be at most on-threshold");
  }
  auto check_duration = [&](const char* field, double seconds) {
    if (!(seconds >= 0.0)) {
      invalid(name, field, "must be >= 0 seconds (got " + std::to_string(seconds) + ")");
    }
  };
  check_duration("min-on", min_on_seconds);
  check_duration("min-off", min_off_seconds);
  check_duration("cooldown", cooldown_seconds);
  if (smoothing == 0) invalid(name, "smoothing", "must be at least 1 sample");
  if (effective_negatives().empty()) {
    invalid(name, "negatives", "holds nothing but the prompt: give at least one alternative");
  }
}

}  // namespace ivs::pipeline
