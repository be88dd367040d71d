// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/attention_pool.h"

#include <ATen/ATen.h>

namespace ivs::model {
namespace {
constexpr double kPoolLayerNormEps = 1e-5;
}  // namespace

PoolCrossAttentionImpl::PoolCrossAttentionImpl(int64_t dim, int64_t num_heads_, int64_t out_dim,
                                               const at::TensorOptions& options)
    : num_heads(num_heads_) {
  q = register_module("q", Linear(dim, dim, false, options));
  k = register_module("k", Linear(dim, dim, false, options));
  v = register_module("v", Linear(dim, dim, false, options));
  q_bias = register_parameter("q_bias", at::empty({dim}, options));
  k_bias = register_parameter("k_bias", at::empty({dim}, options));
  v_bias = register_parameter("v_bias", at::empty({dim}, options));
  proj = register_module("proj", Linear(dim, out_dim, true, options));
}

at::Tensor PoolCrossAttentionImpl::forward(const at::Tensor& q_in, const at::Tensor& k_in,
                                           const at::Tensor& v_in) const {
  const auto qh = split_heads(at::linear(q_in, q->weight, q_bias), num_heads);
  const auto kh = split_heads(at::linear(k_in, k->weight, k_bias), num_heads);
  const auto vh = split_heads(at::linear(v_in, v->weight, v_bias), num_heads);
  return proj->forward(merge_heads(attention(qh, kh, vh)));
}

AttentionPoolingBlockImpl::AttentionPoolingBlockImpl(int64_t dim, int64_t num_heads,
                                                     int64_t out_dim,
                                                     const at::TensorOptions& options) {
  norm1_q = register_module("norm1_q", LayerNorm(dim, kPoolLayerNormEps, options));
  norm1_k = register_module("norm1_k", LayerNorm(dim, kPoolLayerNormEps, options));
  norm1_v = register_module("norm1_v", LayerNorm(dim, kPoolLayerNormEps, options));
  cross_attn = register_module("cross_attn", PoolCrossAttention(dim, num_heads, out_dim, options));
}

at::Tensor AttentionPoolingBlockImpl::forward(const at::Tensor& x) const {
  const auto query = x.mean(1, /*keepdim=*/true);
  return cross_attn->forward(norm1_q->forward(query), norm1_k->forward(x), norm1_v->forward(x))
      .squeeze(1);
}

}  // namespace ivs::model
