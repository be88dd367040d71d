// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/image_graphs.h"

#include <string>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "model/common/torch_compat.h"

#if INTERNVL_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace ivs::model {

struct ImageEmbeddingGraphs::Graph {
#if INTERNVL_TORCH_CUDA
  at::cuda::CUDAGraph graph;
#endif
  at::Tensor input;   // the captured forward reads the pixels from here
  at::Tensor output;  // and writes the embeddings here (in the shared graph pool)
};

bool cuda_graphs_supported() { return INTERNVL_TORCH_CUDA != 0; }

std::vector<int64_t> graph_batch_sizes(int64_t max_batch) {
  std::vector<int64_t> sizes;
  for (int64_t b = 1; b < max_batch; b *= 2) sizes.push_back(b);
  if (max_batch >= 1) sizes.push_back(max_batch);
  return sizes;
}

ImageEmbeddingGraphs::ImageEmbeddingGraphs(const InternVLModelImpl& model,
                                           const std::vector<EmbeddingMode>& modes,
                                           const std::vector<int64_t>& batch_sizes)
    : model_(model) {
  const auto& reference = model.query_tokens;  // the model's device and dtype
  if (!cuda_graphs_supported()) {
    throw InputError(
        std::string("CUDA graphs need a LibTorch built with CUDA; this build uses LibTorch ") +
        compat::torch_version() + " without it: turn CUDA graphs off");
  }
  if (!reference.device().is_cuda()) {
    throw InputError("CUDA graphs need the model on a CUDA device, not " +
                     reference.device().str() + ": turn CUDA graphs off or run the model on CUDA");
  }
#if INTERNVL_TORCH_CUDA
  const c10::InferenceMode inference;  // whichever thread builds this: no autograd state
  const auto device = reference.device().index();
  const c10::cuda::CUDAGuard on_device(device);
  const auto size = model.config.image_size();
  // Captures run on one side stream (never the legacy default stream, which cannot be captured)
  // and share one pool. Pool streams are non-blocking: work other threads put on the default
  // stream meanwhile neither waits for the capture nor breaks it.
  auto side = c10::cuda::getStreamFromPool(false, device);
  const auto pool = at::cuda::graph_pool_handle();
  auto current = c10::cuda::getCurrentCUDAStream(device);
  for (const auto mode : modes) {
    for (const auto batch : batch_sizes) {
      auto graph = std::make_unique<Graph>();
      graph->input = at::zeros({batch, 3, size, size}, reference.options());
      current.synchronize();  // the side stream starts once the input is written
      const c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < 3; ++i) (void)model_.encode_image(graph->input, mode);
      side.synchronize();
#if INTERNVL_HAVE_CAPTURE_MODE
      // Thread-local: the other engine worker (captions) goes on using CUDA meanwhile.
      graph->graph.capture_begin(pool, cudaStreamCaptureModeThreadLocal);
#else
      graph->graph.capture_begin(pool);
#endif
      try {
        graph->output = model_.encode_image(graph->input, mode);
      } catch (...) {
        try {
          graph->graph.capture_end();
        } catch (...) {  // the forward's error is the one to report
        }
        throw;
      }
      graph->graph.capture_end();
      graphs_[{mode, batch}] = std::move(graph);
    }
  }
#else
  (void)modes;
  (void)batch_sizes;
#endif
}

ImageEmbeddingGraphs::~ImageEmbeddingGraphs() = default;

std::optional<at::Tensor> ImageEmbeddingGraphs::encode_image(const at::Tensor& pixels,
                                                             EmbeddingMode mode) {
  const auto batch = pixels.size(0);
  const auto fits = graphs_.lower_bound({mode, batch});
  if (fits == graphs_.end() || fits->first.first != mode) return std::nullopt;
  auto& graph = *fits->second;
  TORCH_CHECK(pixels.dim() == 4 && pixels.sizes().slice(1) == graph.input.sizes().slice(1) &&
                  pixels.device() == graph.input.device() &&
                  pixels.scalar_type() == graph.input.scalar_type(),
              "CUDA graph input must be [B, 3, S, S] like ", graph.input.sizes(), " on ",
              graph.input.device(), " in ", graph.input.scalar_type(), ", got ", pixels.sizes(),
              " on ", pixels.device(), " in ", pixels.scalar_type());
  // On the current stream, which the replay also uses. Rows past `batch` hold zeros or an earlier
  // batch's pixels: finite, and their embeddings (rows are independent) are dropped.
  graph.input.narrow(0, 0, batch).copy_(pixels);
#if INTERNVL_TORCH_CUDA
  const c10::cuda::CUDAGuard on_device(graph.input.device().index());
  graph.graph.replay();
#endif
  return graph.output.narrow(0, 0, batch).clone();  // the next replay overwrites the output
}

}  // namespace ivs::model
