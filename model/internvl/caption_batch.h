// SPDX-License-Identifier: Apache-2.0
// Continuous batching for caption generation: requests that arrive at different times decode in
// one batch. admit() prefills a group of new images in one pass over [queries ; prompt]; step()
// chooses the next token of every live beam of every request and runs one decode pass for all of
// them, whichever step each request is at. A request leaves as soon as it is finished, and decodes
// exactly as it would alone (generate_captions is this class run on one group). The KV cache keeps
// each request's prefix (query tokens + prompt) once for all its beams (BeamKVCache): beam
// reordering moves only the generated tokens' keys and values.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/internvl/generation.h"
#include "model/internvl/internvl.h"

namespace ivs::model {

class CaptionBatch {
 public:
  /// Every request of the batch shares the prompt (tokenised, with BOS) and the decoding
  /// settings. Throws InputError when `config` is out of range or the prompt plus
  /// max_new_tokens does not fit the model's positions. `model` must outlive the batch.
  CaptionBatch(const InternVLModelImpl& model, std::vector<int64_t> prompt_ids,
               GenerationConfig config);
  ~CaptionBatch();
  CaptionBatch(const CaptionBatch&) = delete;
  CaptionBatch& operator=(const CaptionBatch&) = delete;

  /// Prefills `vision` (InternViT last_hidden_state [B, N, Cv]) in one pass and adds its B
  /// requests; returns their ids, counting up from 0 over the batch's life. When the pass
  /// throws, the batch is unchanged. Call under NoGrad/Inference mode, as step().
  std::vector<int64_t> admit(const at::Tensor& vision);

  /// Picks the next token of every live request and runs one decode pass over the ones that
  /// go on. Finished requests leave (collect them with take_finished()). Nothing when idle.
  /// When the pass throws, every live request is dropped and the batch is idle again.
  void step();

  /// Requests finished since the last call: (id, caption), in the order they finished.
  std::vector<std::pair<int64_t, GeneratedCaption>> take_finished();

  int64_t live() const;  // requests still decoding
  const GenerationConfig& config() const;
  const std::vector<int64_t>& prompt_ids() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ivs::model
