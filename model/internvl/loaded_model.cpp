// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/loaded_model.h"

#include <filesystem>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "model/common/errors.h"
#include "model/internvl/weights.h"

namespace ivs::model {
namespace fs = std::filesystem;

at::Tensor LoadedModel::pixel_values(const std::vector<RgbImage>& images, ResizeMode mode) const {
  if (images.empty()) throw InputError("no images given");
  const int64_t h = processor.crop_height, w = processor.crop_width;
  auto batch = at::empty({static_cast<int64_t>(images.size()), 3, h, w}, at::kFloat);
  for (size_t i = 0; i < images.size(); ++i) {
    const auto chw = preprocess_image(images[i], processor, mode);
    std::copy(chw.begin(), chw.end(), batch[i].data_ptr<float>());
  }
  return batch.to(placement.device, placement.dtype);
}

at::Tensor LoadedModel::vision_features(const at::Tensor& pixels) const {
  return vision_only() ? vision->forward(pixels) : internvl->vision_features(pixels);
}

const Tokenizer& LoadedModel::text_tokenizer() const {
  if (!tokenizer)
    throw InputError(dir + " is a vision-only (InternViT) checkpoint: it has no text tower");
  return *tokenizer;
}

const InternVLModelImpl& LoadedModel::full_model() const {
  if (!internvl) {
    throw InputError(dir +
                     " is a vision-only (InternViT) checkpoint: InternVL-C/G scores and "
                     "captions need an InternVL checkpoint such as InternVL-14B-224px");
  }
  return *internvl;
}

namespace {

// Inference only: no autograd graph may ever be built through these weights, whichever thread
// forgets an InferenceMode guard.
void freeze_for_inference(torch::nn::Module& module) {
  for (auto& p : module.parameters()) p.requires_grad_(false);
  module.eval();
}

// CLIPImageProcessor's defaults at the model's own resolution.
void use_default_processor(LoadedModel& m) {
  m.processor.shortest_edge = m.processor.crop_height = m.processor.crop_width =
      static_cast<int>(m.config.image_size());
}

}  // namespace

LoadedModel load_model(const std::string& dir, const Placement& placement) {
  LoadedModel m;
  m.dir = dir;
  m.placement = placement;
  const fs::path root(dir);
  if (!fs::is_directory(root)) {
    throw ConfigError(dir +
                      ": model directory not found; pass a Hugging Face checkpoint directory "
                      "(config.json, tokenizer.model, weights)");
  }
  m.config = InternVLConfig::from_json_file((root / "config.json").string());
  if (fs::exists(root / "preprocessor_config.json")) {
    m.processor =
        ImageProcessorConfig::from_json_file((root / "preprocessor_config.json").string());
  } else {  // CLIPImageProcessor defaults at the model's own resolution
    use_default_processor(m);
  }
  const auto options = at::TensorOptions().device(placement.device).dtype(placement.dtype);
  if (m.vision_only()) {
    m.vision = InternVisionModel(m.config.vision_config, m.config.image_size(), options);
    load_checkpoint(*m.vision, dir);
    freeze_for_inference(*m.vision);
    return m;
  }
  if (!fs::exists(root / "tokenizer.model")) {
    throw ConfigError(dir + ": tokenizer.model is missing; copy it from the same checkpoint");
  }
  m.tokenizer.emplace((root / "tokenizer.model").string());
  m.internvl = InternVLModel(m.config, options);
  load_checkpoint(*m.internvl, dir);
  if (m.config.tie_word_embeddings) {
    // What transformers does when config.json lacks "tie_word_embeddings": false: one shared
    // matrix, and the saved lm_head wins (published InternVL configs carry the false flag).
    at::NoGradGuard no_grad;
    m.internvl->qllama->model->embed_tokens->weight.copy_(m.internvl->qllama->lm_head->weight);
  }
  freeze_for_inference(*m.internvl);
  m.internvl->qllama->model->fuse_projections();
  return m;
}

LoadedModel random_model(const std::string& preset, const Placement& placement, uint64_t seed,
                         bool fuse) {
  LoadedModel m;
  m.config = preset_config(preset);
  m.dir = "preset:" + preset;
  m.placement = placement;
  use_default_processor(m);
  m.internvl =
      InternVLModel(m.config, at::TensorOptions().device(placement.device).dtype(placement.dtype));
  init_random_parameters(*m.internvl, seed);
  freeze_for_inference(*m.internvl);
  if (fuse) m.internvl->qllama->model->fuse_projections();
  return m;
}

void use_all_cores_for_inference() {
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(static_cast<int>(cores));
}

}  // namespace ivs::model
