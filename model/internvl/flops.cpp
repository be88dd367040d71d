// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/flops.h"

namespace ivs::model {
namespace {

// Counting is done in multiply-accumulates and doubled once at the end (model/README.md,
// "Parameters and FLOPs").
// Doubles are exact here: the largest count (~1e13) is far below 2^53.
constexpr double kFlopsPerMac = 2.0;

struct Sizes {
  double vision_tokens;  // patches + class token at the run resolution
  double patches;
  double cv, vi;        // vision width, MLP width
  double vl;            // vision layers
  double h, qi;         // QLLaMA width, MLP width
  double ql;            // QLLaMA layers
  double cross_layers;  // QLLaMA layers with cross-attention
  double queries, vocab, embed;
};

int64_t cross_attention_layers(const QLlamaConfig& q) {
  int64_t n = 0;
  for (int64_t i = 0; i < q.num_hidden_layers; ++i) n += q.has_cross_attention(i) ? 1 : 0;
  return n;
}

Sizes sizes_of(const InternVLConfig& c) {
  const auto& v = c.vision_config;
  const auto& q = c.qllama_config;
  const int64_t grid = c.image_size() / v.patch_size;
  const int64_t cross = cross_attention_layers(q);
  return Sizes{static_cast<double>(grid * grid + 1),
               static_cast<double>(grid * grid),
               static_cast<double>(v.hidden_size),
               static_cast<double>(v.intermediate_size),
               static_cast<double>(v.num_hidden_layers),
               static_cast<double>(q.hidden_size),
               static_cast<double>(q.intermediate_size),
               static_cast<double>(q.num_hidden_layers),
               static_cast<double>(cross),
               static_cast<double>(c.num_query_token),
               static_cast<double>(q.vocab_size),
               static_cast<double>(c.clip_embed_dim)};
}

// q/k/v/o (4 H^2) + SwiGLU gate/up/down (3 H I) for one token in one layer.
double qllama_linear_macs_per_token(const Sizes& s) { return 4 * s.h * s.h + 3 * s.h * s.qi; }

// Self-attention scores and weighted values, `rows` queries over `keys` keys, one layer.
double attention_macs(double rows, double keys, double width) { return 2 * rows * keys * width; }

// QLLaMA over `tokens` positions with full `tokens x tokens` scores (what the masked kernels
// compute), no lm_head.
double qllama_layers_macs(const Sizes& s, double tokens) {
  return s.ql * (tokens * qllama_linear_macs_per_token(s) + attention_macs(tokens, tokens, s.h));
}

// Every cross-attention block on the query rows: q/o projections of the queries, k/v projections
// of the ViT tokens (Cv -> H, the bulk of it), scores and weighted values.
double cross_attention_macs(const Sizes& s) {
  const double per_layer = 2 * s.queries * s.h * s.h + 2 * s.vision_tokens * s.cv * s.h +
                           attention_macs(s.queries, s.vision_tokens, s.h);
  return s.cross_layers * per_layer;
}

double vision_macs(const InternVLConfig& c) {
  const Sizes s = sizes_of(c);
  const double patch = static_cast<double>(c.vision_config.patch_size);
  const double patch_embedding = s.patches * (3 * patch * patch) * s.cv;
  const double per_token = 4 * s.cv * s.cv + 2 * s.cv * s.vi;  // qkv + proj, fc1 + fc2
  const double n = s.vision_tokens;
  const double per_layer = n * per_token + attention_macs(n, n, s.cv);
  return patch_embedding + s.vl * per_layer;
}

double pool_macs(const Sizes& s, double dim, double tokens) {
  // One pooled query (q projection of the token mean), k/v projections of every token, the
  // single-row attention, and the output projection to the embedding width.
  return dim * dim + 2 * tokens * dim * dim + attention_macs(1, tokens, dim) + dim * s.embed;
}

}  // namespace

int64_t ParameterCounts::qllama() const {
  return embed_tokens + qllama_layers + cross_attention + final_norm + lm_head;
}
int64_t ParameterCounts::built() const {
  return vision_model + clip_projector + clip_projector2 + qllama() + query_tokens +
         text_projection + logit_scale;
}
int64_t ParameterCounts::total() const { return built() + itm_head; }
int64_t ParameterCounts::image_c() const { return vision_model + clip_projector; }
int64_t ParameterCounts::image_g() const {
  return image_c() + clip_projector2 + qllama_layers + cross_attention + query_tokens + final_norm;
}
int64_t ParameterCounts::text() const {
  return embed_tokens + qllama_layers + final_norm + text_projection;
}

ParameterCounts count_parameters(const InternVLConfig& config) {
  const auto& v = config.vision_config;
  const auto& q = config.qllama_config;
  const int64_t c = v.hidden_size, vi = v.intermediate_size, p = v.patch_size;
  const int64_t grid = config.image_size() / p;
  const int64_t h = q.hidden_size, e = config.clip_embed_dim;
  int64_t vision_layer = 3 * c * c + (v.qkv_bias ? 3 * c : 0) + (v.qk_normalization ? 2 * c : 0) +
                         (c * c + c) + 2 * c /* norm1, norm2 */ + 2 * c /* ls1, ls2 */ +
                         (c * vi + vi) + (vi * c + c);
  auto pool = [e](int64_t dim) { return 3 * 2 * dim + 3 * dim * dim + 3 * dim + dim * e + e; };
  const int64_t cross_layers = cross_attention_layers(q);
  ParameterCounts n;
  const int64_t embeddings = (c * 3 * p * p + c) + c + (grid * grid + 1) * c;  // patch, class, pos
  n.vision_model = embeddings + v.num_hidden_layers * vision_layer;
  n.clip_projector = pool(c);
  n.clip_projector2 = pool(h);
  n.qllama_layers = q.num_hidden_layers * (4 * h * h + 3 * h * q.intermediate_size + 2 * h);
  n.cross_attention = cross_layers * (2 * h * h + 2 * c * h + h + c);
  n.embed_tokens = q.vocab_size * h;
  n.lm_head = q.vocab_size * h;
  n.final_norm = h;
  n.query_tokens = config.num_query_token * h;
  n.text_projection = h * e;
  n.logit_scale = 1;
  n.itm_head = h * 2 + 2;
  return n;
}

double vision_tower_flops(const InternVLConfig& config) {
  return kFlopsPerMac * vision_macs(config);
}

double attention_pool_flops(const InternVLConfig& config, int64_t dim, int64_t tokens) {
  const Sizes s = sizes_of(config);
  return kFlopsPerMac * pool_macs(s, static_cast<double>(dim), static_cast<double>(tokens));
}

double image_c_flops(const InternVLConfig& config) {
  const Sizes s = sizes_of(config);
  return kFlopsPerMac * (vision_macs(config) + pool_macs(s, s.cv, s.vision_tokens));
}

double image_g_flops(const InternVLConfig& config) {
  const Sizes s = sizes_of(config);
  const double queries = qllama_layers_macs(s, s.queries) + cross_attention_macs(s);
  return image_c_flops(config) + kFlopsPerMac * (queries + pool_macs(s, s.h, s.queries));
}

double text_flops(const InternVLConfig& config, int64_t tokens) {
  const Sizes s = sizes_of(config);
  return kFlopsPerMac * (qllama_layers_macs(s, static_cast<double>(tokens)) + s.h * s.embed);
}

double caption_prefill_flops(const InternVLConfig& config, int64_t prompt_tokens) {
  const Sizes s = sizes_of(config);
  const double positions = s.queries + static_cast<double>(prompt_tokens);
  const double qllama = qllama_layers_macs(s, positions) + cross_attention_macs(s) + s.h * s.vocab;
  return vision_tower_flops(config) + kFlopsPerMac * qllama;
}

double caption_decode_step_flops(const InternVLConfig& config, int64_t context_tokens) {
  const Sizes s = sizes_of(config);
  const double keys = static_cast<double>(context_tokens);
  const double per_layer = qllama_linear_macs_per_token(s) + attention_macs(1, keys, s.h);
  return kFlopsPerMac * (s.ql * per_layer + s.h * s.vocab);
}

double caption_flops(const InternVLConfig& config, int64_t prompt_tokens, int64_t decode_steps,
                     int64_t num_beams) {
  double total = caption_prefill_flops(config, prompt_tokens);
  const int64_t cached = config.num_query_token + prompt_tokens;
  for (int64_t k = 1; k <= decode_steps; ++k) {
    total += static_cast<double>(num_beams) * caption_decode_step_flops(config, cached + k);
  }
  return total;
}

}  // namespace ivs::model
