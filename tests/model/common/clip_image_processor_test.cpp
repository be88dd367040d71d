// SPDX-License-Identifier: Apache-2.0
#include "model/common/clip_image_processor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/common/errors.h"
#include "model/common/image.h"
#include "model/common/npy.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

constexpr int kCrop = 224;

// Pillow 9.4 references written by tests/data/model/make_pil_resize_reference.py.
std::filesystem::path pil_data_dir() {
  return ivs::test::source_dir() / "tests" / "data" / "model" / "pil_resize";
}

nlohmann::json read_manifest() {
  std::ifstream in(pil_data_dir() / "pil_resize_reference.json");
  return nlohmann::json::parse(in);
}

std::filesystem::path write_config(const std::string& test, const std::string& text) {
  const auto path = ivs::test::scratch_dir(test) / "preprocessor_config.json";
  std::ofstream(path) << text;
  return path;
}

// Expects from_json_file(path) to throw ConfigError naming the file and containing `needle`.
void expect_config_error(const std::filesystem::path& path, const std::string& needle) {
  try {
    ImageProcessorConfig::from_json_file(path.string());
    ADD_FAILURE() << "no ConfigError for " << path;
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << "lacks '" << needle << "': " << message;
  }
}

// The documented transformers arithmetic applied to an already resized and cropped uint8 image:
// float32(double(u8) * rescale_factor), then (x - mean) / std in float32, CHW.
std::vector<float> normalized_chw(const RgbImage& image, const ImageProcessorConfig& config) {
  const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
  std::vector<float> out(plane * 3);
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      const float x = static_cast<float>(image.pixels[i * 3 + c] * config.rescale_factor);
      out[c * plane + i] = (x - config.image_mean[c]) / config.image_std[c];
    }
  }
  return out;
}

// Largest difference in uint8 levels, undoing the normalisation channel by channel.
double max_diff_levels(const std::vector<float>& a, const std::vector<float>& b,
                       const ImageProcessorConfig& config) {
  const std::size_t plane = a.size() / 3;
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double levels = std::fabs(double{a[i]} - b[i]) * config.image_std[i / plane] * 255.0;
    worst = std::max(worst, levels);
  }
  return worst;
}

TEST(ClipImageProcessorTest, reads_fixture_config) {
  const auto path = ivs::test::internvl_tiny_dir() / "preprocessor_config.json";
  INTERNVL_REQUIRE_PATH(path);
  const auto config = ImageProcessorConfig::from_json_file(path.string());
  EXPECT_TRUE(config.do_resize);
  EXPECT_EQ(config.shortest_edge, 224);
  EXPECT_EQ(config.resample, 3);
  EXPECT_TRUE(config.do_center_crop);
  EXPECT_EQ(config.crop_height, 224);
  EXPECT_EQ(config.crop_width, 224);
  EXPECT_EQ(config.rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(config.image_mean[1], 0.456f);
  EXPECT_EQ(config.image_std[2], 0.225f);
}

TEST(ClipImageProcessorTest, reads_dict_sizes_and_ignores_unknown_keys) {
  const auto path = write_config("clip_config_dict", R"({
    "size": {"shortest_edge": 336}, "crop_size": {"height": 320, "width": 300},
    "do_rescale": false, "rescale_factor": 0.5, "do_normalize": false, "do_convert_rgb": false,
    "image_mean": [0.5, 0.25, 0.125], "image_std": 0.5,
    "image_processor_type": "CLIPImageProcessor", "processor_class": "X"})");
  const auto config = ImageProcessorConfig::from_json_file(path.string());
  EXPECT_EQ(config.shortest_edge, 336);
  EXPECT_EQ(config.resize_height, 0);
  EXPECT_EQ(config.crop_height, 320);
  EXPECT_EQ(config.crop_width, 300);
  EXPECT_FALSE(config.do_rescale);
  EXPECT_EQ(config.rescale_factor, 0.5);
  EXPECT_FALSE(config.do_normalize);
  EXPECT_FALSE(config.do_convert_rgb);
  EXPECT_EQ(config.image_mean[2], 0.125f);
  EXPECT_EQ(config.image_std[0], 0.5f);
  EXPECT_EQ(config.image_std[2], 0.5f);
}

TEST(ClipImageProcessorTest, reads_height_width_size) {
  const auto path = write_config("clip_config_hw", R"({"size": {"height": 448, "width": 400}})");
  const auto config = ImageProcessorConfig::from_json_file(path.string());
  EXPECT_EQ(config.resize_height, 448);
  EXPECT_EQ(config.resize_width, 400);
}

TEST(ClipImageProcessorTest, missing_file_throws_config_error_naming_it) {
  expect_config_error(ivs::test::scratch_dir("clip_config_missing") / "preprocessor_config.json",
                      "does not exist");
}

TEST(ClipImageProcessorTest, bad_values_throw_config_error_naming_file_and_key) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"resample": 2})", "resample"},
      {R"({"resample": "bicubic"})", "resample"},
      {R"({"size": 0})", "size"},
      {R"({"size": {"longest_edge": 224}})", "size"},
      {R"({"crop_size": {"height": 224}})", "crop_size"},
      {R"({"crop_size": -3})", "crop_size"},
      {R"({"do_resize": "yes"})", "do_resize"},
      {R"({"image_mean": [0.5, 0.5]})", "image_mean"},
      {R"({"image_std": [0.5, 0, 0.5]})", "image_std"},
      {R"({"rescale_factor": "1/255"})", "rescale_factor"},
      {R"({"size": 224,})", "not valid JSON"},
      {R"([224])", "JSON object"},
  };
  for (const auto& [text, needle] : cases) {
    SCOPED_TRACE(text);
    expect_config_error(write_config("clip_config_bad", text), needle);
  }
}

// The fixture's three PNGs through the fixture's config must reproduce transformers'
// CLIPImageProcessor output (Pillow 9.4) exactly.
TEST(ClipImageProcessorTest, matches_transformers_pixel_values_fixture) {
  const auto dir = ivs::test::internvl_tiny_dir();
  INTERNVL_REQUIRE_PATH(dir / "pixel_values.npy");
  const auto config =
      ImageProcessorConfig::from_json_file((dir / "preprocessor_config.json").string());
  const NpyArray expected = read_npy((dir / "pixel_values.npy").string());
  ASSERT_EQ(expected.shape, (std::vector<int64_t>{3, 3, kCrop, kCrop}));
  const char* names[] = {"image1_red_square_320x240.png", "image2_blue_green_gradient_200x300.png",
                         "image3_checkerboard_224x224.png"};
  const std::size_t per_image = 3 * kCrop * kCrop;
  for (std::size_t n = 0; n < 3; ++n) {
    const auto ours = preprocess_image(decode_image_file((dir / names[n]).string()), config);
    ASSERT_EQ(ours.size(), per_image);
    std::vector<float> reference(per_image);
    std::memcpy(reference.data(), expected.data.data() + n * per_image * sizeof(float),
                per_image * sizeof(float));
    double worst = 0.0;
    for (std::size_t i = 0; i < per_image; ++i) {
      worst = std::max(worst, std::fabs(double{ours[i]} - reference[i]));
    }
    EXPECT_EQ(worst, 0.0) << names[n];
  }
}

// Odd-sized photographs through shortest-edge 224 (an upscale of both axes) and the centre crop,
// against Pillow's resize and transformers' crop: bit-exact.
TEST(ClipImageProcessorTest, matches_pillow_on_odd_sized_photos) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const ImageProcessorConfig config;
  const auto manifest = read_manifest();
  ASSERT_FALSE(manifest.at("clip_224").empty());
  for (const auto& entry : manifest.at("clip_224")) {
    const std::string source = entry.at("source").get<std::string>();
    const RgbImage image = decode_image_file((pil_data_dir() / source).string());
    const RgbImage expected =
        decode_image_file((pil_data_dir() / entry.at("reference").get<std::string>()).string());
    const std::vector<float> ours = preprocess_image(image, config);
    EXPECT_EQ(ours, normalized_chw(expected, config)) << source;
  }
}

// The whole path from a JPEG file is exact: the decode is bit-identical to Pillow's (both are
// libjpeg-turbo, see ImageTest.jpeg_decode_equals_pillow) and so are the resize, crop and
// normalisation (the tests above).
TEST(ClipImageProcessorTest, jpeg_path_equals_pillow) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const ImageProcessorConfig config;
  const auto manifest = read_manifest();
  ASSERT_FALSE(manifest.at("jpeg").empty());
  for (const auto& entry : manifest.at("jpeg")) {
    const std::string source = entry.at("source").get<std::string>();
    const RgbImage pil_decoded =
        decode_image_file((pil_data_dir() / entry.at("pil_decode").get<std::string>()).string());
    const std::vector<float> from_pil_decode = preprocess_image(pil_decoded, config);
    if (entry.contains("pil_clip")) {  // the same decode, resized and cropped by Pillow
      const RgbImage pil_clip =
          decode_image_file((pil_data_dir() / entry.at("pil_clip").get<std::string>()).string());
      EXPECT_EQ(from_pil_decode, normalized_chw(pil_clip, config)) << source;
    }
    const auto ours =
        preprocess_image(decode_image_file((pil_data_dir() / source).string()), config);
    ASSERT_EQ(ours.size(), from_pil_decode.size()) << source;
    const double levels = max_diff_levels(ours, from_pil_decode, config);
    std::cout << "[ measured ] " << source << ": preprocessed libjpeg-turbo decode vs Pillow "
              << "decode, max diff " << levels << " / 255\n";
    EXPECT_EQ(levels, 0.0) << source;
  }
}

TEST(ClipImageProcessorTest, squash_resizes_straight_to_crop_size) {
  RgbImage image{300, 100, std::vector<uint8_t>(300 * 100 * 3, 51)};
  ImageProcessorConfig config;
  config.crop_height = 30;
  config.crop_width = 40;
  config.do_normalize = false;
  const auto out = preprocess_image(image, config, ResizeMode::kSquash);
  ASSERT_EQ(out.size(), 3u * 30u * 40u);
  for (const float value : out) ASSERT_EQ(value, static_cast<float>(51 / 255.0));
}

TEST(ClipImageProcessorTest, height_width_size_resizes_without_keeping_aspect) {
  RgbImage image{30, 10, std::vector<uint8_t>(30 * 10 * 3, 102)};
  ImageProcessorConfig config;
  config.resize_height = 5;
  config.resize_width = 6;
  config.do_center_crop = false;
  config.do_normalize = false;
  const auto out = preprocess_image(image, config);
  ASSERT_EQ(out.size(), 3u * 5u * 6u);
  EXPECT_EQ(out.front(), static_cast<float>(102 / 255.0));
}

TEST(ClipImageProcessorTest, pads_images_smaller_than_the_crop_with_zeros) {
  RgbImage image{3, 2, std::vector<uint8_t>(3 * 2 * 3, 255)};
  ImageProcessorConfig config;
  config.do_resize = false;
  config.crop_height = 5;  // 3 rows of padding: 2 above (ceil(3 / 2)), 1 below, as transformers'
                           // center_crop places it
  config.crop_width = 7;   // 4 columns: 2 left, 2 right
  config.do_normalize = false;
  const auto out = preprocess_image(image, config);
  ASSERT_EQ(out.size(), 3u * 5u * 7u);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 5; ++y) {
      for (int x = 0; x < 7; ++x) {
        const bool inside = y >= 2 && y < 4 && x >= 2 && x < 5;
        EXPECT_EQ(out[(c * 5 + y) * 7 + x], inside ? 1.0f : 0.0f) << c << "," << y << "," << x;
      }
    }
  }
}

TEST(ClipImageProcessorTest, crops_floor_centred_window) {
  RgbImage image{5, 4, {}};
  for (int i = 0; i < 5 * 4; ++i)
    image.pixels.insert(image.pixels.end(), 3, static_cast<uint8_t>(i));
  ImageProcessorConfig config;
  config.do_resize = false;
  config.crop_height = 1;  // top = (4 - 1) / 2 = 1
  config.crop_width = 2;   // left = (5 - 2) / 2 = 1
  config.do_rescale = false;
  config.do_normalize = false;
  const auto out = preprocess_image(image, config);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0], 6.0f);
  EXPECT_EQ(out[1], 7.0f);
}

}  // namespace
}  // namespace ivs::model
