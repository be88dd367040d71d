// SPDX-License-Identifier: Apache-2.0
// A checkpoint's config.json (model/internvl/config.h): JSON, types, sizes and their bounds.
// config.cpp is free of LibTorch, so it is compiled into this target alone. The only accepted
// failure is the documented ConfigError; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/common/errors.h"
#include "model/internvl/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ivs::model::InternVLConfig::from_json_text(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const ivs::model::ConfigError&) {
  }
  return 0;
}
