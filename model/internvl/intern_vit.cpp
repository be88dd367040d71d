// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/intern_vit.h"

#include <cmath>

#include <ATen/ATen.h>

namespace ivs::model {

PatchEmbeddingImpl::PatchEmbeddingImpl(int64_t channels, int64_t width, int64_t patch_,
                                       const at::TensorOptions& options)
    : patch(patch_) {
  weight = register_parameter("weight", at::empty({width, channels, patch, patch}, options));
  bias = register_parameter("bias", at::empty({width}, options));
}

at::Tensor PatchEmbeddingImpl::forward(const at::Tensor& pixel_values) const {
  return at::conv2d(pixel_values, weight, bias, {patch, patch});
}

InternVisionEmbeddingsImpl::InternVisionEmbeddingsImpl(const VisionConfig& config,
                                                       int64_t image_size,
                                                       const at::TensorOptions& options) {
  const int64_t c = config.hidden_size;
  const int64_t grid = image_size / config.patch_size;
  class_embedding = register_parameter("class_embedding", at::empty({1, 1, c}, options));
  patch_embedding = register_module(
      "patch_embedding", PatchEmbedding(config.num_channels, c, config.patch_size, options));
  position_embedding =
      register_parameter("position_embedding", at::empty({1, grid * grid + 1, c}, options));
}

at::Tensor InternVisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) const {
  const auto b = pixel_values.size(0);
  auto patches = patch_embedding->forward(pixel_values.to(class_embedding.options()));
  patches = patches.flatten(2).transpose(1, 2);  // [B, N, C], row-major over the grid
  auto tokens = at::cat({class_embedding.expand({b, 1, -1}), patches}, 1);
  return tokens + position_embedding;
}

InternAttentionImpl::InternAttentionImpl(const VisionConfig& config,
                                         const at::TensorOptions& options)
    : num_heads(config.num_attention_heads) {
  const int64_t c = config.hidden_size;
  qkv = register_module("qkv", Linear(c, 3 * c, config.qkv_bias, options));
  if (config.qk_normalization) {
    q_norm = register_module("q_norm", RMSNorm(c, config.layer_norm_eps, options));
    k_norm = register_module("k_norm", RMSNorm(c, config.layer_norm_eps, options));
  }
  proj = register_module("proj", Linear(c, c, true, options));
}

at::Tensor InternAttentionImpl::forward(const at::Tensor& x) const {
  auto parts = qkv->forward(x).chunk(3, -1);  // each [B, N, C]
  auto q = parts[0], k = parts[1], v = parts[2];
  if (q_norm) {  // normalised over the whole width, before the head split
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  auto out =
      attention(split_heads(q, num_heads), split_heads(k, num_heads), split_heads(v, num_heads));
  return proj->forward(merge_heads(out));
}

InternMLPImpl::InternMLPImpl(const VisionConfig& config, const at::TensorOptions& options) {
  fc1 = register_module("fc1", Linear(config.hidden_size, config.intermediate_size, true, options));
  fc2 = register_module("fc2", Linear(config.intermediate_size, config.hidden_size, true, options));
}

at::Tensor InternMLPImpl::forward(const at::Tensor& x) const {
  return fc2->forward(at::gelu(fc1->forward(x)));
}

InternVisionEncoderLayerImpl::InternVisionEncoderLayerImpl(const VisionConfig& config,
                                                           const at::TensorOptions& options) {
  const int64_t c = config.hidden_size;
  attn = register_module("attn", InternAttention(config, options));
  mlp = register_module("mlp", InternMLP(config, options));
  norm1 = register_module("norm1", RMSNorm(c, config.layer_norm_eps, options));
  norm2 = register_module("norm2", RMSNorm(c, config.layer_norm_eps, options));
  ls1 = register_parameter("ls1", at::empty({c}, options));
  ls2 = register_parameter("ls2", at::empty({c}, options));
}

at::Tensor InternVisionEncoderLayerImpl::forward(const at::Tensor& x) const {
  auto h = x + attn->forward(norm1->forward(x)) * ls1;
  return h + mlp->forward(norm2->forward(h)) * ls2;
}

InternVisionEncoderImpl::InternVisionEncoderImpl(const VisionConfig& config,
                                                 const at::TensorOptions& options) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    InternVisionEncoderLayer layer(config, options);
    layer_ptrs.push_back(layer.get());
    layers->push_back(layer);
  }
}

at::Tensor InternVisionEncoderImpl::forward(at::Tensor x) const {
  for (const auto* layer : layer_ptrs) x = layer->forward(x);
  return x;
}

InternVisionModelImpl::InternVisionModelImpl(const VisionConfig& config_, int64_t image_size,
                                             const at::TensorOptions& options)
    : config(config_) {
  embeddings = register_module("embeddings", InternVisionEmbeddings(config, image_size, options));
  encoder = register_module("encoder", InternVisionEncoder(config, options));
}

at::Tensor InternVisionModelImpl::forward(const at::Tensor& pixel_values) const {
  const auto size = (embeddings->position_embedding.size(1) - 1);  // patches = grid^2
  const auto side =
      static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(size)))) * config.patch_size;
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == 3 &&
                  pixel_values.size(2) == side && pixel_values.size(3) == side,
              "InternViT expects pixel_values [B, 3, ", side, ", ", side, "], got ",
              pixel_values.sizes());
  return encoder->forward(embeddings->forward(pixel_values));
}

}  // namespace ivs::model
