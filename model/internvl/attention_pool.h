// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <ATen/core/Tensor.h>

#include "model/internvl/layers.h"

namespace ivs::model {

/// The q/k/v/out projections of an attention-pooling block ("P.cross_attn"): q, k, v have no
/// bias of their own; q_bias, k_bias, v_bias are separate parameters.
class PoolCrossAttentionImpl : public torch::nn::Module {
 public:
  PoolCrossAttentionImpl(int64_t dim, int64_t num_heads, int64_t out_dim,
                         const at::TensorOptions& options);
  /// q_in [B, 1, d], k_in and v_in [B, N, d] -> [B, 1, out_dim]
  at::Tensor forward(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const;

  Linear q{nullptr}, k{nullptr}, v{nullptr};  // [d, d], no bias
  at::Tensor q_bias, k_bias, v_bias;          // [d]
  Linear proj{nullptr};                       // [out_dim, d] + bias
  int64_t num_heads;
};
TORCH_MODULE(PoolCrossAttention);

/// `clip_projector` (d = vision width) and `clip_projector2` (d = QLLaMA width): one query, the
/// mean of all N tokens (class token included), attends to the tokens; separate LayerNorms
/// (eps 1e-5) for q, k and v; no residual, no MLP. [B, N, d] -> [B, out_dim].
class AttentionPoolingBlockImpl : public torch::nn::Module {
 public:
  AttentionPoolingBlockImpl(int64_t dim, int64_t num_heads, int64_t out_dim,
                            const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

  LayerNorm norm1_q{nullptr}, norm1_k{nullptr}, norm1_v{nullptr};
  PoolCrossAttention cross_attn{nullptr};
};
TORCH_MODULE(AttentionPoolingBlock);

}  // namespace ivs::model
