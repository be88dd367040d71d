// SPDX-License-Identifier: Apache-2.0
// The shard index of a sharded checkpoint (model.safetensors.index.json or
// pytorch_model.bin.index.json), free of LibTorch so that it is fuzzed alone (tests/fuzz/).
#pragma once

#include <string>
#include <vector>

namespace ivs::model {

/// The shard files an index names in its "weight_map" object, each once, in order of first
/// appearance, as paths next to the index. A shard name must be a plain file name (no '/', not
/// "..") and the shard must exist. Throws WeightLoadError naming the index and the problem.
std::vector<std::string> shards_from_index(const std::string& index);

}  // namespace ivs::model
