// SPDX-License-Identifier: Apache-2.0
// InternVL-C/-G image embeddings replayed from CUDA graphs: one graph per (mode, batch size),
// captured the first time that pair comes, so that a batch costs one graph launch instead of
// the ~1,500 kernel launches of an eager forward (48 ViT and 32 QLLaMA layers), which at small
// batches take as long on the CPU as the GPU takes to run them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include <ATen/core/Tensor.h>

#include "model/internvl/internvl.h"

namespace ivs::model {

/// Whether this build can capture CUDA graphs: it was compiled against a LibTorch with CUDA.
bool cuda_graphs_supported();

/// The graphs of one model's image embeddings. Use from one thread at a time; the model must
/// outlive this and keep its weights (graphs hold their addresses).
class ImageEmbeddingGraphs {
 public:
  /// Throws InputError when this build has no CUDA graphs or the model is not on a CUDA device.
  explicit ImageEmbeddingGraphs(const InternVLModelImpl& model);
  ~ImageEmbeddingGraphs();
  ImageEmbeddingGraphs(const ImageEmbeddingGraphs&) = delete;
  ImageEmbeddingGraphs& operator=(const ImageEmbeddingGraphs&) = delete;

  /// What model.encode_image(pixels, mode) returns ([B, E] float32, a tensor of its own), from
  /// the graph of pixels' batch size. A new (mode, B) is first run eagerly three times on a side
  /// stream (lazy initialisation such as cuBLAS workspaces and kernel choices must not happen
  /// during a capture), then captured there; later calls copy the pixels into the graph's input
  /// and replay it on the current stream. pixels: [B, 3, S, S] on the model's device and dtype.
  at::Tensor encode_image(const at::Tensor& pixels, EmbeddingMode mode);

  /// Graphs captured so far.
  size_t size() const { return graphs_.size(); }

 private:
  struct Graph;
  std::unique_ptr<Graph> capture(const at::Tensor& pixels, EmbeddingMode mode) const;

  const InternVLModelImpl& model_;
  std::map<std::pair<EmbeddingMode, int64_t>, std::unique_ptr<Graph>> graphs_;
};

}  // namespace ivs::model
