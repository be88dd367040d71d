// SPDX-License-Identifier: Apache-2.0
// InternVL-C/-G image embeddings replayed from CUDA graphs: one graph per (mode, batch size), all
// captured up front, so that a batch costs one graph launch instead of the ~1,500 kernel launches
// of an eager forward (48 ViT and 32 QLLaMA layers), which at small batches take the CPU as long
// as the GPU takes to run them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/internvl/internvl.h"

namespace ivs::model {

/// Whether this build can capture CUDA graphs: it was compiled against a LibTorch with CUDA.
bool cuda_graphs_supported();

/// Powers of two up to `max_batch`, and `max_batch` itself: the graph sizes an engine whose
/// batches hold at most `max_batch` images captures (a batch runs in the smallest that fits).
std::vector<int64_t> graph_batch_sizes(int64_t max_batch);

/// The graphs of one model's image embeddings. Use under c10::InferenceMode, from one thread at a
/// time; the model must outlive this and keep its weights (graphs hold their addresses).
class ImageEmbeddingGraphs {
 public:
  /// Captures one graph per mode and batch size now, on a side stream of the model's device,
  /// each after three eager runs (lazy initialisation such as cuBLAS workspaces and kernel choices
  /// must not happen during a capture). All graphs share one memory pool: replays are serialised
  /// and each keeps its output allocated. Throws InputError when this build has no CUDA graphs or
  /// the model is not on a CUDA device, and whatever a capture throws.
  ImageEmbeddingGraphs(const InternVLModelImpl& model, const std::vector<EmbeddingMode>& modes,
                       const std::vector<int64_t>& batch_sizes);
  ~ImageEmbeddingGraphs();
  ImageEmbeddingGraphs(const ImageEmbeddingGraphs&) = delete;
  ImageEmbeddingGraphs& operator=(const ImageEmbeddingGraphs&) = delete;

  /// What model.encode_image(pixels, mode) returns ([B, E] float32, a tensor of its own), replayed
  /// on the current stream from the smallest graph of that mode with room for B images (its rows
  /// past B are dropped). nullopt when there is none: the caller runs the model eagerly.
  /// pixels: [B, 3, S, S] on the model's device and dtype.
  std::optional<at::Tensor> encode_image(const at::Tensor& pixels, EmbeddingMode mode);

  size_t size() const { return graphs_.size(); }

 private:
  struct Graph;

  const InternVLModelImpl& model_;
  std::map<std::pair<EmbeddingMode, int64_t>, std::unique_ptr<Graph>> graphs_;
};

}  // namespace ivs::model
