// SPDX-License-Identifier: Apache-2.0
// The service's alert settings (configs/README.md, "Alerts"): the `recording:` section, the
// checks a stream's rules must pass, and the rules' one serialised form, used both for
// internvlalert's `rules` property and for GET/PUT /api/v1/streams/{id}/alerts. The rules
// themselves are read by pipeline/alerts/alert_rules_yaml.h, as in rules files.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "pipeline/alerts/alert_rule.h"
#include "pipeline/config/yaml_reader.h"
#include "pipeline/service/service_config.h"

namespace ivs::service {

/// The `recording:` section (pre_roll_seconds, post_roll_seconds, max_duration_seconds,
/// max_disk_gb) into `config`, whose defaults stay for absent keys. Throws ConfigError.
void parse_recording(const YAML::Node& node, const config::Place& at, RecordingConfig& config);

/// Alerts score the image embeddings internvlclassify attaches: a stream with rules must
/// classify. Throws ConfigError at `at` naming the fix.
void check_stream_alerts(const StreamConfig& stream, const config::Place& at);

/// The rules as JSON objects with the config's keys (name, prompt, negatives inline,
/// on_threshold, off_threshold, min_on, min_off, cooldown, smoothing): what GET returns and PUT
/// takes back, and, dumped (JSON is YAML), internvlalert's `rules` property.
nlohmann::json alert_rules_json(const std::vector<pipeline::AlertRule>& rules);

/// The body of PUT /api/v1/streams/{id}/alerts: JSON or YAML, a list of rules or
/// {"alerts": [...]}, read untrusted (no negatives_file, no ${VAR}). Throws ConfigError naming
/// `origin`, the rule and the field ("request body: alerts[0].min_on (line 1): ...").
std::vector<pipeline::AlertRule> parse_alert_rules_body(const std::string& text,
                                                        const std::string& origin);

/// The folder of one stream's clips and snapshots: <recordings_dir>/<stream id>; "" when
/// recordings_dir is empty.
std::string stream_recordings_dir(const RecordingConfig& recording, const std::string& stream_id);

}  // namespace ivs::service
