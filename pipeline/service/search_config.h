// SPDX-License-Identifier: Apache-2.0
// The service's search settings (configs/README.md, "Search"): the `search:` section and the
// checks a stream must pass to share the one index.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "pipeline/config/yaml_reader.h"
#include "pipeline/service/service_config.h"

namespace ivs::service {

/// The `search:` section (enabled, data_dir, retention_hours, max_disk_gb, thumbnails) into
/// `config`, whose defaults stay for absent keys; the section's presence enables search unless it
/// says `enabled: false`. data_dir is resolved against `base_dir`. Throws ConfigError.
void parse_search(const YAML::Node& node, const config::Place& at, const std::string& base_dir,
                  SearchConfig& config);

/// Once the whole file is read: an enabled search without data_dir gets <recordings_dir>/search,
/// or <base_dir>/search when there is no recordings_dir.
void resolve_search_dir(const RecordingConfig& recording, const std::string& base_dir,
                        SearchConfig& config);

/// The index holds one embedding space: with search enabled, a stream that classifies must use
/// the service's classify mode. Throws ConfigError at `at` naming the fix.
void check_stream_search(const StreamConfig& stream, const ServiceConfig& service,
                         const config::Place& at);

}  // namespace ivs::service
