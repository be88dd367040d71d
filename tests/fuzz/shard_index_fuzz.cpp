// SPDX-License-Identifier: Apache-2.0
// The shard index of a sharded checkpoint (model/internvl/shard_index.h): JSON, the weight_map
// object, shard names. shard_index.cpp is free of LibTorch and compiled into this target alone.
// The only accepted failure is the documented WeightLoadError; anything else is a finding, and
// so is an accepted shard name holding '/'.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/common/errors.h"
#include "model/internvl/shard_index.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string index = ivs::fuzz::memory_file(data, size);
  const std::string folder = index.substr(0, index.rfind('/') + 1);
  try {
    for (const auto& shard : ivs::model::shards_from_index(index)) {
      if (shard.compare(0, folder.size(), folder) != 0 ||
          shard.find('/', folder.size()) != std::string::npos) {
        __builtin_trap();
      }
    }
  } catch (const ivs::model::WeightLoadError&) {
  }
  return 0;
}
