// SPDX-License-Identifier: Apache-2.0
// InternVL-14B (v1): InternViT-6B + QLLaMA + the two attention-pooling heads. Computes the
// InternVL-C and InternVL-G image embeddings, the text embeddings, the CLIP logits and the
// inputs of caption generation exactly as the official Hugging Face code does.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/internvl/attention_pool.h"
#include "model/internvl/config.h"
#include "model/internvl/intern_vit.h"
#include "model/internvl/qllama.h"

namespace ivs::model {

/// Which image embedding: InternVL-C (ViT + clip_projector) or InternVL-G (adds QLLaMA queries).
enum class EmbeddingMode { kC, kG };

/// "c"/"g" (also "InternVL-C"/"InternVL-G"); throws InputError otherwise.
EmbeddingMode parse_embedding_mode(const std::string& text);
const char* embedding_mode_name(EmbeddingMode mode);  // "InternVL-C" / "InternVL-G"

/// Module tree = checkpoint key tree: vision_model.*, qllama.*, query_tokens, text_projection,
/// logit_scale, clip_projector.*, clip_projector2.* (itm_head is training-only and not built).
/// Parameters are created uninitialised with `options` (device + dtype); load them with
/// load_checkpoint() or initialise them for tests. Inference methods expect NoGrad/Inference mode.
class InternVLModelImpl : public torch::nn::Module {
 public:
  InternVLModelImpl(const InternVLConfig& config, const at::TensorOptions& options);

  /// pixel_values [B, 3, S, S] (any float dtype) -> InternViT last_hidden_state [B, N, Cv].
  at::Tensor vision_features(const at::Tensor& pixel_values) const;

  /// QLLaMA over the query tokens cross-attending to `vision` (no mask): [B, Q, H], final-normed.
  at::Tensor image_query_hidden(const at::Tensor& vision) const;

  /// Image embedding before the final L2 normalisation, as the official encode_image returns
  /// it: C = clip_projector(X); G = |clip_projector(X)| + |clip_projector2(queries)| (unit sum).
  /// Embeddings and logits are float32 whatever the model dtype (the heads run in the model
  /// dtype; normalisation, the G ensemble and the scores in float32).
  at::Tensor encode_image_features(const at::Tensor& vision, EmbeddingMode mode) const;
  at::Tensor encode_image(const at::Tensor& pixel_values, EmbeddingMode mode) const;

  /// QLLaMA text mode over ids [B, L] (right-padded with 0): causal + padding mask, positions
  /// 0..L-1, final-normed hidden states [B, L, H].
  at::Tensor text_hidden(const at::Tensor& input_ids) const;

  /// Text embedding before L2 normalisation: hidden state at the last non-pad token (the EOS)
  /// times text_projection. [B, L] -> [B, E].
  at::Tensor encode_text(const at::Tensor& input_ids) const;

  /// exp(logit_scale) * normalise(image) normalise(text)^T in float32: logits_per_image [Bi, Bt].
  at::Tensor logits_per_image(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;

  /// exp(logit_scale) as a double.
  double logit_scale_exp() const;

  InternVisionModel vision_model{nullptr};
  QLlamaForCausalLM qllama{nullptr};
  at::Tensor query_tokens;                         // [1, Q, H]
  at::Tensor text_projection;                      // [H, E], used as h @ P
  at::Tensor logit_scale;                          // [] (log of the temperature's inverse)
  AttentionPoolingBlock clip_projector{nullptr};   // Cv -> E
  AttentionPoolingBlock clip_projector2{nullptr};  // H -> E
  InternVLConfig config;
};
TORCH_MODULE(InternVLModel);

/// L2-normalises rows: x / ||x||_2 along dim 1 (no epsilon, as the reference).
at::Tensor l2_normalize(const at::Tensor& x);

}  // namespace ivs::model
