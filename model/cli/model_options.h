// SPDX-License-Identifier: Apache-2.0
// Options shared by the subcommands that load a checkpoint, and the helpers they share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "model/common/image.h"
#include "model/internvl/loaded_model.h"

namespace ivs::cli {

struct ModelOptions {
  std::string model_dir;  // --model DIR (default $INTERNVL_MODEL_DIR)
  std::string device = "auto";
  std::string dtype = "auto";
  std::vector<std::string> images;
  uint64_t max_image_pixels = model::kDefaultMaxImagePixels;
  bool json = false;

  /// Adds --model, --device, --dtype (and --image with --max-image-pixels, --json when asked)
  /// to `command`.
  void add_to(CLI::App& command, bool with_images, bool with_json);

  /// Checks --model and --device/--dtype before any work (InputError naming the bad value).
  void validate() const;

  /// Loads the checkpoint on the chosen device/dtype, with all cores for CPU inference.
  model::LoadedModel load() const;

  /// Decodes every --image (InputError naming the file on failure).
  std::vector<model::RgbImage> decode_images() const;
};

/// Prints JSON to stdout (indented, UTF-8 kept), followed by a newline.
void print_json(const nlohmann::json& value);

}  // namespace ivs::cli
