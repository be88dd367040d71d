// SPDX-License-Identifier: Apache-2.0
#include "model/common/image.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/common/errors.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

using Bytes = std::vector<unsigned char>;

// Measured with Pillow 9.4 / libjpeg-turbo 2.1.5 on the committed JPEGs: max 3 levels (4:2:0,
// 2% of bytes differ, almost all by 1) and 2 levels (4:4:4). Decoding them with libjpeg-turbo
// itself gives 0; stb_image does not meet the 1/255 goal for JPEG input.
constexpr int kJpegDecodeTolerance = 3;

// Pillow references written by tests/data/model/make_pil_resize_reference.py.
std::filesystem::path pil_data_dir() {
  return ivs::test::source_dir() / "tests" / "data" / "model" / "pil_resize";
}

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A width x height image with `channels` interleaved channels and distinct, varied values.
Bytes pattern(int width, int height, int channels) {
  Bytes bytes(static_cast<std::size_t>(width) * height * channels);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
  return bytes;
}

std::filesystem::path write_png(const std::filesystem::path& dir, int width, int height,
                                int channels, const Bytes& pixels) {
  const auto path = dir / ("image_c" + std::to_string(channels) + ".png");
  EXPECT_NE(stbi_write_png(path.c_str(), width, height, channels, pixels.data(), width * channels),
            0);
  return path;
}

// Expects decode_image_file(path) to throw InputError naming the file and containing `needle`.
void expect_input_error(const std::filesystem::path& path, const std::string& needle) {
  try {
    decode_image_file(path.string());
    ADD_FAILURE() << "no InputError for " << path;
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << "lacks '" << needle << "': " << message;
  }
}

int max_abs_diff(const RgbImage& a, const RgbImage& b) {
  int worst = 0;
  for (std::size_t i = 0; i < std::min(a.pixels.size(), b.pixels.size()); ++i) {
    worst = std::max(worst, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  }
  return worst;
}

TEST(ImageTest, decodes_rgb_png_exactly) {
  const auto dir = ivs::test::scratch_dir("image_rgb_png");
  const Bytes pixels = pattern(7, 5, 3);
  const RgbImage image = decode_image_file(write_png(dir, 7, 5, 3, pixels).string());
  EXPECT_EQ(image.width, 7);
  EXPECT_EQ(image.height, 5);
  EXPECT_EQ(image.pixels, pixels);
}

TEST(ImageTest, replicates_grey_like_pil_convert_rgb) {
  const auto dir = ivs::test::scratch_dir("image_grey_png");
  for (const int channels : {1, 2}) {  // L and LA: PIL's convert("RGB") copies L to R, G and B
    const Bytes pixels = pattern(6, 4, channels);
    const RgbImage image = decode_image_file(write_png(dir, 6, 4, channels, pixels).string());
    ASSERT_EQ(image.pixels.size(), 6u * 4u * 3u);
    for (std::size_t p = 0; p < 6 * 4; ++p) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(image.pixels[p * 3 + c], pixels[p * channels]) << "channels " << channels;
      }
    }
  }
}

TEST(ImageTest, drops_alpha_without_compositing) {
  const auto dir = ivs::test::scratch_dir("image_rgba_png");
  Bytes pixels = pattern(5, 3, 4);
  pixels[3] = 0;  // a fully transparent pixel keeps its colour, as in PIL's convert("RGB")
  const RgbImage image = decode_image_file(write_png(dir, 5, 3, 4, pixels).string());
  ASSERT_EQ(image.pixels.size(), 5u * 3u * 3u);
  for (std::size_t p = 0; p < 5 * 3; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(image.pixels[p * 3 + c], pixels[p * 4 + c]);
  }
}

TEST(ImageTest, decodes_bmp_and_tga) {
  const auto dir = ivs::test::scratch_dir("image_bmp_tga");
  const Bytes pixels = pattern(9, 4, 3);
  const auto bmp = dir / "image.bmp";
  const auto tga = dir / "image.tga";
  ASSERT_NE(stbi_write_bmp(bmp.c_str(), 9, 4, 3, pixels.data()), 0);
  ASSERT_NE(stbi_write_tga(tga.c_str(), 9, 4, 3, pixels.data()), 0);
  EXPECT_EQ(decode_image_file(bmp.string()).pixels, pixels);
  EXPECT_EQ(decode_image_file(tga.string()).pixels, pixels);
}

TEST(ImageTest, decodes_bytes_in_memory) {
  const auto dir = ivs::test::scratch_dir("image_bytes");
  const Bytes pixels = pattern(3, 2, 3);
  const Bytes file = read_bytes(write_png(dir, 3, 2, 3, pixels));
  const RgbImage image = decode_image_bytes(file.data(), file.size(), "frame 12");
  EXPECT_EQ(image.pixels, pixels);
  try {
    decode_image_bytes(file.data(), 20, "frame 12");
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("frame 12"), std::string::npos) << error.what();
  }
}

TEST(ImageTest, missing_file_throws_input_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("image_missing");
  expect_input_error(dir / "no_such_image.png", "does not exist");
}

TEST(ImageTest, directory_throws_input_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("image_directory");
  expect_input_error(dir, "is a directory");
}

TEST(ImageTest, empty_file_throws_input_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("image_empty");
  write_bytes(dir / "empty.png", {});
  expect_input_error(dir / "empty.png", "is empty");
}

TEST(ImageTest, garbage_bytes_throw_input_error_naming_the_file) {
  const auto dir = ivs::test::scratch_dir("image_garbage");
  const std::string text = "this is a text file, not an image\n";
  write_bytes(dir / "notes.jpg", Bytes(text.begin(), text.end()));
  expect_input_error(dir / "notes.jpg", "cannot decode");
}

TEST(ImageTest, truncated_png_throws_input_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("image_truncated");
  const Bytes file = read_bytes(write_png(dir, 64, 48, 3, pattern(64, 48, 3)));
  for (const std::size_t keep : {std::size_t{30}, file.size() / 2, file.size() - 20}) {
    write_bytes(dir / "truncated.png", Bytes(file.begin(), file.begin() + keep));
    expect_input_error(dir / "truncated.png", "cannot decode");
  }
}

TEST(ImageTest, truncated_jpeg_throws_input_error_naming_it) {
  const auto source = pil_data_dir() / "photo_rocket_161x121_q90_420.jpg";
  INTERNVL_REQUIRE_PATH(source);
  const auto dir = ivs::test::scratch_dir("image_truncated_jpeg");
  const Bytes file = read_bytes(source);
  for (const std::size_t keep : {file.size() / 2, file.size() - 2}) {  // - 2: no EOI marker
    write_bytes(dir / "truncated.jpg", Bytes(file.begin(), file.begin() + keep));
    expect_input_error(dir / "truncated.jpg", "cannot decode");
  }
}

// stb_image and Pillow (libjpeg-turbo, islow IDCT, fancy upsampling) decode JPEG with different
// integer IDCTs and colour conversions, so the pixels differ slightly. This pins how much.
TEST(ImageTest, jpeg_decode_is_close_to_pillow) {
  const auto manifest_path = pil_data_dir() / "pil_resize_reference.json";
  INTERNVL_REQUIRE_PATH(manifest_path);
  std::ifstream in(manifest_path);
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_FALSE(manifest.at("jpeg").empty());
  for (const auto& entry : manifest.at("jpeg")) {
    const auto source = pil_data_dir() / entry.at("source").get<std::string>();
    const auto reference = pil_data_dir() / entry.at("pil_decode").get<std::string>();
    const RgbImage ours = decode_image_file(source.string());
    const RgbImage pil = decode_image_file(reference.string());
    ASSERT_EQ(ours.width, pil.width);
    ASSERT_EQ(ours.height, pil.height);
    const int diff = max_abs_diff(ours, pil);
    std::cout << "[ measured ] " << source.filename().string()
              << ": stb_image vs Pillow max abs diff " << diff << " levels\n";
    EXPECT_LE(diff, kJpegDecodeTolerance) << source;
  }
}

}  // namespace
}  // namespace ivs::model
