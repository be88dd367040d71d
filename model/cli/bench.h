// SPDX-License-Identifier: Apache-2.0
// What the parts of `internvl bench` share: the options, the model under test, one measurement
// and the timing helpers. Private to the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/TensorOptions.h>

#include "model/cli/model_options.h"
#include "model/internvl/generation.h"
#include "model/internvl/intern_vit.h"
#include "model/internvl/join_policy.h"
#include "model/internvl/internvl.h"
#include "model/internvl/placement.h"

namespace ivs::cli {

using Clock = std::chrono::steady_clock;

// "English caption:" with BOS (model/README.md, "Tokenizer"); presets have no tokenizer.
inline const std::vector<int64_t> kCaptionPromptIds = {1, 4223, 5777, 683, 29901};

struct BenchOptions {
  ModelOptions model;        // --model, --device, --dtype, --json
  bool model_given = false;  // --model on the command line (not only $INTERNVL_MODEL_DIR)
  bool tasks_given = false;  // --tasks on the command line
  std::string preset;        // tiny | full; empty: --model when set, else by device
  std::string batches;       // empty: "1,8" on CPU, "1,8,64" on CUDA
  std::string tasks = "c,g,caption";
  int iterations = 10;
  int warmup = 2;
  model::GenerationConfig generation;
  double peak_tflops = 0.0;  // 0: not given
  int64_t matmul_size = 0;   // 0: 4096 on CUDA, 1024 on CPU
  uint64_t seed = 0;
  bool unfused = false;  // presets only: keep q/k/v, k/v and gate/up as separate products (A/B)
  // tasks c and g replayed from CUDA graphs (model/internvl/image_graphs.h)
  bool cuda_graphs = false;
  model::JoinPolicy join;  // caption-streams: when finished streams' next requests join
};

// The model under test, from a preset with random weights or from a checkpoint.
struct BenchModel {
  std::string source;  // "preset:tiny", "preset:full" or the checkpoint directory
  model::InternVLConfig config;
  model::Placement placement;
  model::InternVLModel internvl{nullptr};  // absent for vision-only checkpoints
  model::InternVisionModel vision{nullptr};
  std::vector<int64_t> prompt_ids = kCaptionPromptIds;
};

// One task at one batch size: wall time of each timed call and the work it did.
struct Measurement {
  std::string task;
  int64_t batch = 0;
  std::vector<double> seconds;  // per call of `batch` images
  double flops_per_image = 0.0;
  bool output_finite = true;            // random weights can overflow; flagged, not hidden
  int64_t generated_tokens = 0;         // captioning: over the batch, EOS included
  int64_t decode_steps = 0;             // captioning: lower bound from the longest caption
  std::vector<double> request_seconds;  // caption-streams: each timed request, arrival to caption
  std::optional<double> graph_relative_error;  // --cuda-graphs: ||replayed - eager|| / ||eager||
};

void synchronize(const c10::Device& device);
double elapsed_seconds(Clock::time_point start);
at::TensorOptions tensor_options(const model::Placement& p);
/// Random, not zero, pixels [batch, 3, S, S] on the model's device and dtype.
at::Tensor random_pixels(const BenchModel& m, int64_t batch);

// Runs `fn` `warmup` times untimed, then `iterations` times, each timed between device syncs.
template <typename F>
std::vector<double> time_calls(F&& fn, int warmup, int iterations, const c10::Device& device) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    fn();
    synchronize(device);
    seconds.push_back(elapsed_seconds(start));
  }
  return seconds;
}

/// Captions of `batch` random images per timed call; the ViT runs inside the call, as a caption
/// request would.
Measurement bench_captions(const BenchModel& m, int64_t batch, const BenchOptions& o);

/// `streams` clients that each keep one caption request outstanding (a finished one asks again at
/// once; its next request joins the decode when `o.join` says), decoded by one continuously
/// batched CaptionBatch. A "call" is the time in which `streams` captions complete in steady
/// state, so images/s = captions/s.
Measurement bench_caption_streams(const BenchModel& m, int64_t streams, const BenchOptions& o);

}  // namespace ivs::cli
