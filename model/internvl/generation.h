// SPDX-License-Identifier: Apache-2.0
// Caption generation with the decoding semantics of Hugging Face transformers 4.32-4.37 (the
// versions the official InternVL code targets): beam search with length-normalised finished
// hypotheses, min_new_tokens by masking EOS, greedy search for num_beams = 1, KV cache.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/internvl/internvl.h"

namespace ivs::model {

struct GenerationConfig {
  int64_t num_beams = 5;       // 1 = greedy search
  int64_t min_new_tokens = 8;  // EOS is impossible before this many new tokens
  int64_t max_new_tokens = 20;
  double length_penalty = 1.0;  // finished score = sum logprob / length^penalty

  /// Throws InputError when a value is out of range.
  void validate() const;
};

struct GeneratedCaption {
  /// Newly generated ids (the prompt is not included), followed by EOS (2) when the caption
  /// ended before max_new_tokens, as transformers returns them (without its dummy leading BOS).
  std::vector<int64_t> token_ids;
  /// Beam search: the winning hypothesis' score, sum of log-probabilities divided by
  /// (1 + tokens before EOS)^length_penalty — transformers <= 4.37 counts the dummy BOS it
  /// prepends when generating from embeddings. Greedy: the sum of log-probabilities.
  double score = 0.0;
};

/// Captions B images. `vision` is InternViT's last_hidden_state [B, N, Cv]; `prompt_ids` the
/// tokenised prompt with BOS (Tokenizer::encode_prompt). Each image is decoded independently
/// (its own beams), all of them in one batch (a CaptionBatch admitting one group; use that class
/// directly to add requests while others decode). Call under NoGrad/Inference mode.
std::vector<GeneratedCaption> generate_captions(const InternVLModelImpl& model,
                                                const at::Tensor& vision,
                                                const std::vector<int64_t>& prompt_ids,
                                                const GenerationConfig& config);

}  // namespace ivs::model
