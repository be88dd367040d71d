// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/generation.h"

#include "model/common/errors.h"
#include "model/internvl/caption_batch.h"

namespace ivs::model {

void GenerationConfig::validate() const {
  if (num_beams < 1) throw InputError("num_beams must be at least 1");
  if (max_new_tokens < 1) throw InputError("max_new_tokens must be at least 1");
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens) {
    throw InputError("min_new_tokens must be between 0 and max_new_tokens");
  }
}

std::vector<GeneratedCaption> generate_captions(const InternVLModelImpl& model,
                                                const at::Tensor& vision,
                                                const std::vector<int64_t>& prompt_ids,
                                                const GenerationConfig& config) {
  CaptionBatch batch(model, prompt_ids, config);
  const auto ids = batch.admit(vision);  // 0 .. B-1
  std::vector<GeneratedCaption> out(ids.size());
  while (batch.live() > 0) {
    batch.step();
    for (auto& [id, caption] : batch.take_finished())
      out[static_cast<size_t>(id)] = std::move(caption);
  }
  return out;
}

}  // namespace ivs::model
