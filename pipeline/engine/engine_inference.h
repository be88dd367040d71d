// SPDX-License-Identifier: Apache-2.0
// The model calls behind the Engine's workers, one function per task and batch.
// Private to the engine; declared without LibTorch so that engine.cpp's
// batching code stays model-agnostic.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/engine/engine.h"

namespace ivs::model {
class CaptionBatch;
class ImageEmbeddingGraphs;
}  // namespace ivs::model

namespace ivs::pipeline {

class Nv12Stager;

/// One image of a batch, borrowed for the call: preprocessed pixels (3 x H x W floats, checked
/// by the caller) or an NV12 picture (checked at submit), whose keepalive the call drops once the
/// picture is preprocessed.
struct BatchImage {
  const std::vector<float>* pixels = nullptr;
  Nv12Picture* nv12 = nullptr;
};
using PixelBatch = std::vector<BatchImage>;

/// Image embeddings of whole batches; NV12 pictures are resized on the shortest edge and
/// centre-cropped, as the checkpoint's image processor does. Call under c10::InferenceMode, from
/// one thread.
class EmbeddingRunner {
 public:
  /// `cuda_graphs` (EngineOptions::cuda_graphs): capture graphs of both modes for batches of
  /// model::graph_batch_sizes(max_batch) now, and replay them. Where that cannot be (a CPU model,
  /// a LibTorch without CUDA, a failed capture), `log` says why and batches run eagerly.
  EmbeddingRunner(const model::LoadedModel& model, bool cuda_graphs, int64_t max_batch,
                  std::function<void(EngineLogLevel, const std::string&)> log);
  ~EmbeddingRunner();
  EmbeddingRunner(const EmbeddingRunner&) = delete;
  EmbeddingRunner& operator=(const EmbeddingRunner&) = delete;

  /// L2-normalised float32 embeddings, one per image, in order. A batch whose graph replay
  /// throws runs eagerly, and graphs stay off from then on (logged). Throws
  /// model::InputError for a vision-only checkpoint, or whatever the model throws.
  std::vector<std::vector<float>> run(const PixelBatch& images, EmbeddingMode mode);

  /// Whether batches are replayed from CUDA graphs.
  bool graphs_on() const { return graphs_ != nullptr; }

 private:
  const model::LoadedModel& model_;
  std::unique_ptr<Nv12Stager> stager_;
  std::unique_ptr<model::ImageEmbeddingGraphs> graphs_;
  std::function<void(EngineLogLevel, const std::string&)> log_;
};

/// What a continuing task's step hands back: the requests (by ticket) that finished, those that
/// failed alone, and the error that ended every other live request when the model failed.
template <class Result>
struct StepOutcome {
  std::vector<std::pair<uint64_t, Result>> finished;
  std::vector<std::pair<uint64_t, std::exception_ptr>> failed;
  std::exception_ptr error;
};

/// Continuous caption decoding (model::CaptionBatch): admit() prefills a group while earlier
/// requests decode; step() advances every live request by one token. Requests sharing a decoding
/// batch share their settings. Call under c10::InferenceMode, from one thread.
class CaptionRunner {
 public:
  /// NV12 pictures are squashed to the crop size, as the caption element's preprocessing.
  explicit CaptionRunner(const model::LoadedModel& model);
  ~CaptionRunner();
  CaptionRunner(const CaptionRunner&) = delete;
  CaptionRunner& operator=(const CaptionRunner&) = delete;

  /// Starts one caption per image. `settings` must equal those of the live requests (when there
  /// are any). Throws when the prefill fails; the group is then not admitted and the live
  /// requests go on.
  void admit(const PixelBatch& images, const CaptionSettings& settings,
             const std::vector<uint64_t>& tickets);
  /// One decode step for every live request; results carry no timing (the worker's). Does not
  /// throw: a caption that cannot be decoded to text fails alone, a model failure fails all.
  StepOutcome<CaptionResult> step();
  /// Forgets every live request (the worker fails them).
  void abort();
  size_t live() const;

 private:
  const model::LoadedModel& model_;
  std::unique_ptr<Nv12Stager> stager_;
  CaptionSettings settings_;
  std::unique_ptr<model::CaptionBatch> batch_;
  std::map<int64_t, uint64_t> tickets_;  // CaptionBatch request id -> worker ticket
};

/// Throws model::InputError when `settings` are out of range
/// (model::GenerationConfig rules).
void validate_caption_settings(const CaptionSettings& settings);

/// The model's CUDA device index (0 for "cuda"), or -1 on the CPU.
int cuda_index(const model::LoadedModel& model);

/// Sets the calling thread's LibTorch intra-op threads (OpenMP keeps the count
/// per thread).
void set_inference_threads(int threads);

}  // namespace ivs::pipeline
