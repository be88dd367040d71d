// SPDX-License-Identifier: Apache-2.0
// Reading typed values out of YAML (yaml-cpp) with errors that say where and what: the
// service's config and the alert rules files share it, so both name a bad value the same way
// ("cam.yaml: streams[0].decode (line 12): expected one of auto, gpu, cpu; got 'gpux'") and
// reject unknown keys.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ivs::config {

/// A configuration that cannot be used: the message names the source, the key path, the line
/// and what is expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// ${VAR} and ${VAR:-default} replaced from the environment ("$$" is a literal '$'). Throws
/// ConfigError naming `where` when VAR is unset and has no default, or a brace is unclosed.
std::string expand_environment(const std::string& value, const std::string& where);

/// Where a value sits, for messages: "cam.yaml: streams[0].decode (line 12)".
struct Place {
  const std::string* origin;  // the file (or "REST body"); outlives the Place
  std::string path;
  int line = -1;
  bool trusted = true;  // a config file (env expansion, files allowed), not a REST body

  std::string describe() const;
  [[noreturn]] void fail(const std::string& what) const;
  Place child(const std::string& key, const YAML::Node& node) const;
  Place item(size_t index, const YAML::Node& node) const;
};

/// "a, b, c".
std::string join(const std::vector<std::string>& words);

/// `text` with A-Z as a-z (keys, schemes, HTTP tokens: ASCII by definition).
std::string ascii_lower(std::string text);

/// The scalar's text, with the environment expanded where the source is trusted.
std::string scalar_text(const YAML::Node& node, const Place& at);
std::string read_string(const YAML::Node& node, const Place& at);  // null: ""
bool read_bool(const YAML::Node& node, const Place& at);
long long read_integer(const YAML::Node& node, const Place& at, long long low, long long high);
double read_number(const YAML::Node& node, const Place& at, double low, double high);
std::string read_choice(const YAML::Node& node, const Place& at,
                        const std::vector<std::string>& choices);
/// A duration written in seconds (the unit of every key), as nanoseconds.
uint64_t read_seconds_as_ns(const YAML::Node& node, const Place& at, double low, double high);
std::vector<std::string> read_string_list(const YAML::Node& node, const Place& at);

/// One of an enum's names, as its value (the names in value order).
template <typename Enum>
Enum read_enum(const YAML::Node& node, const Place& at, const std::vector<std::string>& names) {
  const std::string text = read_choice(node, at, names);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return static_cast<Enum>(0);  // unreachable: read_choice accepted the text
}

/// Reads the keys of one mapping; whatever is left unread when done() is called is an unknown
/// key.
class MapReader {
 public:
  MapReader(const YAML::Node& node, Place at);

  using Read = std::function<void(const YAML::Node&, const Place&)>;
  /// Calls `read` with the value and its place when `key` is present (and not null).
  void optional(const std::string& key, const Read& read);
  void required(const std::string& key, const Read& read);
  void done() const;

  const Place& place() const { return at_; }

 private:
  YAML::Node node_;
  Place at_;
  std::vector<std::string> known_;
};

}  // namespace ivs::config
