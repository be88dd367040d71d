// SPDX-License-Identifier: Apache-2.0
// Analytic parameter and FLOP counts of InternVL v1 for any InternVLConfig, by the rules of
// model/README.md ("Parameters and FLOPs"): one multiply-accumulate = 2 FLOPs; matrix products
// (linear layers, patch embedding, attention scores and attention-weighted values) only, while
// norms, softmax, GELU/SiLU, RoPE, residual adds and embedding look-ups are ignored. The benchmark
// divides these by measured time to report achieved TFLOP/s and MFU. Torch-free, so it is cheap
// to test.
#pragma once

#include <cstdint>

#include "model/internvl/config.h"

namespace ivs::model {

/// Parameter counts by block, as model/README.md's parameter table splits them (exact counts).
struct ParameterCounts {
  int64_t vision_model = 0;     // InternViT: patch embedding, class + position embeddings, blocks
  int64_t clip_projector = 0;   // attention pool over the ViT tokens
  int64_t clip_projector2 = 0;  // attention pool over the QLLaMA queries
  int64_t qllama_layers = 0;    // the LLaMA decoder layers without cross-attention
  int64_t cross_attention = 0;  // all cross-attention blocks together
  int64_t embed_tokens = 0;
  int64_t lm_head = 0;
  int64_t final_norm = 0;
  int64_t query_tokens = 0;
  int64_t text_projection = 0;
  int64_t logit_scale = 0;
  int64_t itm_head = 0;  // in the checkpoint; training-only, our model does not build it

  /// Everything in the checkpoint (the parameter table's "whole checkpoint").
  int64_t total() const;
  /// Everything our InternVLModel builds: total() less itm_head.
  int64_t built() const;
  int64_t qllama() const;   // embed + layers + cross-attention + norm + lm_head
  int64_t image_c() const;  // ViT + clip_projector
  int64_t image_g() const;  // ViT + both projectors + layers + cross + queries + norm
  int64_t text() const;     // embed + layers + norm + text_projection
};

ParameterCounts count_parameters(const InternVLConfig& config);

/// InternViT over one image at config.image_size() (patch embedding + all blocks).
double vision_tower_flops(const InternVLConfig& config);

/// One attention-pooling head (clip_projector / clip_projector2) over `tokens` inputs of `dim`.
double attention_pool_flops(const InternVLConfig& config, int64_t dim, int64_t tokens);

/// InternVL-C image embedding of one image: ViT + clip_projector.
double image_c_flops(const InternVLConfig& config);

/// InternVL-G image embedding of one image: ViT + clip_projector + QLLaMA over the queries
/// (with cross-attention to the ViT tokens) + clip_projector2.
double image_g_flops(const InternVLConfig& config);

/// Text embedding of one prompt of `tokens` tokens: QLLaMA text mode (no lm_head, no
/// cross-attention; full T x T scores as computed under the causal mask) + text_projection
/// of the EOS state.
double text_flops(const InternVLConfig& config, int64_t tokens);

/// First caption step for one image and a prompt of `prompt_tokens` ids (BOS included): ViT +
/// QLLaMA over queries + prompt (cross-attention on the query rows) + lm_head on the last
/// position. Run once per image, not per beam.
double caption_prefill_flops(const InternVLConfig& config, int64_t prompt_tokens);

/// One later decode step of one beam: one new token through every layer attending over
/// `context_tokens` keys (the KV cache plus the new token) + lm_head. No cross-attention.
double caption_decode_step_flops(const InternVLConfig& config, int64_t context_tokens);

/// A whole caption of one image: the prefill, then `decode_steps` steps of `num_beams` beams
/// each, the k-th step attending over queries + prompt + k keys.
double caption_flops(const InternVLConfig& config, int64_t prompt_tokens, int64_t decode_steps,
                     int64_t num_beams);

}  // namespace ivs::model
