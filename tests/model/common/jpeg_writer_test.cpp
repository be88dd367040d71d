// SPDX-License-Identifier: Apache-2.0
#include "model/common/jpeg_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

// A smooth gradient: what JPEG keeps well, so the round trip error is small.
RgbImage gradient(int width, int height) {
  RgbImage image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / (width - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (height - 1));
      p[2] = 128;
    }
  }
  return image;
}

double mean_abs_difference(const RgbImage& a, const RgbImage& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(a.pixels[i] - b.pixels[i]);
  return sum / static_cast<double>(a.pixels.size());
}

TEST(JpegWriterTest, encoded_image_decodes_back_close_to_the_original) {
  const RgbImage image = gradient(64, 48);
  const auto bytes = encode_jpeg(image, 95);
  ASSERT_GT(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(bytes[1], 0xD8);
  const RgbImage decoded = decode_image_bytes(bytes.data(), bytes.size(), "encoded");
  ASSERT_EQ(decoded.width, 64);
  ASSERT_EQ(decoded.height, 48);
  EXPECT_LT(mean_abs_difference(image, decoded), 2.0);
}

TEST(JpegWriterTest, write_jpeg_file_leaves_the_file_and_no_partial_one) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("jpeg_writer_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "snapshot.jpg").string();
  write_jpeg_file(path, gradient(32, 32));
  EXPECT_EQ(decode_image_file(path).width, 32);
  EXPECT_FALSE(std::filesystem::exists(path + ".part"));
  std::filesystem::remove_all(dir);
}

TEST(JpegWriterTest, bad_input_and_paths_are_errors_naming_them) {
  EXPECT_THROW(encode_jpeg(RgbImage{}), InputError);
  EXPECT_THROW(encode_jpeg(gradient(8, 8), 0), InputError);
  try {
    write_jpeg_file("/nonexistent/dir/x.jpg", gradient(8, 8));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.jpg"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ivs::model
