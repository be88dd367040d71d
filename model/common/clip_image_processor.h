// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "model/common/image.h"

namespace ivs::model {

/// How an image becomes a square model input.
enum class ResizeMode {
  kShortestEdgeCrop,  // CLIPImageProcessor / classification: shortest edge -> size, centre crop
  kSquash,            // retrieval and caption evaluation: resize straight to crop size
};

/// The fields of a Hugging Face `preprocessor_config.json` for CLIPImageProcessor /
/// CLIPFeatureExtractor that change the result. Defaults are those of InternVL-14B-224px.
struct ImageProcessorConfig {
  bool do_resize = true;
  int shortest_edge = 224;  // "size": 224 or {"shortest_edge": 224}
  int resize_height = 0;    // "size": {"height": 448, "width": 448}: newer transformers resize
  int resize_width = 0;     //   straight to it (aspect not kept); 0 = use shortest_edge
  int resample = 3;         // PIL filter id; only 3 (BICUBIC) is supported
  bool do_center_crop = true;
  int crop_height = 224;  // "crop_size": 224 or {"height": 224, "width": 224}
  int crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> image_std{0.229f, 0.224f, 0.225f};
  bool do_convert_rgb = true;

  /// Reads `preprocessor_config.json`. Unknown keys are ignored (HF writes many informational
  /// ones); a present key of the wrong type, a resample other than 3, or non-positive sizes
  /// throw ConfigError naming the file and the key.
  static ImageProcessorConfig from_json_file(const std::string& path);
};

/// Runs the processor on one image and returns float32 pixel values, C x H x W (3 x crop_height
/// x crop_width), with the same arithmetic as transformers' CLIPImageProcessor: PIL bicubic on
/// uint8, floor-centred crop ((H - crop) / 2), uint8 * rescale_factor in double then cast to
/// float32, then (x - mean) / std in float32. kSquash resizes straight to crop size with the
/// same filter and skips the crop (do_resize and do_center_crop are not consulted).
/// With kShortestEdgeCrop: an image smaller than the crop is padded with zero pixels (before
/// rescaling), placed at (ceil((crop - H) / 2), ceil((crop - W) / 2)) as transformers' center_crop
/// does; with do_center_crop false the result is 3 x the resized height x width instead.
std::vector<float> preprocess_image(const RgbImage& image, const ImageProcessorConfig& config,
                                    ResizeMode mode = ResizeMode::kShortestEdgeCrop);

/// The (width, height) kShortestEdgeCrop resizes a width x height image to, as transformers'
/// get_resize_output_image_size(default_to_square=False): the short side becomes shortest_edge,
/// the long side int(shortest_edge * long / short), truncated; or resize_width x resize_height.
std::pair<int, int> resized_size(int width, int height, const ImageProcessorConfig& config);

/// Where crop row/column 0 falls in an axis of `size` samples: floor((size - crop) / 2) when
/// cropping; when padding, transformers' center_crop puts the image ceil((crop - size) / 2)
/// samples in, i.e. a negative offset.
int crop_offset(int size, int crop);

}  // namespace ivs::model
