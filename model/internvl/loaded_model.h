// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/common/clip_image_processor.h"
#include "model/common/image.h"
#include "model/internvl/config.h"
#include "model/internvl/internvl.h"
#include "model/internvl/placement.h"
#include "model/internvl/tokenizer.h"

namespace ivs::model {

/// A checkpoint directory loaded for inference: config, preprocessing, tokenizer and weights.
/// Holds either the full InternVL model or, for an InternViT-only checkpoint, the vision tower.
struct LoadedModel {
  std::string dir;
  InternVLConfig config;
  ImageProcessorConfig processor;
  std::optional<Tokenizer> tokenizer;  // absent for vision-only checkpoints
  Placement placement;
  InternVLModel internvl{nullptr};    // kInternVL
  InternVisionModel vision{nullptr};  // kVisionOnly

  bool vision_only() const { return config.kind == CheckpointKind::kVisionOnly; }

  /// Preprocesses decoded images into pixel_values [B, 3, S, S] on the model's device/dtype.
  at::Tensor pixel_values(const std::vector<RgbImage>& images,
                          ResizeMode mode = ResizeMode::kShortestEdgeCrop) const;

  /// InternViT last_hidden_state for pixel_values [B, 3, S, S].
  at::Tensor vision_features(const at::Tensor& pixel_values) const;

  /// The tokenizer, or InputError saying the checkpoint has none (vision-only).
  const Tokenizer& text_tokenizer() const;
  /// The full model, or InputError saying this is a vision-only checkpoint.
  const InternVLModelImpl& full_model() const;
};

/// Loads `dir` (config.json, preprocessor_config.json (defaults when absent), tokenizer.model,
/// weights) onto `placement`. Errors name the file and the fix (ConfigError, WeightLoadError).
LoadedModel load_model(const std::string& dir, const Placement& placement);

/// A model in a preset's shapes with deterministic random weights (init_random_parameters), for
/// benchmarks: "full" is InternVL-14B-224px, "tiny" the parity fixture's sizes. `dir` is
/// "preset:<name>"; no tokenizer (so no label sets or captions by text); the processor is
/// CLIPImageProcessor's default at the model's resolution. `fuse` as load_model does (false keeps
/// q/k/v, k/v and gate/up as separate products, for A/B runs). Throws InputError on another name.
LoadedModel random_model(const std::string& preset, const Placement& placement, uint64_t seed,
                         bool fuse = true);

/// Sets LibTorch's intra-op threads to the number of cores (the 1.13 default here is 1).
void use_all_cores_for_inference();

}  // namespace ivs::model
