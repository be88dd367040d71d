// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/layers.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "model/common/torch_compat.h"

namespace ivs::model {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias,
                       const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, options));
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) const { return at::linear(x, weight, bias); }

at::Tensor fuse_linear_weights(const std::vector<Linear>& parts) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> weights;
  for (const auto& part : parts) {
    TORCH_CHECK(!part->bias.defined(), "only bias-free projections are fused");
    weights.push_back(part->weight);
  }
  auto fused = at::cat(weights, 0);
  int64_t row = 0;
  for (const auto& part : parts) {
    const auto rows = part->weight.size(0);
    part->weight.set_data(fused.narrow(0, row, rows));  // the registered parameter is this tensor
    row += rows;
  }
  return fused;
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", at::empty({dim}, options));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) const {
  const auto x32 = x.to(at::kFloat);
  const auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps_, const at::TensorOptions& options)
    : eps(eps_) {
  weight = register_parameter("weight", at::empty({dim}, options));
  bias = register_parameter("bias", at::empty({dim}, options));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) const {
  const auto y = at::layer_norm(x.to(at::kFloat), {x.size(-1)}, weight.to(at::kFloat),
                                bias.to(at::kFloat), eps);
  return y.to(x.scalar_type());
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({vocab, dim}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) const {
  return at::embedding(weight, ids);
}

at::Tensor split_heads(const at::Tensor& x, int64_t num_heads) {
  const auto b = x.size(0), t = x.size(1);
  return x.view({b, t, num_heads, x.size(2) / num_heads}).transpose(1, 2);
}

at::Tensor merge_heads(const at::Tensor& x) {
  const auto b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  return x.transpose(1, 2).reshape({b, t, h * d});
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::optional<at::Tensor>& allowed) {
#if INTERNVL_HAVE_SDPA
  // Reduced-precision CUDA runs take the fused kernels (softmax accumulates in float32 inside).
  // CPU and float32 keep the explicit path below, which is what the parity tests pin.
  if (q.is_cuda() && q.scalar_type() != at::kFloat) {
    return allowed ? at::scaled_dot_product_attention(q, k, v, *allowed)
                   : at::scaled_dot_product_attention(q, k, v);
  }
#endif
  return at::matmul(at::softmax(attention_scores(q, k, allowed), -1).to(v.scalar_type()), v);
}

at::Tensor attention_scores(const at::Tensor& q, const at::Tensor& k,
                            const std::optional<at::Tensor>& allowed) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  if (allowed.has_value()) {
    // The lowest finite float rather than -inf keeps a fully masked row finite, as the
    // reference's clamp to finfo.min does.
    scores = scores.masked_fill(allowed->logical_not(), std::numeric_limits<float>::lowest());
  }
  return scores;
}

}  // namespace ivs::model
