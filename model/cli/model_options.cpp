// SPDX-License-Identifier: Apache-2.0
#include "model/cli/model_options.h"

#include <cstdlib>
#include <iostream>

#include "model/common/errors.h"

namespace ivs::cli {

void ModelOptions::add_to(CLI::App& command, bool with_images, bool with_json) {
  if (const char* env = std::getenv("INTERNVL_MODEL_DIR"); env != nullptr) model_dir = env;
  command.add_option("--model", model_dir,
                     "Checkpoint directory (config.json, weights, tokenizer.model); "
                     "default $INTERNVL_MODEL_DIR");
  command.add_option("--device", device, "auto (CUDA when usable), cpu, cuda, cuda:N")
      ->capture_default_str();
  command.add_option("--dtype", dtype, "auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16")
      ->capture_default_str();
  if (with_images) {
    command.add_option("--image", images, "Image file (repeatable)")->required();
    command
        .add_option("--max-image-pixels", max_image_pixels,
                    "Refuse images with more pixels than this (before decoding them)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }
  if (with_json) command.add_flag("--json", json, "Print JSON");
}

void ModelOptions::validate() const {
  if (model_dir.empty()) {
    throw model::InputError("no model given: pass --model DIR or set INTERNVL_MODEL_DIR");
  }
  model::Placement::resolve(device, dtype);
}

model::LoadedModel ModelOptions::load() const {
  validate();
  const auto placement = model::Placement::resolve(device, dtype);
  model::use_all_cores_for_inference();
  return model::load_model(model_dir, placement);
}

std::vector<model::RgbImage> ModelOptions::decode_images() const {
  std::vector<model::RgbImage> out;
  out.reserve(images.size());
  for (const auto& path : images) out.push_back(model::decode_image_file(path, max_image_pixels));
  return out;
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

}  // namespace ivs::cli
