// SPDX-License-Identifier: Apache-2.0
// Alert rules written in YAML: internvlalert's rules-file (a list of rules) and the service's
// `alerts:` lists. Keys are the element's property names, with '-' or '_' (rules files follow
// the properties, the service config its snake_case): name, prompt, negatives (a list or
// "a;b"), negatives_file, on_threshold, off_threshold, min_on, min_off, cooldown, smoothing.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "pipeline/alerts/alert_rule.h"
#include "pipeline/config/yaml_reader.h"

namespace ivs::pipeline {

/// One rule from a mapping; validated. `base_dir` resolves a relative negatives_file, which an
/// untrusted source (REST) may not name. Throws config::ConfigError naming the key.
AlertRule read_alert_rule(const YAML::Node& node, const config::Place& at,
                          const std::string& base_dir);

/// A list of rules with distinct names. Throws config::ConfigError.
std::vector<AlertRule> read_alert_rules(const YAML::Node& node, const config::Place& at,
                                        const std::string& base_dir);

/// A rules file: a YAML list of rules (or a mapping with a `rules` list). Relative
/// negatives files are read next to it. Throws config::ConfigError naming the file.
std::vector<AlertRule> load_alert_rules_file(const std::string& path);

}  // namespace ivs::pipeline
