// SPDX-License-Identifier: Apache-2.0
#include "model/common/pil_resize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "model/common/image.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

// Pillow 9.4 references written by tests/data/model/make_pil_resize_reference.py.
std::filesystem::path pil_data_dir() {
  return ivs::test::source_dir() / "tests" / "data" / "model" / "pil_resize";
}

RgbImage gradient(int width, int height) {
  RgbImage image{width, height, {}};
  image.pixels.resize(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<std::size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / std::max(width - 1, 1));
      p[1] = static_cast<uint8_t>(y * 255 / std::max(height - 1, 1));
      p[2] = static_cast<uint8_t>((x * 7 + y * 13) % 256);
    }
  }
  return image;
}

int max_abs_diff(const RgbImage& a, const RgbImage& b) {
  int worst = 0;
  for (std::size_t i = 0; i < std::min(a.pixels.size(), b.pixels.size()); ++i) {
    worst = std::max(worst, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  }
  return worst;
}

TEST(PilResizeTest, same_size_returns_the_same_pixels) {
  const RgbImage image = gradient(17, 9);
  const RgbImage resized = resize_bicubic_pil(image, 17, 9);
  EXPECT_EQ(resized.width, 17);
  EXPECT_EQ(resized.height, 9);
  EXPECT_EQ(resized.pixels, image.pixels);
}

TEST(PilResizeTest, constant_image_stays_constant) {
  // The weights are normalised, so a flat colour survives every scale factor (no ringing).
  RgbImage image{13, 11, {}};
  for (int i = 0; i < 13 * 11; ++i) image.pixels.insert(image.pixels.end(), {200, 17, 255});
  for (const auto& [width, height] : {std::pair{5, 3}, {40, 29}, {13, 4}, {1, 1}}) {
    const RgbImage resized = resize_bicubic_pil(image, width, height);
    ASSERT_EQ(resized.pixels.size(), static_cast<std::size_t>(width) * height * 3);
    for (std::size_t i = 0; i < resized.pixels.size(); i += 3) {
      ASSERT_EQ(resized.pixels[i], 200) << width << "x" << height;
      ASSERT_EQ(resized.pixels[i + 1], 17);
      ASSERT_EQ(resized.pixels[i + 2], 255);
    }
  }
}

// The window of the resized picture, cut out of the whole one.
RgbImage crop(const RgbImage& image, int left, int top, int width, int height) {
  RgbImage out{width, height, {}};
  for (int y = top; y < top + height; ++y) {
    const auto row =
        image.pixels.begin() + (static_cast<std::ptrdiff_t>(y) * image.width + left) * 3;
    out.pixels.insert(out.pixels.end(), row, row + static_cast<std::ptrdiff_t>(width) * 3);
  }
  return out;
}

TEST(PilResizeTest, window_equals_resizing_then_cropping_bit_for_bit) {
  struct Case {
    int in_width, in_height, width, height, left, top, window_width, window_height;
  };
  // Downscales (a 16:9 frame to its centre crop), upscales, one axis kept (Pillow skips that
  // pass), windows at the edges and the whole picture.
  const Case cases[] = {
      {192, 108, 39, 22, 8, 0, 22, 22}, {160, 90, 99, 56, 21, 0, 56, 56},
      {31, 47, 64, 80, 0, 5, 64, 70},   {50, 40, 50, 20, 10, 3, 30, 12},
      {50, 40, 25, 40, 0, 0, 25, 40},   {37, 29, 11, 9, 10, 8, 1, 1},
      {64, 64, 32, 32, 0, 0, 32, 32},   {17, 9, 17, 9, 3, 2, 10, 5},
  };
  for (const Case& c : cases) {
    const RgbImage image = gradient(c.in_width, c.in_height);
    const RgbImage expected = crop(resize_bicubic_pil(image, c.width, c.height), c.left, c.top,
                                   c.window_width, c.window_height);
    const RgbImage window = resize_bicubic_pil_window(image, c.width, c.height, c.left, c.top,
                                                      c.window_width, c.window_height);
    EXPECT_EQ(window.width, c.window_width);
    EXPECT_EQ(window.height, c.window_height);
    EXPECT_EQ(window.pixels, expected.pixels)
        << c.in_width << "x" << c.in_height << " -> " << c.width << "x" << c.height << ", window "
        << c.window_width << "x" << c.window_height << " at " << c.left << "," << c.top;
  }
}

TEST(PilResizeTest, window_outside_the_resized_picture_is_refused) {
  const RgbImage image = gradient(8, 8);
  EXPECT_THROW(resize_bicubic_pil_window(image, 4, 4, 1, 0, 4, 4), std::invalid_argument);
  EXPECT_THROW(resize_bicubic_pil_window(image, 4, 4, 0, -1, 4, 4), std::invalid_argument);
  EXPECT_THROW(resize_bicubic_pil_window(image, 4, 4, 0, 0, 0, 4), std::invalid_argument);
}

TEST(PilResizeTest, rejects_bad_sizes_and_buffers) {
  const RgbImage image = gradient(4, 4);
  EXPECT_THROW(resize_bicubic_pil(image, 0, 4), std::invalid_argument);
  EXPECT_THROW(resize_bicubic_pil(image, 4, -1), std::invalid_argument);
  RgbImage short_buffer = image;
  short_buffer.pixels.pop_back();
  EXPECT_THROW(resize_bicubic_pil(short_buffer, 2, 2), std::invalid_argument);
  EXPECT_THROW(resize_bicubic_pil(RgbImage{}, 2, 2), std::invalid_argument);
}

// Real photographs of odd sizes, resized by Pillow 9.4 Image.resize(size, BICUBIC): downscales
// by non-integer factors, upscales, one axis only; every byte must match.
TEST(PilResizeTest, matches_pillow_bicubic_on_photos) {
  const auto manifest_path = pil_data_dir() / "pil_resize_reference.json";
  INTERNVL_REQUIRE_PATH(manifest_path);
  std::ifstream in(manifest_path);
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_GE(manifest.at("resize").size(), 5u);
  for (const auto& entry : manifest.at("resize")) {
    const std::string reference_name = entry.at("reference").get<std::string>();
    const RgbImage source =
        decode_image_file((pil_data_dir() / entry.at("source").get<std::string>()).string());
    const RgbImage expected = decode_image_file((pil_data_dir() / reference_name).string());
    const RgbImage ours =
        resize_bicubic_pil(source, entry.at("width").get<int>(), entry.at("height").get<int>());
    ASSERT_EQ(ours.width, expected.width) << reference_name;
    ASSERT_EQ(ours.height, expected.height) << reference_name;
    EXPECT_EQ(max_abs_diff(ours, expected), 0) << reference_name;
  }
}

}  // namespace
}  // namespace ivs::model
