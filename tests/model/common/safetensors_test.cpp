// SPDX-License-Identifier: Apache-2.0
#include "model/common/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
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

// A raw file: `header_length` as the prefix, then `header`, then `data_size` bytes 0, 1, 2, ...
Bytes raw_file(std::uint64_t header_length, const std::string& header, std::size_t data_size) {
  Bytes bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<unsigned char>(header_length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < data_size; ++i) bytes.push_back(static_cast<unsigned char>(i));
  return bytes;
}

Bytes raw_file(const std::string& header, std::size_t data_size) {
  return raw_file(header.size(), header, data_size);
}

// Opens `path` and expects a WeightLoadError whose message contains every one of `needles`.
void expect_load_error(const std::filesystem::path& path, const std::vector<std::string>& needles) {
  try {
    open_safetensors(path.string());
    ADD_FAILURE() << "no WeightLoadError for " << path;
  } catch (const WeightLoadError& error) {
    const std::string message = error.what();
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message lacks '" << needle << "': " << message;
    }
  }
}

const TensorInfo* find_info(const TensorFile& file, const std::string& name) {
  for (const auto& info : file.tensors()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

TEST(SafetensorsTest, round_trip_preserves_dtypes_shapes_metadata_and_bytes) {
  const auto path = ivs::test::scratch_dir("safetensors_round_trip") / "round.safetensors";
  const std::vector<float> f32{1.5F, -2.0F, 3.25F, 0.0F, 7.0F, -8.5F};
  const std::vector<std::uint16_t> bf16{0x3f80, 0xc000, 0x7f80, 0x0001};  // 1, -2, inf, tiny
  const std::int64_t scalar = -1234567890123LL;
  const std::vector<std::uint16_t> f16{0x3c00, 0x4000, 0xbc00};
  const std::vector<unsigned char> flags{1, 0};
  const std::vector<TensorBytes> tensors{
      {"f32", DType::kF32, {2, 3}, f32.data()}, {"bf16", DType::kBF16, {4}, bf16.data()},
      {"scalar", DType::kI64, {}, &scalar},     {"empty", DType::kU8, {0, 5}, nullptr},
      {"f16", DType::kF16, {3, 1}, f16.data()}, {"flags", DType::kBool, {2}, flags.data()},
  };
  write_safetensors(path.string(), tensors, {{"format", "pt"}});

  const auto file = open_safetensors(path.string());
  EXPECT_EQ(file->path(), path.string());
  std::vector<std::string> names;
  for (const auto& info : file->tensors()) names.push_back(info.name);
  // The writer lays data out in name order, and tensors() lists data-offset order.
  EXPECT_EQ(names, (std::vector<std::string>{"bf16", "empty", "f16", "f32", "flags", "scalar"}));
  for (const auto& expected : tensors) {
    const TensorInfo* info = find_info(*file, expected.name);
    ASSERT_NE(info, nullptr) << expected.name;
    EXPECT_EQ(info->dtype, expected.dtype) << expected.name;
    EXPECT_EQ(info->shape, expected.shape) << expected.name;
    const TensorView view = file->read(expected.name);
    EXPECT_EQ(view.dtype, expected.dtype);
    EXPECT_EQ(view.shape, expected.shape);
    std::size_t bytes = dtype_size(expected.dtype);
    for (auto dim : expected.shape) bytes *= static_cast<std::size_t>(dim);
    if (bytes > 0) {
      EXPECT_EQ(std::memcmp(view.data, expected.data, bytes), 0) << expected.name;
    }
  }
  EXPECT_EQ(file->read("f32").strides, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(file->read("empty").strides, (std::vector<int64_t>{5, 1}));
  EXPECT_TRUE(file->read("scalar").strides.empty());
}

TEST(SafetensorsTest, writer_sorts_by_name_and_pads_header_to_eight_bytes) {
  const auto path = ivs::test::scratch_dir("safetensors_layout") / "layout.safetensors";
  const std::vector<float> b{1.0F, 2.0F};
  const std::vector<std::uint8_t> a{9};
  write_safetensors(path.string(),
                    {{"b", DType::kF32, {2}, b.data()}, {"a", DType::kU8, {1}, a.data()}},
                    {{"format", "pt"}});

  const Bytes bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8U);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | bytes[i];
  EXPECT_EQ(header_length % 8, 0U);
  ASSERT_EQ(bytes.size(), 8 + header_length + 9);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_length));
  const std::string expected =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  EXPECT_EQ(header.substr(0, expected.size()), expected);
  EXPECT_EQ(header.find_first_not_of(' ', expected.size()), std::string::npos);
  EXPECT_EQ(bytes[8 + header_length], 9);
  EXPECT_EQ(std::memcmp(&bytes[8 + header_length + 1], b.data(), 8), 0);
}

TEST(SafetensorsTest, writer_omits_empty_metadata) {
  const auto path = ivs::test::scratch_dir("safetensors_no_meta") / "plain.safetensors";
  const float value = 1.0F;
  write_safetensors(path.string(), {{"x", DType::kF32, {}, &value}});
  const Bytes bytes = read_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  EXPECT_EQ(text.find("__metadata__"), std::string::npos);
  EXPECT_EQ(open_safetensors(path.string())->tensors().size(), 1U);
}

TEST(SafetensorsTest, writer_rejects_duplicate_names_and_unwritable_paths) {
  const auto dir = ivs::test::scratch_dir("safetensors_write_errors");
  const float value = 1.0F;
  const auto dup = (dir / "dup.safetensors").string();
  try {
    write_safetensors(dup, {{"x", DType::kF32, {}, &value}, {"x", DType::kF32, {}, &value}});
    ADD_FAILURE() << "duplicate names accepted";
  } catch (const WeightLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("'x'"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(dup), std::string::npos) << error.what();
  }
  const auto missing_dir = (dir / "no_such_dir" / "out.safetensors").string();
  try {
    write_safetensors(missing_dir, {{"x", DType::kF32, {}, &value}});
    ADD_FAILURE() << "unwritable path accepted";
  } catch (const WeightLoadError& error) {
    EXPECT_NE(std::string(error.what()).find(missing_dir), std::string::npos) << error.what();
  }
}

TEST(SafetensorsTest, read_of_unknown_name_names_file_and_tensor) {
  const auto path = ivs::test::scratch_dir("safetensors_unknown") / "one.safetensors";
  const float value = 1.0F;
  write_safetensors(path.string(), {{"x", DType::kF32, {}, &value}});
  const auto file = open_safetensors(path.string());
  try {
    file->read("nope.weight");
    ADD_FAILURE() << "unknown name accepted";
  } catch (const WeightLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("one.safetensors"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("nope.weight"), std::string::npos);
  }
}

TEST(SafetensorsTest, opens_tiny_internvl_checkpoint) {
  const auto path = ivs::test::internvl_tiny_dir() / "model.safetensors";
  INTERNVL_REQUIRE_PATH(path);
  const auto file = open_safetensors(path.string());
  ASSERT_EQ(file->tensors().size(), 90U);

  const TensorInfo* logit_scale = find_info(*file, "logit_scale");
  ASSERT_NE(logit_scale, nullptr);
  EXPECT_EQ(logit_scale->dtype, DType::kF32);
  EXPECT_TRUE(logit_scale->shape.empty());
  float value = 0.0F;
  std::memcpy(&value, file->read("logit_scale").data, sizeof(value));
  EXPECT_FLOAT_EQ(value, 3.950988531112671F);

  const TensorInfo* position = find_info(*file, "vision_model.embeddings.position_embedding");
  ASSERT_NE(position, nullptr);
  EXPECT_EQ(position->shape, (std::vector<int64_t>{1, 257, 64}));
  const TensorInfo* embed = find_info(*file, "qllama.model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{49954, 24}));
  EXPECT_EQ(file->read("qllama.model.embed_tokens.weight").strides, (std::vector<int64_t>{24, 1}));

  // tensors() is in data-offset order, so the views' addresses never go backwards.
  const unsigned char* previous = nullptr;
  for (const auto& info : file->tensors()) {
    const auto* data = static_cast<const unsigned char*>(file->read(info.name).data);
    EXPECT_LE(previous, data) << info.name;
    previous = data;
  }
}

TEST(SafetensorsTest, opens_internvit_tiny_checkpoint) {
  const auto path = ivs::test::internvl_tiny_dir() / "internvit-tiny" / "model.safetensors";
  INTERNVL_REQUIRE_PATH(path);
  EXPECT_EQ(open_safetensors(path.string())->tensors().size(), 30U);
}

struct HostileCase {
  const char* label;
  Bytes bytes;
  std::vector<std::string> needles;  // besides the file name
};

constexpr const char* kGoodEntry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

std::vector<HostileCase> hostile_cases() {
  const std::string good = kGoodEntry;
  // 100,000 levels of arrays in a tensor's shape and offsets: printing them for the error once
  // overflowed the stack (SIGSEGV in inspect and classify).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  return {
      {"shape_nested_deep",
       raw_file(R"({"w":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,8]}})", 8),
       {"deeper than 8 levels"}},
      {"offsets_nested_deep",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + deep + "}}", 8),
       {"deeper than 8 levels"}},
      {"short_file", Bytes{1, 2, 3}, {"shorter than the 8-byte"}},
      {"empty_file", Bytes{}, {"0 bytes"}},
      {"header_past_end", raw_file(1000, "{" + good + "}", 8), {"header length"}},
      {"header_absurd", raw_file(1ULL << 40, "{}", 0), {"header length"}},
      {"header_not_json", raw_file("{not json", 8), {"not valid"}},
      {"header_not_object", raw_file("[1,2]", 8), {"expected an object"}},
      {"header_duplicate_key", raw_file("{" + good + "," + good + "}", 8), {"'w' twice"}},
      {"entry_not_object", raw_file(R"({"w":5})", 8), {"'w'", "expected an object"}},
      {"missing_field",
       raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", 8),
       {"'w'", "data_offsets"}},
      {"extra_field",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8),
       {"'w'", "\"x\""}},
      {"unknown_dtype",
       raw_file(R"({"w":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,8]}})", 8),
       {"'w'", "F8_E9", "BF16", "F32"}},
      {"dtype_not_string",
       raw_file(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8),
       {"'w'", "dtype"}},
      {"shape_not_array",
       raw_file(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8),
       {"'w'", "shape"}},
      {"shape_negative",
       raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       {"'w'", "-2"}},
      {"shape_float",
       raw_file(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8),
       {"'w'", "shape"}},
      {"shape_overflow",
       raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
                8),
       {"'w'", "overflow"}},
      {"shape_beyond_int64",
       raw_file(R"({"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})", 0),
       {"'w'", "9223372036854775808", "non-negative integer"}},
      {"offsets_one_value",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
       {"'w'", "data_offsets"}},
      {"offsets_negative",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", 8),
       {"'w'", "data_offsets"}},
      {"offsets_reversed",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       {"'w'", "ends before it begins"}},
      {"offsets_past_data",
       raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
       {"'w'", "beyond the data section"}},
      {"size_mismatch",
       raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       {"'w'", "expected 12"}},
      {"overlap",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12),
       {"'a'", "'b'", "overlap"}},
      {"metadata_not_object", raw_file("{\"__metadata__\":3," + good + "}", 8), {"__metadata__"}},
      {"metadata_not_strings",
       raw_file("{\"__metadata__\":{\"k\":1}," + good + "}", 8),
       {"__metadata__", "\"k\""}},
  };
}

TEST(SafetensorsTest, hostile_headers_throw_weight_load_error_naming_file_and_tensor) {
  const auto dir = ivs::test::scratch_dir("safetensors_hostile");
  for (const auto& hostile : hostile_cases()) {
    SCOPED_TRACE(hostile.label);
    const auto path = dir / (std::string(hostile.label) + ".safetensors");
    write_bytes(path, hostile.bytes);
    auto needles = hostile.needles;
    needles.push_back(path.filename().string());
    expect_load_error(path, needles);
  }
}

// open() of a FIFO blocks until a writer comes: a weight file that is one once hung the
// loader (and the service, with SIGTERM ignored meanwhile) forever.
TEST(SafetensorsTest, fifo_and_device_are_refused_without_blocking) {
  const auto fifo = ivs::test::scratch_dir("safetensors_fifo") / "model.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_load_error(fifo, {"is a FIFO"});
  expect_load_error("/dev/zero", {"is a device"});
}

TEST(SafetensorsTest, zero_size_tensor_may_sit_inside_another_range) {
  const auto path = ivs::test::scratch_dir("safetensors_zero_size") / "zero.safetensors";
  write_bytes(path, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                             8));
  const auto file = open_safetensors(path.string());
  EXPECT_EQ(file->read("z").shape, (std::vector<int64_t>{0, 3}));
}

TEST(SafetensorsTest, missing_file_and_directory_throw_weight_load_error) {
  const auto dir = ivs::test::scratch_dir("safetensors_missing");
  expect_load_error(dir / "absent.safetensors", {"absent.safetensors", "does not exist"});
  expect_load_error(dir, {"safetensors_missing", "is a directory"});
}

// Opens a (possibly corrupted) file. Either it throws WeightLoadError, or every tensor reads back
// as exactly the bytes its header entry names, inside the file. Returns true when it opened.
bool open_or_reject(const std::filesystem::path& path, const Bytes& bytes) {
  std::unique_ptr<TensorFile> file;
  try {
    file = open_safetensors(path.string());
  } catch (const WeightLoadError&) {
    return false;
  }
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | bytes.at(i);
  const auto* header_begin = reinterpret_cast<const char*>(bytes.data()) + 8;
  const auto header = nlohmann::json::parse(header_begin, header_begin + header_length);
  for (const auto& info : file->tensors()) {
    const TensorView view = file->read(info.name);
    const auto& offsets = header.at(info.name).at("data_offsets");
    const std::uint64_t begin = 8 + header_length + offsets.at(0).get<std::uint64_t>();
    const std::uint64_t end = 8 + header_length + offsets.at(1).get<std::uint64_t>();
    EXPECT_LE(begin, end);
    EXPECT_LE(end, bytes.size()) << info.name;
    std::uint64_t count = dtype_size(view.dtype);
    for (auto dim : view.shape) count *= static_cast<std::uint64_t>(dim);
    EXPECT_EQ(count, end - begin) << info.name;
    if (count > 0 && end <= bytes.size()) {
      EXPECT_EQ(std::memcmp(view.data, bytes.data() + begin, count), 0) << info.name;
    }
  }
  return true;
}

Bytes small_valid_file(const std::filesystem::path& dir) {
  const std::vector<float> f32{1.0F, 2.0F, 3.0F, 4.0F};
  const std::vector<std::uint16_t> bf16{0x3f80, 0x4000, 0x4040};
  const std::int64_t scalar = 42;
  const auto path = dir / "valid.safetensors";
  write_safetensors(path.string(),
                    {{"a.weight", DType::kF32, {2, 2}, f32.data()},
                     {"b", DType::kBF16, {3}, bf16.data()},
                     {"c", DType::kI64, {}, &scalar}},
                    {{"format", "pt"}});
  return read_bytes(path);
}

TEST(SafetensorsTest, every_truncation_is_rejected_or_read_in_bounds) {
  const auto dir = ivs::test::scratch_dir("safetensors_truncate");
  const Bytes valid = small_valid_file(dir);
  const auto path = dir / "cut.safetensors";
  write_bytes(path, valid);
  // Shrinking one file in place is far cheaper than rewriting a fresh file per length.
  for (std::size_t length = valid.size() + 1; length-- > 0;) {
    const Bytes cut(valid.begin(), valid.begin() + static_cast<long>(length));
    std::filesystem::resize_file(path, length);
    try {
      EXPECT_EQ(open_or_reject(path, cut), length == valid.size()) << "length " << length;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "length " << length << ": unexpected exception " << error.what();
    }
  }
}

TEST(SafetensorsTest, random_header_corruption_is_rejected_or_read_in_bounds) {
  const auto dir = ivs::test::scratch_dir("safetensors_fuzz");
  const Bytes valid = small_valid_file(dir);
  const auto path = dir / "fuzz.safetensors";
  write_bytes(path, valid);
  // Every mutant has the same size, so it is written over the previous one in place.
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  const std::string interesting = "0123456789[]{},:\" -";
  std::mt19937 rng(20240607);
  const std::size_t span = std::min<std::size_t>(valid.size(), 200);
  int opened = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    Bytes bytes = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      // Syntax characters keep the JSON parseable often enough to reach the semantic checks.
      const auto value = rng() % 2 == 0
                             ? static_cast<unsigned char>(rng())
                             : static_cast<unsigned char>(interesting[rng() % interesting.size()]);
      bytes[rng() % span] = value;
    }
    out.seekp(0);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.flush();
    ASSERT_TRUE(out.good());
    try {
      opened += open_or_reject(path, bytes) ? 1 : 0;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "iteration " << iteration << ": unexpected exception " << error.what();
    }
    if (HasFailure()) break;
  }
  // Some mutations (inside padding or data-neutral digits) must still open, or the fuzz is moot.
  EXPECT_GT(opened, 0);
}

}  // namespace
}  // namespace ivs::model
