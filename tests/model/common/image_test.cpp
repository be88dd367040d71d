// SPDX-License-Identifier: Apache-2.0
#include "model/common/image.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "model/common/errors.h"
#include "model/common/jpeg_writer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

using test::Bytes;
using test::read_bytes;
using test::write_bytes;

// Pillow references written by tests/data/model/make_pil_resize_reference.py.
std::filesystem::path pil_data_dir() {
  return ivs::test::source_dir() / "tests" / "data" / "model" / "pil_resize";
}

// The manifest's JPEG entries: source, Pillow mode ("RGB", "L", "CMYK"), pil_decode.
nlohmann::json pil_jpeg_entries() {
  std::ifstream in(pil_data_dir() / "pil_resize_reference.json");
  return nlohmann::json::parse(in).at("jpeg");
}

// The one JPEG entry Pillow opens in `mode`; fails the test if there is none.
nlohmann::json pil_jpeg_entry(const std::string& mode) {
  for (const auto& entry : pil_jpeg_entries()) {
    if (entry.at("mode") == mode) return entry;
  }
  ADD_FAILURE() << "no " << mode << " JPEG in the manifest: regenerate the references";
  return nullptr;
}

std::filesystem::path pil_file(const nlohmann::json& entry, const char* key) {
  return pil_data_dir() / entry.at(key).get<std::string>();
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

// Pillow rejects a JPEG that ends early ("image file is truncated") although libjpeg alone would
// pad the missing rows with grey and only warn; the decoder must reject it too, without exiting.
TEST(ImageTest, truncated_jpeg_throws_input_error_naming_it) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const auto dir = ivs::test::scratch_dir("image_truncated_jpeg");
  for (const char* name :
       {"photo_rocket_161x121_q90_420.jpg", "photo_rocket_161x121_q85_422_progressive.jpg"}) {
    const Bytes file = read_bytes(pil_data_dir() / name);
    ASSERT_GT(file.size(), 400u) << name;
    // In the header tables, in the first scan, half-way, and just the EOI marker missing.
    for (const std::size_t keep :
         {std::size_t{100}, std::size_t{400}, file.size() / 2, file.size() - 2}) {
      write_bytes(dir / "truncated.jpg", Bytes(file.begin(), file.begin() + keep));
      expect_input_error(dir / "truncated.jpg", "cannot decode");
      expect_input_error(dir / "truncated.jpg", "Premature end of JPEG file");
    }
  }
}

TEST(ImageTest, truncated_jpeg_bytes_name_the_source) {
  const auto source = pil_data_dir() / "photo_rocket_161x121_q90_420.jpg";
  INTERNVL_REQUIRE_PATH(source);
  const Bytes file = read_bytes(source);
  try {
    decode_image_bytes(file.data(), file.size() / 2, "frame 7");
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("frame 7"), std::string::npos) << error.what();
  }
}

// Offset of the first header segment with marker FF `code`, walking the segment lengths (not
// searching bytes, which could also match inside a table); 0 if the headers lack it.
std::size_t find_segment(const Bytes& jpeg, unsigned char code) {
  std::size_t at = 2;  // after SOI
  while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF) {
    if (jpeg[at + 1] == code) return at;
    if (jpeg[at + 1] == 0xDA) break;  // SOS: entropy-coded data follows
    at += 2 + (std::size_t{jpeg[at + 2]} << 8 | jpeg[at + 3]);
  }
  return 0;
}

// Header corruption makes libjpeg call error_exit, whose default would exit() the process: each
// must instead become an InputError naming the file, and print nothing.
TEST(ImageTest, corrupt_jpeg_header_throws_input_error_naming_it) {
  const auto source = pil_data_dir() / "photo_rocket_161x121_q90_420.jpg";
  INTERNVL_REQUIRE_PATH(source);
  const auto dir = ivs::test::scratch_dir("image_corrupt_jpeg");
  const Bytes file = read_bytes(source);
  const std::size_t sof = find_segment(file, 0xC0);
  const std::size_t dht = find_segment(file, 0xC4);
  const std::size_t sos = find_segment(file, 0xDA);
  ASSERT_NE(sof, 0u);
  ASSERT_NE(dht, 0u);
  ASSERT_NE(sos, 0u);
  // (offset, bytes written there, what libjpeg says)
  const std::vector<std::tuple<std::size_t, Bytes, std::string>> corruptions = {
      {sof + 4, {12}, "Unsupported JPEG data precision 12"},
      {sof + 5, {0, 0}, "Empty JPEG image"},                // height 0
      {dht + 5, {0xFF}, "Bogus Huffman table definition"},  // 255 codes of length 1
      {sos + 5, {9}, "Invalid component ID 9 in SOS"},      // the scan's first component
      {3, {0x02}, "Unsupported marker type 0x02"},          // the marker after SOI
  };
  testing::internal::CaptureStderr();
  for (const auto& [offset, patch, needle] : corruptions) {
    Bytes corrupt = file;
    std::copy(patch.begin(), patch.end(), corrupt.begin() + static_cast<std::ptrdiff_t>(offset));
    write_bytes(dir / "corrupt.jpg", corrupt);
    expect_input_error(dir / "corrupt.jpg", "cannot decode");
    expect_input_error(dir / "corrupt.jpg", needle);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  // The process and the decoder are still fine.
  EXPECT_EQ(decode_image_file(source.string()).width, 161);
}

// Corrupt-data warnings (here stray bytes before EOI) leave a whole image that Pillow accepts
// silently; libjpeg would print them to stderr, which library code must not do.
TEST(ImageTest, jpeg_warnings_are_silent_and_not_fatal) {
  const auto source = pil_data_dir() / "photo_rocket_161x121_q90_420.jpg";
  INTERNVL_REQUIRE_PATH(source);
  const auto dir = ivs::test::scratch_dir("image_jpeg_warning");
  Bytes file = read_bytes(source);
  const RgbImage clean = decode_image_file(source.string());
  file.insert(file.end() - 2, {0x12, 0x34, 0x56});  // before the EOI marker
  write_bytes(dir / "extraneous.jpg", file);
  testing::internal::CaptureStderr();
  const RgbImage decoded = decode_image_file((dir / "extraneous.jpg").string());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(decoded.pixels, clean.pixels);
}

// Every committed JPEG (baseline 4:2:0 and 4:4:4, progressive 4:2:2, greyscale, Adobe CMYK)
// decodes bit-identically to Pillow's Image.open(path).convert("RGB"): both use libjpeg-turbo
// with its default islow IDCT and fancy upsampling.
TEST(ImageTest, jpeg_decode_equals_pillow) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const auto entries = pil_jpeg_entries();
  ASSERT_GE(entries.size(), 5u);
  for (const auto& entry : entries) {
    const auto source = pil_file(entry, "source");
    const RgbImage ours = decode_image_file(source.string());
    const RgbImage pil = decode_image_file(pil_file(entry, "pil_decode").string());
    ASSERT_EQ(ours.width, pil.width) << source;
    ASSERT_EQ(ours.height, pil.height) << source;
    std::cout << "[ measured ] " << source.filename().string()
              << ": libjpeg-turbo vs Pillow max abs diff " << max_abs_diff(ours, pil)
              << " levels\n";
    EXPECT_EQ(ours.pixels, pil.pixels) << source;
  }
}

TEST(ImageTest, grey_jpeg_decodes_to_equal_channels) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const auto entry = pil_jpeg_entry("L");
  ASSERT_FALSE(entry.is_null());
  const RgbImage image = decode_image_file(pil_file(entry, "source").string());
  ASSERT_EQ(image.pixels.size(), 161u * 121u * 3u);
  int distinct_greys = 0;
  for (std::size_t p = 0; p < image.pixels.size(); p += 3) {
    ASSERT_EQ(image.pixels[p + 1], image.pixels[p]) << "pixel " << p / 3;
    ASSERT_EQ(image.pixels[p + 2], image.pixels[p]) << "pixel " << p / 3;
    distinct_greys += image.pixels[p] != image.pixels[0];
  }
  EXPECT_GT(distinct_greys, 0);  // a photo, not a flat image
}

// Pillow reads a 4-component JPEG as Adobe-inverted CMYK and converts it with its own formula.
TEST(ImageTest, cmyk_jpeg_converts_like_pillow) {
  INTERNVL_REQUIRE_PATH(pil_data_dir() / "pil_resize_reference.json");
  const auto entry = pil_jpeg_entry("CMYK");
  ASSERT_FALSE(entry.is_null());
  const RgbImage ours = decode_image_file(pil_file(entry, "source").string());
  const RgbImage pil = decode_image_file(pil_file(entry, "pil_decode").string());
  EXPECT_EQ(ours.width, pil.width);
  EXPECT_EQ(ours.pixels, pil.pixels);
}

// The decoder is chosen by the first bytes, not the name: a JPEG called .png still goes to
// libjpeg (exact vs Pillow; stb_image would differ), and a PNG called .jpg to stb_image.
TEST(ImageTest, jpeg_is_detected_by_content_not_extension) {
  const auto source = pil_data_dir() / "photo_rocket_161x121_q90_420.jpg";
  INTERNVL_REQUIRE_PATH(source);
  const auto dir = ivs::test::scratch_dir("image_jpeg_magic");
  write_bytes(dir / "really_a_jpeg.png", read_bytes(source));
  const RgbImage pil =
      decode_image_file((pil_data_dir() / "pil_decode_rocket_161x121_q90_420.png").string());
  EXPECT_EQ(decode_image_file((dir / "really_a_jpeg.png").string()).pixels, pil.pixels);
  const Bytes pixels = pattern(4, 3, 3);
  write_bytes(dir / "really_a_png.jpg", read_bytes(write_png(dir, 4, 3, 3, pixels)));
  EXPECT_EQ(decode_image_file((dir / "really_a_png.jpg").string()).pixels, pixels);
}

// Found by tests/fuzz/image_fuzz: stb_image reads a PNM whose width is not a number as 0 wide
// and "decodes" it, so a picture without pixels reached the preprocessing.
TEST(ImageTest, refuses_images_without_pixels) {
  const struct {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"fuzzed pgm", std::string("P5\x08\x00 1\n\xff", 8)},
      {"pgm 0 wide", "P5\n0 1\n255\n"},
      {"ppm 0 high", "P6\n2 0\n255\n"},
  };
  for (const auto& c : cases) {
    try {
      const RgbImage image = decode_image_bytes(c.bytes.data(), c.bytes.size(), c.name);
      ADD_FAILURE() << c.name << " decoded to " << image.width << "x" << image.height;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.name), std::string::npos) << e.what();
    }
  }
}

// Found by tests/fuzz/image_fuzz: Debian's stb_image decodes a truncated binary PNM from
// uninitialised memory, and crashes on a truncated 16-bit one (the fuzzer's input, last).
TEST(ImageTest, refuses_truncated_pnm) {
  const struct {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"pgm one byte short", "P5\n2 2\n255\n\x01\x02\x03"},
      {"ppm without samples", "P6\n# comment\n4 1\n255\n"},
      {"16-bit pgm one byte short", std::string("P5 2 1 65535\n\x01\x02\x03")},
      {"fuzzed 16-bit pgm", std::string("P5\n5211\n5\n5211\n5\0"
                                        "5\0\0\0\x01",
                                        22)},
  };
  for (const auto& c : cases) {
    try {
      const RgbImage image = decode_image_bytes(c.bytes.data(), c.bytes.size(), c.name);
      ADD_FAILURE() << c.name << " decoded to " << image.width << "x" << image.height;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
  // Complete files still decode, comments and 16-bit samples (high byte kept) included.
  const std::string pgm = "P5\n# made by hand\n2 1\n255\n\x10\x20";
  const RgbImage grey = decode_image_bytes(pgm.data(), pgm.size(), "pgm");
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{0x10, 0x10, 0x10, 0x20, 0x20, 0x20}));
  const std::string pgm16 = std::string("P5 1 1 65535\n\xAB\xCD");
  EXPECT_EQ(decode_image_bytes(pgm16.data(), pgm16.size(), "pgm16").pixels[0], 0xAB);
}

}  // namespace
// An 897-byte JPEG whose header claims 65500x10900 pixels once decoded to 4.4 GB: an image
// over the pixel limit is refused from its header, before anything is allocated for it.
TEST(ImageTest, refuses_images_over_the_pixel_limit_before_decoding) {
  const auto dir = ivs::test::scratch_dir("image_pixel_limit");
  RgbImage small;
  small.width = 16;
  small.height = 16;
  small.pixels.assign(16 * 16 * 3, 128);
  std::vector<uint8_t> jpeg = ivs::model::encode_jpeg(small);
  // Claim 65500x10900 in the start-of-frame segment (FF C0, length, precision, height, width).
  const std::vector<uint8_t> marker{0xFF, 0xC0};
  const auto sof = std::search(jpeg.begin(), jpeg.end(), marker.begin(), marker.end());
  ASSERT_NE(sof, jpeg.end());
  const auto at = static_cast<std::size_t>(sof - jpeg.begin());
  jpeg[at + 5] = 10900 >> 8;
  jpeg[at + 6] = 10900 & 0xFF;
  jpeg[at + 7] = 65500 >> 8;
  jpeg[at + 8] = 65500 & 0xFF;
  const auto claimed = dir / "claims-714-megapixels.jpg";
  std::ofstream(claimed, std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  expect_input_error(claimed, "65500x10900 pixels, more than the limit of 67108864");
  // The limit is the caller's, for JPEG and for the formats stb_image decodes.
  const auto png = write_png(dir, 16, 16, 3, pattern(16, 16, 3));
  EXPECT_THROW(decode_image_file(png.string(), 255), InputError);
  EXPECT_EQ(decode_image_file(png.string(), 256).width, 16);
  const auto fine = dir / "fine.jpg";
  ivs::model::write_jpeg_file(fine.string(), small);
  EXPECT_THROW(decode_image_file(fine.string(), 255), InputError);
  EXPECT_EQ(decode_image_file(fine.string(), 256).height, 16);
}

}  // namespace ivs::model
