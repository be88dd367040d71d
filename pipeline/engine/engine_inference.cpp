// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine_inference.h"

#include <cstring>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "model/internvl/generation.h"
#include "model/internvl/loaded_model.h"

namespace ivs::pipeline {
namespace {

// [B, 3, H, W] on the model's device and dtype.
at::Tensor stack_pixels(const model::LoadedModel& model, const PixelBatch& images) {
  const int64_t h = model.processor.crop_height, w = model.processor.crop_width;
  auto batch = at::empty({static_cast<int64_t>(images.size()), 3, h, w}, at::kFloat);
  for (size_t i = 0; i < images.size(); ++i) {
    std::memcpy(batch[static_cast<int64_t>(i)].data_ptr<float>(), images[i]->data(),
                images[i]->size() * sizeof(float));
  }
  return batch.to(model.placement.device, model.placement.dtype);
}

model::EmbeddingMode to_model(EmbeddingMode mode) {
  return mode == EmbeddingMode::kG ? model::EmbeddingMode::kG : model::EmbeddingMode::kC;
}

model::GenerationConfig generation_config(const CaptionSettings& settings) {
  model::GenerationConfig config;
  config.num_beams = settings.num_beams;
  config.min_new_tokens = settings.min_new_tokens;
  config.max_new_tokens = settings.max_new_tokens;
  config.length_penalty = settings.length_penalty;
  return config;
}

}  // namespace

std::vector<std::vector<float>> run_embedding_batch(const model::LoadedModel& model,
                                                    const PixelBatch& images, EmbeddingMode mode) {
  const auto& internvl = model.full_model();
  const auto embeds =
      model::l2_normalize(internvl.encode_image(stack_pixels(model, images), to_model(mode)))
          .to(at::kCPU, at::kFloat)
          .contiguous();  // [B, E]
  std::vector<std::vector<float>> out(images.size());
  const auto width = embeds.size(1);
  for (size_t i = 0; i < out.size(); ++i) {
    const float* row = embeds.data_ptr<float>() + static_cast<int64_t>(i) * width;
    out[i].assign(row, row + width);
  }
  return out;
}

std::vector<CaptionResult> run_caption_batch(const model::LoadedModel& model,
                                             const PixelBatch& images,
                                             const CaptionSettings& settings) {
  const auto& internvl = model.full_model();
  const auto& tokenizer = model.text_tokenizer();
  const auto prompt_ids = tokenizer.encode_prompt(settings.prompt);
  const auto vision = internvl.vision_features(stack_pixels(model, images));  // [B, N, Cv]
  const auto captions =
      model::generate_captions(internvl, vision, prompt_ids, generation_config(settings));
  std::vector<CaptionResult> out;
  out.reserve(captions.size());
  for (const auto& c : captions) {
    CaptionResult r;
    r.token_ids = c.token_ids;
    r.text = tokenizer.decode(c.token_ids);
    r.num_input_tokens = static_cast<int64_t>(prompt_ids.size());
    r.score = c.score;
    out.push_back(std::move(r));
  }
  return out;
}

void validate_caption_settings(const CaptionSettings& settings) {
  generation_config(settings).validate();
}

void set_inference_threads(int threads) { at::set_num_threads(threads); }

}  // namespace ivs::pipeline
