// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/search_config.h"

#include <filesystem>

namespace ivs::service {

using config::MapReader;
using config::Place;
using config::read_bool;
using config::read_number;
using config::read_string;

namespace {

namespace fs = std::filesystem;

}  // namespace

void parse_search(const YAML::Node& node, const Place& at, const std::string& base_dir,
                  SearchConfig& config) {
  config.enabled = true;  // `search: {}` turns it on with every default
  MapReader map(node, at);
  search::SearchIndexOptions& index = config.index;
  map.optional("enabled", [&](auto& v, auto& p) { config.enabled = read_bool(v, p); });
  map.optional("data_dir", [&](auto& v, auto& p) {
    const std::string dir = read_string(v, p);
    if (dir.empty()) p.fail("the directory is empty; leave data_dir out for the default");
    index.dir = fs::path(dir).is_absolute() || base_dir.empty()
                    ? fs::path(dir)
                    : (fs::path(base_dir) / dir).lexically_normal();
  });
  map.optional("retention_hours",
               [&](auto& v, auto& p) { index.retention_hours = read_number(v, p, 0, 1e6); });
  map.optional("max_disk_gb",
               [&](auto& v, auto& p) { index.max_disk_gb = read_number(v, p, 0, 1e6); });
  map.optional("thumbnails",
               [&](auto& v, auto& p) { config.element.thumbnails = read_bool(v, p); });
  map.done();
}

void resolve_search_dir(const RecordingConfig& recording, const std::string& base_dir,
                        SearchConfig& config) {
  if (!config.enabled || !config.index.dir.empty()) return;
  // Beside the clips when there are any (the disk an operator already sized for video), else
  // beside the config: never the working directory, which depends on how the service is run.
  const fs::path parent = !recording.dir.empty() ? fs::path(recording.dir) : fs::path(base_dir);
  config.index.dir = (parent / "search").lexically_normal();
}

void check_stream_search(const StreamConfig& stream, const ServiceConfig& service,
                         const Place& at) {
  if (!service.search.enabled || !stream.tasks.classify.enabled) return;
  const plugins::Mode mode = stream.tasks.classify.element.mode;
  const plugins::Mode expected = service.tasks.classify.element.mode;
  if (mode != expected) {
    at.fail("stream '" + stream.id + "' classifies in mode " + plugins::mode_name(mode) +
            " but the search index holds the service's mode " + plugins::mode_name(expected) +
            " (one embedding space per index); use tasks.classify.mode " +
            plugins::mode_name(expected) + " for this stream, or turn search off");
  }
}

}  // namespace ivs::service
