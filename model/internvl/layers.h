// SPDX-License-Identifier: Apache-2.0
// Building blocks shared by InternViT, QLLaMA and the attention-pooling heads. Parameters are
// registered under the checkpoint's names ("weight", "bias") so that named_parameters() of a
// composed model equals the checkpoint's key set.
#pragma once

#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace ivs::model {

/// y = x W^T (+ b). weight [out, in], bias [out].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias,
             const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] or undefined
};
TORCH_MODULE(Linear);

/// Makes the weights of `parts` (bias-free Linears reading the same input) views into one
/// [sum of outputs, in] matrix and returns it, so that one matrix product computes them all
/// (split its result along the last dimension): fewer, larger GEMMs, one kernel launch instead of
/// several. Parameter names, shapes and values stay as they are; only their storage is shared.
/// For inference, after loading and as the last step: the fused matrix is not a registered
/// parameter, so a later module->to(...) or set_data would leave it behind (training keeps
/// separate parameters).
at::Tensor fuse_linear_weights(const std::vector<Linear>& parts);

/// RMSNorm as InternViT and LLaMA define it: statistics in float32, result cast back to the
/// input dtype, then scaled by `weight`. No bias, no mean subtraction.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  at::Tensor weight;  // [dim]
  double eps;
};
TORCH_MODULE(RMSNorm);

/// Standard LayerNorm with weight and bias, computed in float32.
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  at::Tensor weight;  // [dim]
  at::Tensor bias;    // [dim]
  double eps;
};
TORCH_MODULE(LayerNorm);

/// Token embedding table: weight [vocab, dim].
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids) const;

  at::Tensor weight;  // [vocab, dim]
};
TORCH_MODULE(Embedding);

/// Scaled dot-product attention, the one place attention is computed.
/// q [B, H, Tq, D], k and v [B, H, Tk, D]; `allowed` (optional, bool, broadcastable to
/// [B, H, Tq, Tk]) is true where a query may attend to a key. Scale 1/sqrt(D); softmax in
/// float32; result [B, H, Tq, D] in q's dtype. Uses the fused kernels of LibTorch 2.x where
/// available (see torch_compat.h).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::optional<at::Tensor>& allowed = std::nullopt);

/// The float32 scores of attention()'s explicit path: q kᵀ in the inputs' dtype, then float32
/// times 1/sqrt(D), positions not `allowed` set to the lowest finite float. For attention that
/// splits its keys (QLLaMA's beam decoding) and must score them exactly as attention() does.
at::Tensor attention_scores(const at::Tensor& q, const at::Tensor& k,
                            const std::optional<at::Tensor>& allowed = std::nullopt);

/// [B, T, H*D] -> [B, H, T, D]
at::Tensor split_heads(const at::Tensor& x, int64_t num_heads);

/// [B, H, T, D] -> [B, T, H*D]
at::Tensor merge_heads(const at::Tensor& x);

}  // namespace ivs::model
