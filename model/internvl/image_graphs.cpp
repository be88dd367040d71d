// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/image_graphs.h"

#include <string>

#include <ATen/ATen.h>

#include "model/common/errors.h"
#include "model/common/torch_compat.h"

#if INTERNVL_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace ivs::model {

struct ImageEmbeddingGraphs::Graph {
#if INTERNVL_TORCH_CUDA
  at::cuda::CUDAGraph graph;
#endif
  at::Tensor input;   // the captured forward reads the pixels from here
  at::Tensor output;  // and writes the embeddings here (in the graph's private memory pool)
};

bool cuda_graphs_supported() { return INTERNVL_TORCH_CUDA != 0; }

ImageEmbeddingGraphs::ImageEmbeddingGraphs(const InternVLModelImpl& model) : model_(model) {
  if (!cuda_graphs_supported()) {
    throw InputError(std::string("CUDA graphs need a LibTorch built with CUDA; this build uses LibTorch ") +
                     compat::torch_version() + " without it: turn CUDA graphs off");
  }
  if (!model.query_tokens.device().is_cuda()) {
    throw InputError("CUDA graphs need the model on a CUDA device, not " + model.query_tokens.device().str() +
                     ": turn CUDA graphs off or run the model on CUDA");
  }
}

ImageEmbeddingGraphs::~ImageEmbeddingGraphs() = default;

at::Tensor ImageEmbeddingGraphs::encode_image(const at::Tensor& pixels, EmbeddingMode mode) {
  const auto& reference = model_.query_tokens;
  TORCH_CHECK(pixels.dim() == 4 && pixels.size(1) == 3 && pixels.device() == reference.device() &&
                  pixels.scalar_type() == reference.scalar_type(),
              "CUDA graph input must be [B, 3, S, S] on ", reference.device(), " in ", reference.scalar_type(),
              ", got ", pixels.sizes(), " on ", pixels.device(), " in ", pixels.scalar_type());
  auto& graph = graphs_[{mode, pixels.size(0)}];
  if (!graph) {
    graph = capture(pixels, mode);
  } else {
    TORCH_CHECK(pixels.sizes() == graph->input.sizes(), "CUDA graph input ", pixels.sizes(),
                " does not match the captured ", graph->input.sizes());
  }
  graph->input.copy_(pixels);  // on the current stream, which the replay below also uses
#if INTERNVL_TORCH_CUDA
  graph->graph.replay();
#endif
  return graph->output.clone();  // the next replay overwrites the graph's output
}

std::unique_ptr<ImageEmbeddingGraphs::Graph> ImageEmbeddingGraphs::capture(const at::Tensor& pixels,
                                                                            EmbeddingMode mode) const {
  auto graph = std::make_unique<Graph>();
  graph->input = pixels.clone();
#if INTERNVL_TORCH_CUDA
  const auto device = pixels.device().index();
  c10::cuda::device_synchronize();  // the side stream starts after the input is written
  {
    const c10::cuda::CUDAStreamGuard side(c10::cuda::getStreamFromPool(false, device));
    for (int i = 0; i < 3; ++i) (void)model_.encode_image(graph->input, mode);
    c10::cuda::getCurrentCUDAStream(device).synchronize();
#if INTERNVL_HAVE_CAPTURE_MODE
    // Thread-local: the other engine worker (captions) and decoders go on using CUDA meanwhile.
    graph->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
    graph->graph.capture_begin();
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
  }
  c10::cuda::device_synchronize();  // replays on the current stream come after the capture
#else
  (void)mode;
#endif
  return graph;
}

}  // namespace ivs::model
