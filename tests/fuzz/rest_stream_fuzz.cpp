// SPDX-License-Identifier: Apache-2.0
// The body of POST /api/v1/streams (pipeline/service/service_config.h parse_stream_config with
// StreamSource::kRest, the function RestApi hands the body to), JSON or YAML, against a minimal
// service configuration. The only accepted failure is the documented ConfigError; anything
// else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/service/service_config.h"

namespace {

const ivs::service::ServiceConfig& service() {
  // Parsed once: the same service configuration for every input.
  static const ivs::service::ServiceConfig config = ivs::service::parse_service_config(
      "model: {path: /models/m}\n"
      "tasks:\n"
      "  classify: {labels: [a cat, a dog]}\n"
      "streams:\n"
      "  - {id: cam01, uri: \"rtsp://10.0.0.5/s1\"}\n",
      "fuzz service", "/nonexistent/internvl-fuzz");
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ivs::service::parse_stream_config(std::string(reinterpret_cast<const char*>(data), size),
                                      service(), "fuzz input", ivs::service::StreamSource::kRest);
  } catch (const ivs::service::ConfigError&) {
  }
  return 0;
}
