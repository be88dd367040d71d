// SPDX-License-Identifier: Apache-2.0
// QLLaMA: LLaMA-7B with cross-attention to the vision tokens in every
// `cross_attention_frequency`-th layer, applied to the first `num_query_token` positions.
// Module and parameter names equal the checkpoint keys under "qllama.".
#pragma once

#include <array>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/modulelist.h>

#include "model/internvl/config.h"
#include "model/internvl/layers.h"

namespace ivs::model {

/// Post-RoPE keys and values of every layer for incremental decoding.
/// keys[l], values[l]: [B, H, S, D]; empty before the first step.
struct KVCache {
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;

  int64_t length() const;
  /// Keeps rows `index` ([B'] int64) of every cached tensor (beam reordering / expansion).
  void select_rows(const at::Tensor& index);
  /// Drops the first `n` positions of every cached tensor.
  void trim_left(int64_t n);
  /// The rows of `a` followed by the rows of `b`; both hold the same number of positions
  /// (tensors of an empty cache are undefined and stay so).
  static KVCache concat_rows(const KVCache& a, const KVCache& b);
};

/// The cache of beam-search decoding, where every beam of a request continues the same prefix
/// (query tokens + prompt): the prefix is kept once per request, only the generated tokens per
/// beam row. Beam reordering then moves the short suffix alone, and the prefix takes 1/beams of
/// the memory it would take per row.
struct BeamKVCache {
  KVCache prefix;  // [requests, H, T, D] per layer, T equal for all requests
  KVCache suffix;  // [requests * beams, H, G, D] per layer; G = 0: empty (undefined tensors)
  int64_t beams = 1;
};

/// One decode token per beam row (see QLlamaModelImpl::decode).
struct QLlamaDecodeInputs {
  at::Tensor inputs_embeds;  // [rows, 1, H], rows = requests * beams, beams of a request adjacent
  at::Tensor position_ids;   // [rows, 1] int64
  std::optional<at::Tensor> suffix_allowed;  // bool [rows, 1, 1, G + 1]; nullopt = all
};

/// How a forward pass lets positions see each other (model/README.md, "How QLLaMA is run").
struct QLlamaInputs {
  at::Tensor inputs_embeds;           // [B, T, H]
  at::Tensor position_ids;            // [B, T] int64
  std::optional<at::Tensor> allowed;  // bool, [B, 1, T, S] (S = cache + T); nullopt = all
  std::optional<at::Tensor> vision;   // InternViT last_hidden_state [B, N, Cv] for cross-attn
};

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const QLlamaConfig& config, const at::TensorOptions& options);
  /// x [B, T, H]; cos/sin [B, 1, T, D] in x's dtype. Appends k/v to *cache_k/*cache_v when given.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const std::optional<at::Tensor>& allowed, at::Tensor* cache_k,
                     at::Tensor* cache_v) const;

  /// One token per row attending over its request's prefix and its own suffix (to which this
  /// step's key and value are appended). x [rows, 1, H]; prefix_k/v [rows / beams, H, T, D].
  at::Tensor decode(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                    const at::Tensor& prefix_k, const at::Tensor& prefix_v, at::Tensor& suffix_k,
                    at::Tensor& suffix_v, const std::optional<at::Tensor>& suffix_allowed,
                    int64_t beams) const;
  /// One [3H, H] product for q, k and v from now on (fuse_linear_weights).
  void fuse_projections();

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};  // [H, H]
  at::Tensor qkv_weight;  // [3H, H] once fused: views of it are q/k/v_proj's weights
  int64_t num_heads;

 private:
  // q, k (both after RoPE) and v, split into heads: [B, heads, T, D].
  std::array<at::Tensor, 3> project(const at::Tensor& x, const at::Tensor& cos,
                                    const at::Tensor& sin) const;
};
TORCH_MODULE(LlamaAttention);

/// Query tokens attend to the (RMS-normalised) vision tokens; no mask, no RoPE.
class LlamaCrossAttentionImpl : public torch::nn::Module {
 public:
  LlamaCrossAttentionImpl(const QLlamaConfig& config, int64_t vision_width,
                          const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& queries, const at::Tensor& vision) const;
  /// One [2H, Cv] product for k and v from now on.
  void fuse_projections();

  Linear q_proj{nullptr};  // [H, H]
  Linear k_proj{nullptr};  // [H, Cv]
  Linear v_proj{nullptr};  // [H, Cv]
  at::Tensor kv_weight;    // [2H, Cv] once fused
  Linear o_proj{nullptr};  // [H, H]
  RMSNorm norm1{nullptr};  // [H], on the queries
  RMSNorm norm2{nullptr};  // [Cv], on the vision tokens
  int64_t num_heads;
};
TORCH_MODULE(LlamaCrossAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  LlamaMLPImpl(const QLlamaConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;  // down(silu(gate(x)) * up(x))
  /// One [2I, H] product for gate and up from now on.
  void fuse_projections();

  Linear gate_proj{nullptr}, up_proj{nullptr};  // [I, H]
  at::Tensor gate_up_weight;                    // [2I, H] once fused
  Linear down_proj{nullptr};                    // [H, I]
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const QLlamaConfig& config, bool with_cross_attention, int64_t vision_width,
                        int64_t num_query_token, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const QLlamaInputs& inputs, at::Tensor* cache_k, at::Tensor* cache_v) const;
  /// A decode step (no cross-attention: it only touches query-token positions).
  at::Tensor decode(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                    const QLlamaDecodeInputs& inputs, BeamKVCache& cache, size_t layer) const;

  LlamaAttention self_attn{nullptr};
  LlamaCrossAttention cross_attn{nullptr};  // only in layers i % frequency == 0
  LlamaMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr};
  RMSNorm post_attention_layernorm{nullptr};
  int64_t num_query_token;
};
TORCH_MODULE(LlamaDecoderLayer);

/// The decoder stack ("qllama.model"): embeddings, layers, final norm, and the RoPE tables.
class QLlamaModelImpl : public torch::nn::Module {
 public:
  QLlamaModelImpl(const QLlamaConfig& config, int64_t vision_width, int64_t num_query_token,
                  const at::TensorOptions& options);
  /// Runs all layers and the final RMSNorm: [B, T, H]. With a cache, attends over the cached
  /// positions too and appends this step's keys and values. Callers keep positions below
  /// config.max_position_embeddings (checked on the host there, to avoid a device sync here).
  at::Tensor forward(const QLlamaInputs& inputs, KVCache* cache = nullptr) const;
  /// One decode step for beam rows over a BeamKVCache (appends this step's keys and values to
  /// its suffix): [rows, 1, H], final-normed. Equal to forward() over the concatenated cache.
  at::Tensor decode(const QLlamaDecodeInputs& inputs, BeamKVCache& cache) const;
  /// Fuses the projections that read one input in every layer (self-attention q/k/v,
  /// cross-attention k/v, MLP gate/up) for inference. Results equal the unfused ones up to
  /// floating-point summation order.
  void fuse_projections();

  Embedding embed_tokens{nullptr};  // [V, H]
  torch::nn::ModuleList layers;
  std::vector<LlamaDecoderLayerImpl*> layer_ptrs;  // the same layers, typed, for forward
  RMSNorm norm{nullptr};
  at::Tensor rope_cos;  // [max_positions, D] buffer, float32 values cast to the model dtype
  at::Tensor rope_sin;
  QLlamaConfig config;
};
TORCH_MODULE(QLlamaModel);

/// "qllama": the decoder plus the (untied) LM head.
class QLlamaForCausalLMImpl : public torch::nn::Module {
 public:
  QLlamaForCausalLMImpl(const QLlamaConfig& config, int64_t vision_width, int64_t num_query_token,
                        const at::TensorOptions& options);

  QLlamaModel model{nullptr};
  Linear lm_head{nullptr};  // [V, H], no bias
};
TORCH_MODULE(QLlamaForCausalLM);

}  // namespace ivs::model
