// SPDX-License-Identifier: Apache-2.0
// The PyTorch .bin reader (model/common/torch_zip.h): the zip container (libzip), the unpickler
// of data.pkl (model/common/pickle_reader.h) and the storages, then every tensor read. The only
// accepted failure is the documented WeightLoadError; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "model/common/errors.h"
#include "model/common/torch_zip.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = ivs::model::open_torch_zip(ivs::fuzz::memory_file(data, size));
    for (const auto& info : file->tensors()) file->read(info.name);
  } catch (const ivs::model::WeightLoadError&) {
  }
  return 0;
}
