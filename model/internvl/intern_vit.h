// SPDX-License-Identifier: Apache-2.0
// InternViT-6B (InternVL v1 vision tower). Module and parameter names equal the checkpoint's
// keys (without the "vision_model." prefix that InternVL-14B adds).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/modulelist.h>

#include "model/internvl/config.h"
#include "model/internvl/layers.h"

namespace ivs::model {

/// Conv2d with kernel = stride = patch size: [B, 3, S, S] -> [B, C, S/P, S/P].
class PatchEmbeddingImpl : public torch::nn::Module {
 public:
  PatchEmbeddingImpl(int64_t channels, int64_t width, int64_t patch,
                     const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& pixel_values) const;

  at::Tensor weight;  // [C, 3, P, P]
  at::Tensor bias;    // [C]
  int64_t patch;
};
TORCH_MODULE(PatchEmbedding);

/// Patchify + class token + learned absolute positions.
class InternVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  InternVisionEmbeddingsImpl(const VisionConfig& config, int64_t image_size,
                             const at::TensorOptions& options);
  /// pixel_values [B, 3, S, S] -> [B, 1 + (S/P)^2, C]
  at::Tensor forward(const at::Tensor& pixel_values) const;

  at::Tensor class_embedding;     // [1, 1, C]
  at::Tensor position_embedding;  // [1, 1 + (S/P)^2, C]
  PatchEmbedding patch_embedding{nullptr};
};
TORCH_MODULE(InternVisionEmbeddings);

/// Self-attention with RMS-normalised q and k over the full width (all heads at once).
class InternAttentionImpl : public torch::nn::Module {
 public:
  InternAttentionImpl(const VisionConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;  // [B, N, C] -> [B, N, C]

  Linear qkv{nullptr};      // [3C, C], layout [q | k | v]
  RMSNorm q_norm{nullptr};  // [C] (only with qk_normalization)
  RMSNorm k_norm{nullptr};
  Linear proj{nullptr};  // [C, C] + bias
  int64_t num_heads;
};
TORCH_MODULE(InternAttention);

class InternMLPImpl : public torch::nn::Module {
 public:
  InternMLPImpl(const VisionConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  Linear fc1{nullptr};  // [I, C] + bias
  Linear fc2{nullptr};  // [C, I] + bias
};
TORCH_MODULE(InternMLP);

/// Pre-norm block with LayerScale: x += attn(norm1(x)) * ls1; x += mlp(norm2(x)) * ls2.
class InternVisionEncoderLayerImpl : public torch::nn::Module {
 public:
  InternVisionEncoderLayerImpl(const VisionConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  InternAttention attn{nullptr};
  InternMLP mlp{nullptr};
  RMSNorm norm1{nullptr};
  RMSNorm norm2{nullptr};
  at::Tensor ls1;  // [C]
  at::Tensor ls2;  // [C]
};
TORCH_MODULE(InternVisionEncoderLayer);

class InternVisionEncoderImpl : public torch::nn::Module {
 public:
  InternVisionEncoderImpl(const VisionConfig& config, const at::TensorOptions& options);
  at::Tensor forward(at::Tensor x) const;

  torch::nn::ModuleList layers;
  std::vector<InternVisionEncoderLayerImpl*> layer_ptrs;  // the same layers, typed, for forward
};
TORCH_MODULE(InternVisionEncoder);

/// The whole tower. forward returns last_hidden_state [B, N, C] (no final norm);
/// pooler_output is its row 0 (the class token).
class InternVisionModelImpl : public torch::nn::Module {
 public:
  /// image_size: the resolution the position table is built for (config.image_size, or
  /// force_image_size of a fine-tuned InternVL).
  InternVisionModelImpl(const VisionConfig& config, int64_t image_size,
                        const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& pixel_values) const;

  InternVisionEmbeddings embeddings{nullptr};
  InternVisionEncoder encoder{nullptr};
  VisionConfig config;
};
TORCH_MODULE(InternVisionModel);

}  // namespace ivs::model
