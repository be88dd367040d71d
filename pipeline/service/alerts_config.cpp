// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/alerts_config.h"

#include <filesystem>

#include "pipeline/alerts/alert_rules_yaml.h"

namespace ivs::service {

using config::MapReader;
using config::Place;
using config::read_number;

void parse_recording(const YAML::Node& node, const Place& at, RecordingConfig& config) {
  MapReader map(node, at);
  pipeline::ClipLimits& limits = config.limits;
  map.optional("pre_roll_seconds",
               [&](auto& v, auto& p) { limits.pre_roll_seconds = read_number(v, p, 0, 3600); });
  map.optional("post_roll_seconds",
               [&](auto& v, auto& p) { limits.post_roll_seconds = read_number(v, p, 0, 3600); });
  map.optional("max_duration_seconds", [&](auto& v, auto& p) {
    limits.max_duration_seconds = read_number(v, p, 1, 86400);
  });
  map.optional("max_disk_gb",
               [&](auto& v, auto& p) { config.max_disk_gb = read_number(v, p, 0, 1e6); });
  map.done();
  // internvlrecord keeps the pre-roll while it waits for late decisions; a clip must hold it.
  if (limits.pre_roll_seconds >= limits.max_duration_seconds)
    at.fail("pre_roll_seconds must be below max_duration_seconds");
}

void check_stream_alerts(const StreamConfig& stream, const Place& at) {
  if (!stream.alerts.empty() && !stream.tasks.classify.enabled) {
    at.fail("stream '" + stream.id + "' has " + std::to_string(stream.alerts.size()) +
            " alert rule(s) but tasks.classify is disabled: alerts score the classify element's "
            "image embeddings; enable classify, or give the stream 'alerts: []'");
  }
}

nlohmann::json alert_rules_json(const std::vector<pipeline::AlertRule>& rules) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& rule : rules) {
    list.push_back({{"name", rule.name},
                    {"prompt", rule.prompt},
                    {"negatives", rule.negatives},
                    {"on_threshold", rule.on_threshold},
                    {"off_threshold", rule.off_threshold},
                    {"min_on", rule.min_on_seconds},
                    {"min_off", rule.min_off_seconds},
                    {"cooldown", rule.cooldown_seconds},
                    {"smoothing", rule.smoothing}});
  }
  return list;
}

std::vector<pipeline::AlertRule> parse_alert_rules_body(const std::string& text,
                                                        const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": neither JSON nor YAML (line " + std::to_string(e.mark.line + 1) +
                      "): " + e.msg);
  }
  const Place top{&origin, "", -1, false};
  if (root.IsMap()) {
    std::vector<pipeline::AlertRule> rules;
    MapReader map(root, top);
    map.required("alerts", [&](auto& v, auto& p) { rules = pipeline::read_alert_rules(v, p, ""); });
    map.done();
    return rules;
  }
  return pipeline::read_alert_rules(root, Place{&origin, "alerts", -1, false}, "");
}

std::string stream_recordings_dir(const RecordingConfig& recording, const std::string& stream_id) {
  if (recording.dir.empty()) return "";
  return (std::filesystem::path(recording.dir) / stream_id).string();
}

}  // namespace ivs::service
