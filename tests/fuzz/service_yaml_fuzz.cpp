// SPDX-License-Identifier: Apache-2.0
// The service YAML (pipeline/service/service_config.h parse_service_config): yaml-cpp, then
// every section's typed parser. The only accepted failure is the documented ConfigError;
// anything else is a finding. Relative paths resolve under a folder that does not exist.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/service/service_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ivs::service::parse_service_config(std::string(reinterpret_cast<const char*>(data), size),
                                       "fuzz input", "/nonexistent/internvl-fuzz");
  } catch (const ivs::service::ConfigError&) {
  }
  return 0;
}
