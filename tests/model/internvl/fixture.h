// SPDX-License-Identifier: Apache-2.0
// Access to tests/data/parity/internvl-tiny: the checkpoint, its inputs and the reference
// outputs of the official implementation.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "model/internvl/loaded_model.h"

namespace ivs::test {

/// expected.json of the tiny fixture, parsed once per call.
nlohmann::json tiny_expected();

/// A .npy file of the tiny fixture as a CPU tensor (e.g. "pixel_values.npy").
at::Tensor tiny_npy(const std::string& name);

/// A .npy file as a CPU tensor (float32 / int64 as stored).
at::Tensor npy_tensor(const std::string& path);

/// The tiny fixture loaded on CPU in float32 (safetensors weights).
const model::LoadedModel& tiny_model();

/// The three fixture images, decoded.
std::vector<model::RgbImage> tiny_images();

/// A small random InternVL (vision 16 wide at 28 px, QLLaMA 8 wide, vocab 50, 96 queries) for
/// tests that need a whole model but no reference values.
model::InternVLConfig small_config();
model::InternVLModel random_small_model(uint64_t seed);
/// Random InternViT features [batch, 5, 16] for random_small_model (2x2 patches + class token).
at::Tensor random_small_vision(int64_t batch, uint64_t seed);

}  // namespace ivs::test
