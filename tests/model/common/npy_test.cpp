// SPDX-License-Identifier: Apache-2.0
#include "model/common/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/common/errors.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

using test::Bytes;
using test::read_bytes;
using test::write_bytes;

// Replaces the first occurrence of `from` with the same-length `to` inside the header.
Bytes patched(Bytes bytes, const std::string& from, const std::string& to) {
  const std::string text(bytes.begin(), bytes.begin() + std::min<std::size_t>(bytes.size(), 256));
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(from.size(), to.size());
  if (at != std::string::npos) std::memcpy(&bytes[at], to.data(), to.size());
  return bytes;
}

void expect_input_error(const std::filesystem::path& path, const std::string& needle) {
  try {
    read_npy(path.string());
    ADD_FAILURE() << "no InputError for " << path;
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.filename().string()), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << "lacks '" << needle << "': " << message;
  }
}

TEST(NpyTest, reads_pixel_values_fixture) {
  const auto path = ivs::test::internvl_tiny_dir() / "pixel_values.npy";
  INTERNVL_REQUIRE_PATH(path);
  const NpyArray array = read_npy(path.string());
  EXPECT_EQ(array.dtype, DType::kF32);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{3, 3, 224, 224}));
  EXPECT_EQ(array.numel(), 3 * 3 * 224 * 224);
  ASSERT_EQ(array.data.size(), static_cast<std::size_t>(array.numel()) * sizeof(float));
  float first = 0.0F;
  std::memcpy(&first, array.data.data(), sizeof(first));
  EXPECT_TRUE(std::isfinite(first));
}

TEST(NpyTest, write_reproduces_numpy_file_byte_for_byte) {
  const auto source = ivs::test::internvl_tiny_dir() / "pixel_values.npy";
  INTERNVL_REQUIRE_PATH(source);
  const NpyArray array = read_npy(source.string());
  const auto copy = ivs::test::scratch_dir("npy_numpy_layout") / "copy.npy";
  write_npy(copy.string(), array.dtype, array.shape, array.data.data());
  EXPECT_EQ(read_bytes(copy), read_bytes(source));
}

TEST(NpyTest, round_trips_f32_and_i64) {
  const auto dir = ivs::test::scratch_dir("npy_round_trip");
  const std::vector<float> f32{0.5F, -1.0F, 3.0F, 1e-30F, 7.0F, -0.0F};
  write_npy((dir / "f32.npy").string(), DType::kF32, {2, 3}, f32.data());
  const NpyArray f32_back = read_npy((dir / "f32.npy").string());
  EXPECT_EQ(f32_back.dtype, DType::kF32);
  EXPECT_EQ(f32_back.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(f32_back.data.size(), f32.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(f32_back.data.data(), f32.data(), f32_back.data.size()), 0);

  const std::vector<std::int64_t> i64{-(1LL << 62), 0, 1, 49953, 1LL << 40};
  write_npy((dir / "i64.npy").string(), DType::kI64, {5}, i64.data());
  const NpyArray i64_back = read_npy((dir / "i64.npy").string());
  EXPECT_EQ(i64_back.dtype, DType::kI64);
  EXPECT_EQ(i64_back.shape, (std::vector<int64_t>{5}));
  ASSERT_EQ(i64_back.data.size(), i64.size() * sizeof(std::int64_t));
  EXPECT_EQ(std::memcmp(i64_back.data.data(), i64.data(), i64_back.data.size()), 0);
}

TEST(NpyTest, round_trips_scalar_and_empty_arrays) {
  const auto dir = ivs::test::scratch_dir("npy_scalar");
  const std::int64_t scalar = 7;
  write_npy((dir / "scalar.npy").string(), DType::kI64, {}, &scalar);
  const NpyArray back = read_npy((dir / "scalar.npy").string());
  EXPECT_TRUE(back.shape.empty());
  EXPECT_EQ(back.numel(), 1);
  ASSERT_EQ(back.data.size(), 8U);
  write_npy((dir / "empty.npy").string(), DType::kF32, {0, 4}, nullptr);
  const NpyArray empty = read_npy((dir / "empty.npy").string());
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(empty.data.empty());
}

TEST(NpyTest, header_is_version_one_and_aligned_to_64_bytes) {
  const auto path = ivs::test::scratch_dir("npy_header") / "h.npy";
  const std::vector<std::int64_t> values{1, 2, 3};
  write_npy(path.string(), DType::kI64, {3}, values.data());
  const Bytes bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 10U);
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  const std::size_t header_length = bytes[8] | (bytes[9] << 8);
  EXPECT_EQ((10 + header_length) % 64, 0U);
  const std::string header(bytes.begin() + 10,
                           bytes.begin() + 10 + static_cast<long>(header_length));
  EXPECT_EQ(header.rfind("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 0), 0U)
      << header;
  EXPECT_EQ(header.back(), '\n');
}

TEST(NpyTest, rejects_truncated_fortran_big_endian_and_bad_magic_files) {
  const auto dir = ivs::test::scratch_dir("npy_errors");
  const std::vector<float> values{1.0F, 2.0F, 3.0F, 4.0F};
  const auto good_path = dir / "good.npy";
  write_npy(good_path.string(), DType::kF32, {2, 2}, values.data());
  const Bytes good = read_bytes(good_path);

  write_bytes(dir / "truncated.npy", Bytes(good.begin(), good.end() - 3));
  expect_input_error(dir / "truncated.npy", "truncated");
  write_bytes(dir / "short_header.npy", Bytes(good.begin(), good.begin() + 20));
  expect_input_error(dir / "short_header.npy", "past the end");
  write_bytes(dir / "fortran.npy", patched(good, "False", "True "));
  expect_input_error(dir / "fortran.npy", "Fortran");
  write_bytes(dir / "big_endian.npy", patched(good, "'<f4'", "'>f4'"));
  expect_input_error(dir / "big_endian.npy", "big-endian");
  write_bytes(dir / "complex.npy", patched(good, "'<f4'", "'<c8'"));
  expect_input_error(dir / "complex.npy", "<c8");
  write_bytes(dir / "bad_magic.npy", patched(good, "NUMPY", "NUMPX"));
  expect_input_error(dir / "bad_magic.npy", "magic");
  write_bytes(dir / "bad_key.npy", patched(good, "'shape'", "'shapf'"));
  expect_input_error(dir / "bad_key.npy", "shapf");
  write_bytes(dir / "bad_dim.npy", patched(good, "(2, 2)", "(2, x)"));
  expect_input_error(dir / "bad_dim.npy", "shape");
  expect_input_error(dir / "absent.npy", "cannot be opened");
}

TEST(NpyTest, write_rejects_bfloat16_naming_the_file) {
  const auto path = ivs::test::scratch_dir("npy_bf16") / "bf16.npy";
  const std::uint16_t value = 0x3f80;
  try {
    write_npy(path.string(), DType::kBF16, {1}, &value);
    ADD_FAILURE() << "bfloat16 accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("bf16.npy"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("bfloat16"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace ivs::model
