// SPDX-License-Identifier: Apache-2.0
// The .npy reader (model/common/npy.h): magic, version, header dict, dtype, shape, data length.
// The only accepted failure is the documented InputError; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "model/common/errors.h"
#include "model/common/npy.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto array = ivs::model::read_npy(ivs::fuzz::memory_file(data, size));
    if (array.data.size() != static_cast<size_t>(array.numel()) * dtype_size(array.dtype)) {
      __builtin_trap();  // the documented size invariant of NpyArray
    }
  } catch (const ivs::model::InputError&) {
  }
  return 0;
}
