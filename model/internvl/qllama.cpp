// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/qllama.h"

#include <array>

#include <ATen/ATen.h>

namespace ivs::model {
namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  const auto half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// RoPE tables as the reference builds them: float32 angles p * 10000^(-2j/D), duplicated to the
// full head width ("rotate-half" layout). The base is hard-coded upstream; config rope_* is ignored.
std::pair<at::Tensor, at::Tensor> rope_tables(int64_t positions, int64_t head_dim) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const auto inv_freq = 1.0 / at::pow(10000.0, at::arange(0, head_dim, 2, options) / head_dim);
  const auto freqs = at::outer(at::arange(positions, options), inv_freq);
  const auto emb = at::cat({freqs, freqs}, -1);  // [P, D]
  return {emb.cos(), emb.sin()};
}

}  // namespace

int64_t KVCache::length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }

void KVCache::select_rows(const at::Tensor& index) {
  for (auto* part : {&keys, &values}) {
    for (auto& t : *part) {
      if (t.defined()) t = t.index_select(0, index);
    }
  }
}

void KVCache::trim_left(int64_t n) {
  if (n == 0) return;
  for (auto* part : {&keys, &values}) {
    for (auto& t : *part) {
      if (t.defined()) t = t.narrow(2, n, t.size(2) - n);
    }
  }
}

KVCache KVCache::concat_rows(const KVCache& a, const KVCache& b) {
  TORCH_CHECK(a.keys.size() == b.keys.size() && a.length() == b.length(),
              "KV caches of different layers or lengths cannot be concatenated");
  KVCache out;
  for (size_t i = 0; i < a.keys.size(); ++i) {
    const bool empty = !a.keys[i].defined();  // equal lengths: both empty or both not
    out.keys.push_back(empty ? a.keys[i] : at::cat({a.keys[i], b.keys[i]}, 0));
    out.values.push_back(empty ? a.values[i] : at::cat({a.values[i], b.values[i]}, 0));
  }
  return out;
}

namespace {

// q [rows, H, 1, D] attends over its request's prefix [rows / beams, H, T, D] and its own suffix
// [rows, H, S, D] with one softmax over both: attention over the concatenated keys, computed as
// the reference does (scores from model-dtype products, softmax in float32) without building
// the concatenation. The beams of a request are the query positions of one prefix product.
at::Tensor prefix_suffix_attention(const at::Tensor& q, const at::Tensor& prefix_k,
                                   const at::Tensor& prefix_v, const at::Tensor& suffix_k,
                                   const at::Tensor& suffix_v,
                                   const std::optional<at::Tensor>& suffix_allowed, int64_t beams) {
  const auto rows = q.size(0), heads = q.size(1), d = q.size(3), t = prefix_k.size(2);
  const auto requests = rows / beams;
  const auto grouped = q.reshape({requests, beams, heads, d}).transpose(1, 2);  // [R, H, beams, D]
  const auto prefix_scores =
      attention_scores(grouped, prefix_k).transpose(1, 2).reshape({rows, heads, 1, t});
  const auto suffix_scores = attention_scores(q, suffix_k, suffix_allowed);
  const auto weights =
      at::softmax(at::cat({prefix_scores, suffix_scores}, -1), -1).to(prefix_v.scalar_type());
  const auto prefix_weights =
      weights.narrow(-1, 0, t).reshape({requests, beams, heads, t}).transpose(1, 2);
  const auto from_prefix =
      at::matmul(prefix_weights, prefix_v).transpose(1, 2).reshape({rows, heads, 1, d});
  return from_prefix + at::matmul(weights.narrow(-1, t, suffix_k.size(2)), suffix_v);
}

}  // namespace

LlamaAttentionImpl::LlamaAttentionImpl(const QLlamaConfig& config, const at::TensorOptions& options)
    : num_heads(config.num_attention_heads) {
  const int64_t h = config.hidden_size;
  q_proj = register_module("q_proj", Linear(h, h, false, options));
  k_proj = register_module("k_proj", Linear(h, h, false, options));
  v_proj = register_module("v_proj", Linear(h, h, false, options));
  o_proj = register_module("o_proj", Linear(h, h, false, options));
}

std::array<at::Tensor, 3> LlamaAttentionImpl::project(const at::Tensor& x, const at::Tensor& cos,
                                                      const at::Tensor& sin) const {
  at::Tensor q, k, v;
  if (qkv_weight.defined()) {
    const auto qkv = at::linear(x, qkv_weight).chunk(3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  }
  return {apply_rope(split_heads(q, num_heads), cos, sin),
          apply_rope(split_heads(k, num_heads), cos, sin), split_heads(v, num_heads)};
}

at::Tensor LlamaAttentionImpl::decode(const at::Tensor& x, const at::Tensor& cos,
                                      const at::Tensor& sin, const at::Tensor& prefix_k,
                                      const at::Tensor& prefix_v, at::Tensor& suffix_k,
                                      at::Tensor& suffix_v,
                                      const std::optional<at::Tensor>& suffix_allowed,
                                      int64_t beams) const {
  auto [q, k, v] = project(x, cos, sin);
  suffix_k = suffix_k.defined() ? at::cat({suffix_k, k}, 2) : k;
  suffix_v = suffix_v.defined() ? at::cat({suffix_v, v}, 2) : v;
  return o_proj->forward(merge_heads(
      prefix_suffix_attention(q, prefix_k, prefix_v, suffix_k, suffix_v, suffix_allowed, beams)));
}

at::Tensor LlamaAttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos,
                                       const at::Tensor& sin,
                                       const std::optional<at::Tensor>& allowed,
                                       at::Tensor* cache_k, at::Tensor* cache_v) const {
  auto [q, k, v] = project(x, cos, sin);
  if (cache_k != nullptr) {
    if (cache_k->defined()) {
      k = at::cat({*cache_k, k}, 2);
      v = at::cat({*cache_v, v}, 2);
    }
    *cache_k = k;
    *cache_v = v;
  }
  return o_proj->forward(merge_heads(attention(q, k, v, allowed)));
}

LlamaCrossAttentionImpl::LlamaCrossAttentionImpl(const QLlamaConfig& config, int64_t vision_width,
                                                 const at::TensorOptions& options)
    : num_heads(config.num_attention_heads) {
  const int64_t h = config.hidden_size;
  q_proj = register_module("q_proj", Linear(h, h, false, options));
  k_proj = register_module("k_proj", Linear(vision_width, h, false, options));
  v_proj = register_module("v_proj", Linear(vision_width, h, false, options));
  o_proj = register_module("o_proj", Linear(h, h, false, options));
  norm1 = register_module("norm1", RMSNorm(h, config.rms_norm_eps, options));
  norm2 = register_module("norm2", RMSNorm(vision_width, config.rms_norm_eps, options));
}

at::Tensor LlamaCrossAttentionImpl::forward(const at::Tensor& queries,
                                            const at::Tensor& vision) const {
  const auto q = split_heads(q_proj->forward(norm1->forward(queries)), num_heads);
  const auto vn = norm2->forward(vision);
  at::Tensor k, v;
  if (kv_weight.defined()) {
    const auto kv = at::linear(vn, kv_weight).chunk(2, -1);
    k = split_heads(kv[0], num_heads), v = split_heads(kv[1], num_heads);
  } else {
    k = split_heads(k_proj->forward(vn), num_heads),
    v = split_heads(v_proj->forward(vn), num_heads);
  }
  if (k.size(0) != q.size(0)) {  // one image shared by several rows (beams)
    const auto repeat = q.size(0) / k.size(0);
    k = k.repeat_interleave(repeat, 0);
    v = v.repeat_interleave(repeat, 0);
  }
  return o_proj->forward(merge_heads(attention(q, k, v)));
}

LlamaMLPImpl::LlamaMLPImpl(const QLlamaConfig& config, const at::TensorOptions& options) {
  const int64_t h = config.hidden_size, i = config.intermediate_size;
  gate_proj = register_module("gate_proj", Linear(h, i, false, options));
  up_proj = register_module("up_proj", Linear(h, i, false, options));
  down_proj = register_module("down_proj", Linear(i, h, false, options));
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor& x) const {
  if (gate_up_weight.defined()) {
    const auto gate_up = at::linear(x, gate_up_weight).chunk(2, -1);
    return down_proj->forward(at::silu(gate_up[0]) * gate_up[1]);
  }
  return down_proj->forward(at::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

void LlamaAttentionImpl::fuse_projections() {
  qkv_weight = fuse_linear_weights({q_proj, k_proj, v_proj});
}

void LlamaCrossAttentionImpl::fuse_projections() {
  kv_weight = fuse_linear_weights({k_proj, v_proj});
}

void LlamaMLPImpl::fuse_projections() {
  gate_up_weight = fuse_linear_weights({gate_proj, up_proj});
}

void QLlamaModelImpl::fuse_projections() {
  for (auto* layer : layer_ptrs) {
    layer->self_attn->fuse_projections();
    if (layer->cross_attn) layer->cross_attn->fuse_projections();
    layer->mlp->fuse_projections();
  }
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const QLlamaConfig& config, bool with_cross_attention,
                                             int64_t vision_width, int64_t num_query_token_,
                                             const at::TensorOptions& options)
    : num_query_token(num_query_token_) {
  const int64_t h = config.hidden_size;
  self_attn = register_module("self_attn", LlamaAttention(config, options));
  if (with_cross_attention) {
    cross_attn = register_module("cross_attn", LlamaCrossAttention(config, vision_width, options));
  }
  mlp = register_module("mlp", LlamaMLP(config, options));
  input_layernorm = register_module("input_layernorm", RMSNorm(h, config.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(h, config.rms_norm_eps, options));
}

at::Tensor LlamaDecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos,
                                          const at::Tensor& sin, const QLlamaInputs& inputs,
                                          at::Tensor* cache_k, at::Tensor* cache_v) const {
  auto h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, inputs.allowed, cache_k,
                                  cache_v);
  // Cross-attention runs only when the query tokens are part of this pass (never in 1-token
  // decode steps), and only on them; text positions pass through.
  if (cross_attn && inputs.vision.has_value() && h.size(1) >= num_query_token) {
    auto queries = h.narrow(1, 0, num_query_token);
    queries = queries + cross_attn->forward(queries, *inputs.vision);
    h = at::cat({queries, h.narrow(1, num_query_token, h.size(1) - num_query_token)}, 1);
  }
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

at::Tensor LlamaDecoderLayerImpl::decode(const at::Tensor& x, const at::Tensor& cos,
                                         const at::Tensor& sin, const QLlamaDecodeInputs& inputs,
                                         BeamKVCache& cache, size_t layer) const {
  const auto h =
      x + self_attn->decode(input_layernorm->forward(x), cos, sin, cache.prefix.keys[layer],
                            cache.prefix.values[layer], cache.suffix.keys[layer],
                            cache.suffix.values[layer], inputs.suffix_allowed, cache.beams);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

QLlamaModelImpl::QLlamaModelImpl(const QLlamaConfig& config_, int64_t vision_width,
                                 int64_t num_query_token, const at::TensorOptions& options)
    : config(config_) {
  embed_tokens =
      register_module("embed_tokens", Embedding(config.vocab_size, config.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    LlamaDecoderLayer layer(config, config.has_cross_attention(i), vision_width, num_query_token,
                            options);
    layer_ptrs.push_back(layer.get());
    layers->push_back(layer);
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  auto [cos, sin] = rope_tables(config.max_position_embeddings, config.head_dim());
  rope_cos = register_buffer("rope_cos", cos.to(options));
  rope_sin = register_buffer("rope_sin", sin.to(options));
}

at::Tensor QLlamaModelImpl::forward(const QLlamaInputs& inputs, KVCache* cache) const {
  TORCH_CHECK(inputs.inputs_embeds.dim() == 3, "QLLaMA expects inputs_embeds [B, T, H], got ",
              inputs.inputs_embeds.sizes());
  // [B, 1, T, D]: the table rows of each position, in the model dtype (as the reference).
  const auto cos = at::embedding(rope_cos, inputs.position_ids).unsqueeze(1);
  const auto sin = at::embedding(rope_sin, inputs.position_ids).unsqueeze(1);
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(layer_ptrs.size());
    cache->values.resize(layer_ptrs.size());
  }
  auto h = inputs.inputs_embeds;
  for (size_t i = 0; i < layer_ptrs.size(); ++i) {
    h = layer_ptrs[i]->forward(h, cos, sin, inputs, cache ? &cache->keys[i] : nullptr,
                               cache ? &cache->values[i] : nullptr);
  }
  return norm->forward(h);
}

at::Tensor QLlamaModelImpl::decode(const QLlamaDecodeInputs& inputs, BeamKVCache& cache) const {
  TORCH_CHECK(cache.prefix.keys.size() == layer_ptrs.size(),
              "decode needs a prefilled prefix cache");
  const auto cos = at::embedding(rope_cos, inputs.position_ids).unsqueeze(1);
  const auto sin = at::embedding(rope_sin, inputs.position_ids).unsqueeze(1);
  cache.suffix.keys.resize(layer_ptrs.size());
  cache.suffix.values.resize(layer_ptrs.size());
  auto h = inputs.inputs_embeds;
  for (size_t i = 0; i < layer_ptrs.size(); ++i)
    h = layer_ptrs[i]->decode(h, cos, sin, inputs, cache, i);
  return norm->forward(h);
}

QLlamaForCausalLMImpl::QLlamaForCausalLMImpl(const QLlamaConfig& config, int64_t vision_width,
                                             int64_t num_query_token,
                                             const at::TensorOptions& options) {
  model = register_module("model", QLlamaModel(config, vision_width, num_query_token, options));
  lm_head =
      register_module("lm_head", Linear(config.hidden_size, config.vocab_size, false, options));
}

}  // namespace ivs::model
