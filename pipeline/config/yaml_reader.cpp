// SPDX-License-Identifier: Apache-2.0
#include "pipeline/config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>

namespace ivs::config {

std::string Place::describe() const {
  std::string text = *origin + ": " + (path.empty() ? std::string("(top level)") : path);
  if (line >= 0) text += " (line " + std::to_string(line + 1) + ")";
  return text;
}

void Place::fail(const std::string& what) const { throw ConfigError(describe() + ": " + what); }

Place Place::child(const std::string& key, const YAML::Node& node) const {
  return {origin, path.empty() ? key : path + "." + key, node.Mark().line, trusted};
}

Place Place::item(size_t index, const YAML::Node& node) const {
  return {origin, path + "[" + std::to_string(index) + "]", node.Mark().line, trusted};
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : ", ") + word;
  return text;
}

std::string ascii_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string scalar_text(const YAML::Node& node, const Place& at) {
  if (!node.IsScalar())
    at.fail("expected a single value, got a " + std::string(node.IsMap() ? "mapping" : "list"));
  return at.trusted ? expand_environment(node.Scalar(), at.describe()) : node.Scalar();
}

std::string read_string(const YAML::Node& node, const Place& at) {
  if (node.IsNull()) return "";
  return scalar_text(node, at);
}

bool read_bool(const YAML::Node& node, const Place& at) {
  const std::string text = ascii_lower(scalar_text(node, at));
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  at.fail("expected true or false; got '" + text + "'");
}

long long read_integer(const YAML::Node& node, const Place& at, long long low, long long high) {
  const std::string text = scalar_text(node, at);
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
    at.fail("expected an integer; got '" + text + "'");
  }
  if (value < low || value > high) {
    at.fail("expected an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
            "]; got " + text);
  }
  return value;
}

double read_number(const YAML::Node& node, const Place& at, double low, double high) {
  const std::string text = scalar_text(node, at);
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE || !std::isfinite(value)) {
    at.fail("expected a number; got '" + text + "'");
  }
  if (value < low || value > high) {
    std::ostringstream range;
    range << "expected a number in [" << low << ", " << high << "]; got " << text;
    at.fail(range.str());
  }
  return value;
}

std::string read_choice(const YAML::Node& node, const Place& at,
                        const std::vector<std::string>& choices) {
  const std::string text = scalar_text(node, at);
  if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
    at.fail("expected one of " + join(choices) + "; got '" + text + "'");
  }
  return text;
}

uint64_t read_seconds_as_ns(const YAML::Node& node, const Place& at, double low, double high) {
  return static_cast<uint64_t>(read_number(node, at, low, high) * 1e9);
}

std::vector<std::string> read_string_list(const YAML::Node& node, const Place& at) {
  if (!node.IsSequence()) at.fail("expected a list of strings");
  std::vector<std::string> values;
  for (size_t i = 0; i < node.size(); ++i)
    values.push_back(scalar_text(node[i], at.item(i, node[i])));
  return values;
}

std::string expand_environment(const std::string& value, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$' || i + 1 >= value.size()) {
      out += value[i];
      continue;
    }
    if (value[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (value[i + 1] != '{') {
      out += value[i];
      continue;
    }
    const auto close = value.find('}', i + 2);
    if (close == std::string::npos) throw ConfigError(where + ": unclosed '${' in '" + value + "'");
    const std::string inner = value.substr(i + 2, close - i - 2);
    const auto dash = inner.find(":-");
    const std::string name = inner.substr(0, dash);
    const char* found = name.empty() ? nullptr : std::getenv(name.c_str());
    if (found != nullptr && (*found != '\0' || dash == std::string::npos)) {
      out += found;
    } else if (dash != std::string::npos) {
      out += inner.substr(dash + 2);
    } else {
      throw ConfigError(where + ": environment variable '" + name +
                        "' is not set (set it, or write ${" + name + ":-default})");
    }
    i = close;
  }
  return out;
}

MapReader::MapReader(const YAML::Node& node, Place at) : node_(node), at_(std::move(at)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    at_.fail("expected a mapping (key: value)");
  if (!node_.IsMap()) return;
  // yaml-cpp keeps every entry of a mapping but looks keys up by the first: a repeated key
  // would silently lose its second value, so it is an error that points at both.
  std::map<std::string, int> first_line;
  for (const auto& entry : node_) {
    if (!entry.first.IsScalar()) continue;
    const std::string key = entry.first.Scalar();
    const int line = entry.first.Mark().line;
    const auto [seen, inserted] = first_line.emplace(key, line);
    if (!inserted) {
      at_.child(key, entry.first)
          .fail("duplicate key '" + key + "' (lines " + std::to_string(seen->second + 1) + " and " +
                std::to_string(line + 1) + "); keep one");
    }
  }
}

void MapReader::optional(const std::string& key, const Read& read) {
  known_.push_back(key);
  if (!node_.IsMap()) return;
  const YAML::Node value = node_[key];
  if (value.IsDefined() && !value.IsNull()) read(value, at_.child(key, value));
}

void MapReader::required(const std::string& key, const Read& read) {
  bool seen = false;
  optional(key, [&](const YAML::Node& value, const Place& at) {
    seen = true;
    read(value, at);
  });
  if (!seen) at_.fail("missing required key '" + key + "'");
}

void MapReader::done() const {
  if (!node_.IsMap()) return;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      at_.child(key, entry.first)
          .fail("unknown key '" + key + "' (known here: " + join(known_) + ")");
    }
  }
}

}  // namespace ivs::config
