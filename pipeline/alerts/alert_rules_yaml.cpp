// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/alert_rules_yaml.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "model/common/label_list.h"

namespace ivs::pipeline {
namespace {

namespace fs = std::filesystem;
using config::MapReader;
using config::Place;

// Registers `key` in both spellings (on_threshold, on-threshold); a rule may use either.
void either_spelling(MapReader& reader, const std::string& key, const MapReader::Read& read) {
  std::string dashed = key;
  for (char& c : dashed) c = c == '_' ? '-' : c;
  reader.optional(key, read);
  if (dashed != key) reader.optional(dashed, read);
}

}  // namespace

AlertRule read_alert_rule(const YAML::Node& node, const Place& at, const std::string& base_dir) {
  AlertRule rule;
  MapReader reader(node, at);
  reader.required("name", [&](auto& v, auto& p) { rule.name = config::read_string(v, p); });
  reader.required("prompt", [&](auto& v, auto& p) { rule.prompt = config::read_string(v, p); });
  reader.optional("negatives", [&](auto& v, auto& p) {
    rule.negatives = v.IsSequence() ? config::read_string_list(v, p)
                                    : model::parse_label_list(config::read_string(v, p));
  });
  either_spelling(reader, "negatives_file", [&](auto& v, auto& p) {
    if (!p.trusted) p.fail("files cannot be named over REST; give the negatives inline");
    std::string path = config::read_string(v, p);
    if (!path.empty() && fs::path(path).is_relative() && !base_dir.empty())
      path = (fs::path(base_dir) / path).lexically_normal().string();
    try {
      rule.negatives = model::read_lines_file(path, "negatives_file");
    } catch (const std::exception& e) {
      p.fail(e.what());
    }
  });
  either_spelling(reader, "on_threshold",
                  [&](auto& v, auto& p) { rule.on_threshold = config::read_number(v, p, 0, 1); });
  either_spelling(reader, "off_threshold",
                  [&](auto& v, auto& p) { rule.off_threshold = config::read_number(v, p, 0, 1); });
  either_spelling(reader, "min_on", [&](auto& v, auto& p) {
    rule.min_on_seconds = config::read_number(v, p, 0, 86400);
  });
  either_spelling(reader, "min_off", [&](auto& v, auto& p) {
    rule.min_off_seconds = config::read_number(v, p, 0, 86400);
  });
  either_spelling(reader, "cooldown", [&](auto& v, auto& p) {
    rule.cooldown_seconds = config::read_number(v, p, 0, 86400);
  });
  either_spelling(reader, "smoothing", [&](auto& v, auto& p) {
    rule.smoothing = static_cast<unsigned>(config::read_integer(v, p, 1, 100));
  });
  reader.done();
  try {
    rule.validate();
  } catch (const std::invalid_argument& e) {
    at.fail(e.what());
  }
  return rule;
}

std::vector<AlertRule> read_alert_rules(const YAML::Node& node, const Place& at,
                                        const std::string& base_dir) {
  if (!node.IsSequence()) at.fail("expected a list of rules (- name: ..., prompt: ...)");
  std::vector<AlertRule> rules;
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const Place item = at.item(i, node[i]);
    rules.push_back(read_alert_rule(node[i], item, base_dir));
    if (!names.insert(rules.back().name).second) {
      item.fail("rule name '" + rules.back().name + "' is used twice; names must be distinct");
    }
  }
  return rules;
}

std::vector<AlertRule> load_alert_rules_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw config::ConfigError(path + ": cannot read the rules file (check rules-file)");
  }
  std::stringstream text;
  text << file.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw config::ConfigError(path + ": not valid YAML at line " + std::to_string(e.mark.line + 1) +
                              ": " + e.msg);
  }
  const Place at{&path, "", -1, true};
  const std::string base_dir = fs::path(path).parent_path().string();
  if (root.IsMap()) {
    MapReader reader(root, at);
    std::vector<AlertRule> rules;
    reader.required("rules", [&](auto& v, auto& p) { rules = read_alert_rules(v, p, base_dir); });
    reader.done();
    return rules;
  }
  return read_alert_rules(root, Place{&path, "rules", -1, true}, base_dir);
}

}  // namespace ivs::pipeline
