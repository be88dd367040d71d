// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/element_settings.h"

#include <stdexcept>

#include "model/common/label_list.h"
#include "pipeline/alerts/alert_rules_yaml.h"

namespace ivs::plugins {

const std::vector<std::string>& device_names() {
  static const std::vector<std::string> names{"auto", "cpu", "cuda"};
  return names;
}
const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names{"auto", "fp32", "bf16", "fp16"};
  return names;
}
const std::vector<std::string>& mode_names() {
  static const std::vector<std::string> names{"c", "g"};
  return names;
}

const std::string& mode_name(Mode mode) { return mode_names().at(static_cast<size_t>(mode)); }
const std::vector<std::string>& leaky_names() {
  static const std::vector<std::string> names{"auto", "yes", "no"};
  return names;
}

pipeline::EngineKey EngineSettings::key() const {
  pipeline::EngineKey key;
  key.model_dir = model;
  key.device = device_names().at(static_cast<size_t>(device));
  key.dtype = dtype_names().at(static_cast<size_t>(dtype));
  return key;
}

std::vector<std::string> ClassifySettings::resolve_labels() const {
  if (!labels_file.empty()) return model::read_lines_file(labels_file, "labels-file");
  std::vector<std::string> out = model::parse_label_list(labels);
  if (out.empty()) {
    throw std::runtime_error(
        "the label set is empty: set labels=\"cat;dog;...\" or labels-file=<file>");
  }
  return out;
}

namespace {

// Templates as internvlclassify reads them (templates-file, else prompt-template), each with a
// '{}' for the label.
std::vector<std::string> templates_of(const std::string& prompt_template,
                                      const std::string& templates_file) {
  std::vector<std::string> out = templates_file.empty()
                                     ? std::vector<std::string>{prompt_template}
                                     : model::read_lines_file(templates_file, "templates-file");
  for (const auto& t : out) {
    if (!model::has_placeholder(t)) {
      throw std::runtime_error(
          "prompt template '" + t +
          "' has no '{}' placeholder for the label: write e.g. \"a photo of {}.\"");
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> ClassifySettings::resolve_templates() const {
  return templates_of(prompt_template, templates_file);
}

pipeline::AlertRule AlertElementSettings::default_alert_rule() {
  pipeline::AlertRule rule;
  rule.name = "alert";
  return rule;
}

std::vector<pipeline::AlertRule> AlertElementSettings::resolve_rules() const {
  if (!rules.empty()) {
    static const std::string kOrigin = "rules property";
    YAML::Node node;
    try {
      node = YAML::Load(rules);
    } catch (const YAML::Exception& e) {
      throw config::ConfigError("rules: not valid YAML at line " + std::to_string(e.mark.line + 1) +
                                ": " + e.msg);
    }
    return pipeline::read_alert_rules(node, config::Place{&kOrigin, "rules", -1, true}, "");
  }
  if (!rules_file.empty()) return pipeline::load_alert_rules_file(rules_file);
  pipeline::AlertRule one = rule;
  one.negatives = negatives_file.empty() ? model::parse_label_list(negatives)
                                         : model::read_lines_file(negatives_file, "negatives-file");
  if (one.prompt.empty()) {
    throw std::invalid_argument(
        "no alert rule: set prompt=\"...\" (and rule-name), or rules-file=<file>");
  }
  one.validate();
  return {one};
}

std::vector<std::string> AlertElementSettings::resolve_templates() const {
  return templates_of(prompt_template, templates_file);
}

}  // namespace ivs::plugins
