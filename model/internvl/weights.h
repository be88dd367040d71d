// SPDX-License-Identifier: Apache-2.0
// Checkpoint loading: finds the weight files of a Hugging Face snapshot directory, reads them
// shard by shard, and fills a module's parameters strictly. The only place that knows which
// checkpoint tensors are deliberately ignored.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

namespace ivs::model {

/// The weight files of a checkpoint directory, in load order, and how they were found.
struct CheckpointFiles {
  std::vector<std::string> shards;  // absolute paths
  std::string index;                // the *.index.json used, or empty
  bool safetensors = true;          // false: PyTorch zip .bin files
};

/// Finds the weights in `dir`, preferring safetensors: model.safetensors.index.json (+ shards),
/// model.safetensors, pytorch_model.bin.index.json (+ shards), pytorch_model.bin. Every shard
/// an index names must exist. Throws WeightLoadError naming the directory and what is expected.
CheckpointFiles find_checkpoint_files(const std::string& dir);

/// Copies every tensor of the checkpoint in `dir` into the parameter of `module` with the same
/// name, converting dtype and moving to the parameter's device on the way; one shard's file is
/// open (memory-mapped or read) at a time. Loading is strict: when any parameter is missing,
/// any checkpoint tensor is unexpected (not a parameter and not in the ignore list: itm_head.*,
/// *.rotary_emb.inv_freq) or any shape differs, throws one WeightLoadError listing all of them.
/// Not thread-safe with respect to `module`.
void load_checkpoint(torch::nn::Module& module, const std::string& dir);

/// Same, from explicit files (used by load_checkpoint and tests).
void load_checkpoint_files(torch::nn::Module& module, const CheckpointFiles& files);

/// What a checkpoint holds, read from the file headers only (no tensor data).
struct CheckpointSummary {
  int64_t num_tensors = 0;
  int64_t num_parameters = 0;                   // elements over all tensors
  std::map<std::string, int64_t> dtype_counts;  // "bfloat16" -> tensors of that type
  /// Mismatches against `module` (missing / unexpected / wrong shape), one line each.
  std::vector<std::string> problems;
};

/// Compares the checkpoint's names and shapes with `module`'s parameters without reading any
/// tensor data (the module may live on the meta device). File-level errors (corrupt headers)
/// are thrown as WeightLoadError.
CheckpointSummary summarize_checkpoint(torch::nn::Module& module, const CheckpointFiles& files);

/// Writes every parameter of `module` in `dir` as Hugging Face does: model.safetensors, or, when
/// the total exceeds max_shard_bytes (> 0), shards model-0000i-of-0000n.safetensors in
/// parameter order plus model.safetensors.index.json. Values are converted to `dtype`
/// (e.g. at::kBFloat16). Throws WeightLoadError when a file cannot be written.
void save_checkpoint(torch::nn::Module& module, const std::string& dir, at::ScalarType dtype,
                     int64_t max_shard_bytes = 0);

/// Fills every parameter with deterministic random values (normal(0, 1/sqrt(fan_in)) for
/// matrices, uniform(0.5, 1.5) for norm/scale vectors, normal(0, 0.1) for biases), e.g. for
/// benchmarks and self-made test checkpoints. Runs on the parameters' device.
void init_random_parameters(torch::nn::Module& module, uint64_t seed);

}  // namespace ivs::model
