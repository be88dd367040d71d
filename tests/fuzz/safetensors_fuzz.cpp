// SPDX-License-Identifier: Apache-2.0
// The safetensors reader (model/common/safetensors.h) on hostile files: the 8-byte header length,
// the JSON header, dtypes, shapes, data offsets, then every tensor read. The only accepted
// failure is the documented WeightLoadError; anything else (another exception, a crash, a leak,
// undefined behaviour, an allocation beyond -rss_limit_mb) is a finding.
#include <cstddef>
#include <cstdint>

#include "model/common/errors.h"
#include "model/common/safetensors.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = ivs::model::open_safetensors(ivs::fuzz::memory_file(data, size));
    for (const auto& info : file->tensors()) file->read(info.name);
  } catch (const ivs::model::WeightLoadError&) {
  }
  return 0;
}
