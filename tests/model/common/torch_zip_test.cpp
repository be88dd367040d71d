// SPDX-License-Identifier: Apache-2.0
#include "model/common/torch_zip.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/common/errors.h"
#include "model/common/safetensors.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;
using Entries = std::vector<std::pair<std::string, std::string>>;  // zip entry name, bytes

fs::path data_dir() { return ivs::test::source_dir() / "tests" / "data" / "model"; }

// --- Reading views ----------------------------------------------------------------------------

float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float out = 0.0F;
  std::memcpy(&out, &wide, sizeof(out));
  return out;
}

// Normal and zero half floats only; the fixtures hold nothing else.
float f16_to_float(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const float mantissa = static_cast<float>(bits & 0x3ff) / 1024.0F;
  const float magnitude = exponent == 0 ? 0.0F : std::ldexp(1.0F + mantissa, exponent - 15);
  return (bits & 0x8000) != 0 ? -magnitude : magnitude;
}

template <typename T>
double load(const void* data, int64_t element) {
  T value;
  std::memcpy(&value, static_cast<const char*>(data) + element * sizeof(T), sizeof(T));
  return static_cast<double>(value);
}

double element_at(const TensorView& view, int64_t element) {
  switch (view.dtype) {
    case DType::kF64:
      return load<double>(view.data, element);
    case DType::kF32:
      return load<float>(view.data, element);
    case DType::kF16:
      return f16_to_float(static_cast<uint16_t>(load<uint16_t>(view.data, element)));
    case DType::kBF16:
      return bf16_to_float(static_cast<uint16_t>(load<uint16_t>(view.data, element)));
    case DType::kI64:
      return load<int64_t>(view.data, element);
    case DType::kI32:
      return load<int32_t>(view.data, element);
    case DType::kI16:
      return load<int16_t>(view.data, element);
    case DType::kI8:
      return load<int8_t>(view.data, element);
    case DType::kU8:
      return load<uint8_t>(view.data, element);
    case DType::kBool:
      return load<uint8_t>(view.data, element);
  }
  return 0.0;
}

// Every element of the view in row-major order of its shape, following its strides.
std::vector<double> values(const TensorView& view) {
  int64_t count = 1;
  for (int64_t size : view.shape) count *= size;
  std::vector<double> out;
  std::vector<int64_t> index(view.shape.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t element = 0;
    for (std::size_t d = 0; d < index.size(); ++d) element += index[d] * view.strides[d];
    out.push_back(element_at(view, element));
    for (std::size_t d = index.size(); d-- > 0;) {
      if (++index[d] < view.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

std::vector<double> arange(int count, double scale = 1.0, double start = 0.0) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + scale * i);
  return out;
}

// --- Building archives ------------------------------------------------------------------------

// A small pickle assembler for hand-made state dicts and hostile inputs.
class PickleWriter {
 public:
  PickleWriter& op(char code) {
    out_ += code;
    return *this;
  }
  PickleWriter& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    out_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleWriter& str(const std::string& text) {
    out_ += 'X';
    little_endian(text.size(), 4);
    out_ += text;
    return *this;
  }
  PickleWriter& integer(int64_t value) {
    if (value >= 0 && value < 256) {
      out_ += 'K';
      little_endian(static_cast<uint64_t>(value), 1);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      out_ += 'J';
      little_endian(static_cast<uint64_t>(value), 4);
    } else {
      out_ += "\x8a\x08";  // LONG1 with 8 bytes
      little_endian(static_cast<uint64_t>(value), 8);
    }
    return *this;
  }
  PickleWriter& int_tuple(const std::vector<int64_t>& items) {
    op('(');
    for (int64_t item : items) integer(item);
    return op('t');
  }
  // torch._utils._rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), offset, size,
  // stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_class, const std::string& key, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& size,
                       const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage");
    global("torch", storage_class).str(key).str("cpu").integer(numel).op('t').op('Q');
    integer(offset).int_tuple(size).int_tuple(stride).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  std::string bytes() const { return out_; }

 private:
  void little_endian(uint64_t value, int count) {
    for (int i = 0; i < count; ++i) out_ += static_cast<char>((value >> (8 * i)) & 0xff);
  }
  std::string out_;
};

struct TensorSpec {
  std::string name;
  std::string key;
  int64_t numel;
  int64_t offset;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

// {name: tensor, ...} as a plain dict of float32 tensors, protocol 2.
std::string state_dict_pickle(const std::vector<TensorSpec>& specs) {
  PickleWriter pickle;
  pickle.raw("\x80\x02").op('}').op('(');
  for (const auto& spec : specs) {
    pickle.str(spec.name).tensor("FloatStorage", spec.key, spec.numel, spec.offset, spec.size,
                                 spec.stride);
  }
  return pickle.op('u').op('.').bytes();
}

std::string float_bytes(const std::vector<float>& floats) {
  std::string out(floats.size() * sizeof(float), '\0');
  std::memcpy(out.data(), floats.data(), out.size());
  return out;
}

void write_zip(const fs::path& path, const Entries& entries,
               zip_int32_t compression = ZIP_CM_STORE) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(zip, nullptr) << "cannot create " << path;
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = zip_file_add(zip, name.c_str(), source, ZIP_FL_OVERWRITE);
    ASSERT_GE(index, 0) << zip_strerror(zip);
    zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), compression, 0);
  }
  ASSERT_EQ(zip_close(zip), 0) << "cannot write " << path;
}

// A torch.save-shaped archive: archive/data.pkl, archive/version and archive/data/<key>.
Entries archive(const std::string& pickle, const Entries& storages) {
  Entries entries{{"archive/data.pkl", pickle}, {"archive/version", "3\n"}};
  for (const auto& [key, bytes] : storages) entries.emplace_back("archive/data/" + key, bytes);
  return entries;
}

Entries read_zip(const fs::path& path) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &error);
  Entries entries;
  if (zip == nullptr) return entries;
  for (zip_int64_t i = 0; i < zip_get_num_entries(zip, 0); ++i) {
    zip_stat_t stat;
    zip_stat_index(zip, static_cast<zip_uint64_t>(i), 0, &stat);
    std::string bytes(stat.size, '\0');
    zip_file_t* file = zip_fopen_index(zip, static_cast<zip_uint64_t>(i), 0);
    zip_fread(file, bytes.data(), bytes.size());
    zip_fclose(file);
    entries.emplace_back(stat.name, std::move(bytes));
  }
  zip_discard(zip);
  return entries;
}

// Opens `path` and reads every tensor; returns the WeightLoadError message, "" when all worked.
// Any other exception escapes and fails the test.
std::string load_error(const fs::path& path) {
  try {
    auto file = open_torch_zip(path.string());
    for (const auto& info : file->tensors()) file->read(info.name);
  } catch (const WeightLoadError& error) {
    return error.what();
  }
  return "";
}

void expect_load_error(const fs::path& path, const std::vector<std::string>& needles) {
  const std::string message = load_error(path);
  ASSERT_FALSE(message.empty()) << "no WeightLoadError for " << path;
  EXPECT_NE(message.find(path.string()), std::string::npos)
      << "message lacks the file: " << message;
  for (const auto& needle : needles) {
    EXPECT_NE(message.find(needle), std::string::npos)
        << "message lacks '" << needle << "': " << message;
  }
}

// --- Fixtures written by make_torch_bin_fixtures.py --------------------------------------------

struct Expected {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  std::vector<double> values;  // row-major over `shape`
};

std::vector<Expected> mixed_expectations() {
  return {
      {"bf16", DType::kBF16, {2, 3}, {3, 1}, arange(6)},
      {"f16", DType::kF16, {4}, {1}, arange(4, 0.5)},
      {"f32", DType::kF32, {3, 4}, {4, 1}, arange(12, 0.25, -1.0)},
      {"f64", DType::kF64, {3}, {1}, arange(3, 0.125)},
      {"i64", DType::kI64, {5}, {1}, arange(5, 3.0, -7.0)},
      {"i32", DType::kI32, {4}, {1}, arange(4, 1.0, -2.0)},
      {"i16", DType::kI16, {3}, {1}, arange(3, 1000.0)},
      {"i8", DType::kI8, {4}, {1}, arange(4, 1.0, -1.0)},
      {"u8", DType::kU8, {4}, {1}, arange(4, 60.0)},
      {"bool", DType::kBool, {5}, {1}, {1, 0, 1, 0, 1}},
      {"scalar", DType::kF32, {}, {}, {2.5}},
      {"transposed", DType::kF32, {3, 2}, {1, 3}, {0, 3, 1, 4, 2, 5}},
      {"shared.head", DType::kF32, {4}, {1}, arange(4, 1.0, 2.0)},
      {"shared.tail", DType::kF32, {2, 3}, {3, 1}, arange(6, 1.0, 4.0)},
      {"param", DType::kF32, {3}, {1}, arange(3, 1.0, 1.0)},
  };
}

void expect_tensors(TensorFile& file, const std::vector<Expected>& expected) {
  ASSERT_EQ(file.tensors().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Expected& want = expected[i];
    const TensorInfo& info = file.tensors()[i];
    EXPECT_EQ(info.name, want.name) << "tensors() must keep pickle order";
    EXPECT_EQ(info.dtype, want.dtype) << want.name;
    EXPECT_EQ(info.shape, want.shape) << want.name;
    const TensorView view = file.read(want.name);
    EXPECT_EQ(view.dtype, want.dtype) << want.name;
    EXPECT_EQ(view.shape, want.shape) << want.name;
    EXPECT_EQ(view.strides, want.strides) << want.name;
    EXPECT_EQ(values(view), want.values) << want.name;
  }
}

TEST(TorchZipTest, reads_every_dtype_and_layout_of_ordered_dict_fixture) {
  const fs::path path = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(path);
  auto file = open_torch_zip(path.string());
  EXPECT_EQ(file->path(), path.string());
  expect_tensors(*file, mixed_expectations());
}

TEST(TorchZipTest, views_of_one_storage_share_the_cached_bytes) {
  const fs::path path = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(path);
  auto file = open_torch_zip(path.string());
  const auto* head = static_cast<const float*>(file->read("shared.head").data);
  const auto* tail = static_cast<const float*>(file->read("shared.tail").data);
  EXPECT_EQ(tail - head, 2) << "both views must point into the one cached storage";
  EXPECT_EQ(tail[0], 4.0F);
  // Reading another storage and coming back reloads it correctly.
  EXPECT_EQ(values(file->read("param")), arange(3, 1.0, 1.0));
  EXPECT_EQ(values(file->read("shared.head")), arange(4, 1.0, 2.0));
}

// The cached storage serves every view of it without touching the file again; only a tensor of
// another storage goes back to the archive, which has been truncated meanwhile. (Storages are
// larger than stdio's buffer so that the truncation cannot be hidden by it.)
TEST(TorchZipTest, reads_a_storage_once_for_all_its_views) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_cache") / "cache.bin";
  constexpr int64_t kNumel = 16384;
  const std::string pickle =
      state_dict_pickle({{"a.head", "0", kNumel, 0, {kNumel / 2}, {1}},
                         {"a.tail", "0", kNumel, kNumel / 2, {kNumel / 2}, {1}},
                         {"b", "1", kNumel, 0, {kNumel}, {1}}});
  std::vector<float> floats(kNumel);
  for (std::size_t i = 0; i < floats.size(); ++i) floats[i] = static_cast<float>(i);
  write_zip(path, archive(pickle, {{"0", float_bytes(floats)}, {"1", float_bytes(floats)}}));
  auto file = open_torch_zip(path.string());
  EXPECT_EQ(values(file->read("a.head")), arange(kNumel / 2));
  std::ofstream(path, std::ios::binary | std::ios::trunc).close();
  EXPECT_EQ(values(file->read("a.tail")), arange(kNumel / 2, 1.0, kNumel / 2));
  EXPECT_EQ(values(file->read("a.head")), arange(kNumel / 2));
  try {
    file->read("b");
    ADD_FAILURE() << "reading a new storage from the truncated file must fail";
  } catch (const WeightLoadError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("'b'"), std::string::npos) << message;
  }
}

TEST(TorchZipTest, reads_protocol_4_pickle_with_frames_and_stack_globals) {
  const fs::path path = data_dir() / "torch_protocol4.bin";
  INTERNVL_REQUIRE_PATH(path);
  auto file = open_torch_zip(path.string());
  expect_tensors(*file, {{"weight", DType::kF32, {3, 2}, {2, 1}, arange(6)},
                         {"bias", DType::kF32, {3}, {1}, arange(3, 1.0, -1.0)}});
}

TEST(TorchZipTest, reads_both_bf16_shards_named_in_index_json) {
  const fs::path folder = data_dir() / "torch_sharded_bf16";
  INTERNVL_REQUIRE_PATH(folder / "pytorch_model.bin.index.json");
  std::ifstream in(folder / "pytorch_model.bin.index.json");
  const auto index = nlohmann::json::parse(in);
  const std::vector<Expected> expected{
      {"embed.weight", DType::kBF16, {4, 3}, {3, 1}, arange(12)},
      {"layers.0.weight", DType::kBF16, {3, 3}, {3, 1}, arange(9, 1.0, 100.0)},
      {"layers.1.weight", DType::kBF16, {3, 3}, {3, 1}, arange(9, 1.0, 200.0)},
      {"norm.weight", DType::kBF16, {3}, {1}, arange(3, 1.0, 1.0)},
  };
  int64_t total_bytes = 0;
  for (const Expected& want : expected) {
    const std::string shard = index.at("weight_map").at(want.name).get<std::string>();
    auto file = open_torch_zip((folder / shard).string());
    const TensorView view = file->read(want.name);
    EXPECT_EQ(view.shape, want.shape) << want.name;
    EXPECT_EQ(values(view), want.values) << want.name << " in " << shard;
    total_bytes += static_cast<int64_t>(want.values.size() * 2);
  }
  EXPECT_EQ(index.at("metadata").at("total_size").get<int64_t>(), total_bytes);
  EXPECT_EQ(
      open_torch_zip((folder / "pytorch_model-00001-of-00002.bin").string())->tensors().size(), 2U);
}

// --- The official-format tiny checkpoint --------------------------------------------------------

const TensorInfo* find_info(const TensorFile& file, const std::string& name) {
  for (const auto& info : file.tensors()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

TEST(TorchZipTest, opens_tiny_internvl_checkpoint) {
  const fs::path path = ivs::test::internvl_tiny_bin_path();
  INTERNVL_REQUIRE_PATH(path);
  auto file = open_torch_zip(path.string());
  ASSERT_EQ(file->tensors().size(), 90U);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes{
      {"logit_scale", {}},
      {"vision_model.embeddings.position_embedding", {1, 257, 64}},
      {"qllama.model.embed_tokens.weight", {49954, 24}},
  };
  for (const auto& [name, shape] : shapes) {
    const TensorInfo* info = find_info(*file, name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->shape, shape) << name;
    EXPECT_EQ(info->dtype, DType::kF32) << name;
  }
}

TEST(TorchZipTest, tiny_internvl_bin_matches_its_safetensors_bit_for_bit) {
  const fs::path bin_path = ivs::test::internvl_tiny_bin_path();
  const fs::path st_path = ivs::test::internvl_tiny_dir() / "model.safetensors";
  INTERNVL_REQUIRE_PATH(bin_path);
  INTERNVL_REQUIRE_PATH(st_path);
  auto bin = open_torch_zip(bin_path.string());
  auto safetensors = open_safetensors(st_path.string());
  ASSERT_EQ(bin->tensors().size(), safetensors->tensors().size());
  for (const TensorInfo& info : bin->tensors()) {
    const TensorView from_bin = bin->read(info.name);
    const TensorView from_st = safetensors->read(info.name);
    ASSERT_EQ(from_bin.dtype, from_st.dtype) << info.name;
    ASSERT_EQ(from_bin.shape, from_st.shape) << info.name;
    ASSERT_EQ(from_bin.strides, from_st.strides) << info.name << " is not contiguous in the .bin";
    std::size_t bytes = dtype_size(info.dtype);
    for (int64_t size : info.shape) bytes *= static_cast<std::size_t>(size);
    EXPECT_EQ(std::memcmp(from_bin.data, from_st.data, bytes), 0) << info.name;
  }
}

// --- Hand-made archives -----------------------------------------------------------------------

TEST(TorchZipTest, reads_hand_made_pickle_with_long_memo_and_wide_integers) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_hand_made") / "hand.bin";
  // OrderedDict {"w": tensor} memoised with LONG_BINPUT, numel 300 as BININT, offset 290 as
  // BININT2, then BUILD with a state holding a list of BINFLOAT, LONG1, None and an
  // OrderedDict() fetched back with LONG_BINGET.
  PickleWriter pickle;
  pickle.raw("\x80\x02").global("collections", "OrderedDict").raw("r\x05\x00\x00\x00"s);
  pickle.op(')').op('R').op('(').str("w");
  pickle.tensor("FloatStorage", "k", 300, 290, {2, 5}, {5, 1}).op('u');
  pickle.op('}').str("_metadata").op(']').op('(').raw("G\x3f\xf8\x00\x00\x00\x00\x00\x00"s);
  pickle.raw("\x8a\x02\xff\x7f").op('N').raw("j\x05\x00\x00\x00"s).op(')').op('R');
  pickle.op('e').op('s').op('b').op('.');
  std::vector<float> floats(300);
  for (std::size_t i = 0; i < floats.size(); ++i) floats[i] = static_cast<float>(i);
  write_zip(path, archive(pickle.bytes(), {{"k", float_bytes(floats)}}));
  auto file = open_torch_zip(path.string());
  expect_tensors(*file, {{"w", DType::kF32, {2, 5}, {5, 1}, arange(10, 1.0, 290.0)}});
}

TEST(TorchZipTest, byteorder_entry_must_say_little) {
  const fs::path dir = ivs::test::scratch_dir("torch_zip_byteorder");
  const std::string pickle = state_dict_pickle({{"w", "0", 2, 0, {2}, {1}}});
  Entries entries = archive(pickle, {{"0", float_bytes({1.0F, 2.0F})}});
  entries.emplace_back("archive/byteorder", "little");
  write_zip(dir / "little.bin", entries);
  EXPECT_EQ(values(open_torch_zip((dir / "little.bin").string())->read("w")),
            (std::vector<double>{1.0, 2.0}));
  entries.back().second = "big";
  write_zip(dir / "big.bin", entries);
  expect_load_error(dir / "big.bin", {"byteorder", "big", "little-endian"});
}

TEST(TorchZipTest, read_of_unknown_name_names_file_and_tensor) {
  const fs::path path = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(path);
  auto file = open_torch_zip(path.string());
  try {
    file->read("no.such.tensor");
    ADD_FAILURE() << "no WeightLoadError";
  } catch (const WeightLoadError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("no.such.tensor"), std::string::npos) << message;
  }
}

// --- Hostile and broken inputs ------------------------------------------------------------------

TEST(TorchZipTest, refuses_globals_outside_the_allow_list) {
  const fs::path dir = ivs::test::scratch_dir("torch_zip_globals");
  struct Case {
    std::string file;
    std::string pickle;
    std::string asked;
  };
  const std::vector<Case> cases{
      {"os_system.bin",
       PickleWriter()
           .raw("\x80\x02")
           .global("os", "system")
           .str("ls")
           .op('\x85')
           .op('R')
           .op('.')
           .bytes(),
       "os.system"},
      {"posix_system.bin", PickleWriter().raw("\x80\x02").global("posix", "system").op('.').bytes(),
       "posix.system"},
      // protocol 4 spells the global as two strings and STACK_GLOBAL
      {"builtins_eval.bin",
       PickleWriter()
           .raw("\x80\x04")
           .str("builtins")
           .str("eval")
           .op('\x93')
           .str("1")
           .op('\x85')
           .op('R')
           .op('.')
           .bytes(),
       "builtins.eval"},
      {"torch_load.bin", PickleWriter().raw("\x80\x02").global("torch", "load").op('.').bytes(),
       "torch.load"},
      {"storage_elsewhere.bin",
       PickleWriter().raw("\x80\x02").global("numpy", "FloatStorage").op('.').bytes(),
       "numpy.FloatStorage"},
  };
  for (const Case& c : cases) {
    write_zip(dir / c.file, archive(c.pickle, {}));
    expect_load_error(dir / c.file,
                      {"refusing to load", "asks for " + c.asked, "only tensor storages"});
  }
}

TEST(TorchZipTest, refuses_unknown_opcode_naming_byte_and_offset) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_opcode") / "opcode.bin";
  // PROTO 2, EMPTY_DICT, then INST ('i'), which torch.save never writes.
  write_zip(path, archive(std::string("\x80\x02}i", 4), {}));
  expect_load_error(path, {"opcode 0x69", "at byte 3", "unsupported"});
  write_zip(path, archive(std::string("\x80\x02\xff", 3), {}));
  expect_load_error(path, {"opcode 0xff", "at byte 2"});
}

// Millions of cheap opcodes in a pickle within the size limit (it compresses to kilobytes)
// once made the reader allocate gigabytes before it failed.
TEST(TorchZipTest, refuses_pickles_that_make_millions_of_objects) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_objects") / "objects.bin";
  const std::size_t count = 3'000'000;
  // EMPTY_LIST over and over: one new object each.
  write_zip(path, archive("\x80\x02" + std::string(count, ']') + ".", {}));
  expect_load_error(path, {"more than 2097152 objects", "data.pkl"});
  // One list, stored in the memo, then BINGET of it over and over: one reference each.
  std::string gets = "\x80\x02]q";
  gets += '\0';
  for (std::size_t i = 0; i < count; ++i) gets += std::string("h\0", 2);
  write_zip(path, archive(gets + ".", {}));
  expect_load_error(path, {"more than 2097152 objects"});
}

// A storage of zeros deflated a thousand times over: a 16 KB file that once made the loader
// allocate the whole inflated buffer.
TEST(TorchZipTest, refuses_storages_that_inflate_like_a_zip_bomb) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_bomb") / "bomb.bin";
  const int64_t numel = int64_t{4} << 20;  // 16 MiB of float zeros
  const std::string pickle = state_dict_pickle({{"w", "0", numel, 0, {numel}, {1}}});
  write_zip(path, archive(pickle, {{"0", std::string(static_cast<std::size_t>(numel) * 4, '\0')}}),
            ZIP_CM_DEFLATE);
  ASSERT_LT(fs::file_size(path), 100'000U);
  expect_load_error(path, {"storage", "inflates", "more than 16 times"});
  // Deflated but hardly compressible, as re-packed weights are: still read.
  std::vector<float> noise(4096);
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = std::sin(static_cast<float>(i) * 7.1F);
  write_zip(
      path,
      archive(state_dict_pickle({{"w", "0", 4096, 0, {4096}, {1}}}), {{"0", float_bytes(noise)}}),
      ZIP_CM_DEFLATE);
  auto file = open_torch_zip(path.string());
  EXPECT_EQ(std::memcmp(file->read("w").data, noise.data(), noise.size() * 4), 0);
}

TEST(TorchZipTest, every_truncation_of_a_pickle_is_refused) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_truncated") / "truncated.bin";
  const std::string pickle = state_dict_pickle({{"w", "0", 2, 0, {2}, {1}}});
  for (std::size_t length = 0; length < pickle.size(); ++length) {
    write_zip(path, archive(pickle.substr(0, length), {{"0", float_bytes({1.0F, 2.0F})}}));
    const std::string message = load_error(path);
    EXPECT_NE(message.find(path.string()), std::string::npos)
        << "length " << length << ": " << message;
  }
  write_zip(path, archive(pickle.substr(0, pickle.size() - 1), {{"0", float_bytes({1, 2})}}));
  expect_load_error(path, {"data.pkl", "truncated"});
}

TEST(TorchZipTest, refuses_storage_whose_bytes_do_not_match_numel) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_short") / "short.bin";
  const std::string pickle = state_dict_pickle({{"w", "0", 6, 0, {2, 3}, {3, 1}}});
  write_zip(path, archive(pickle, {{"0", float_bytes({1.0F, 2.0F, 3.0F, 4.0F, 5.0F})}}));
  expect_load_error(path, {"'w'", "archive/data/0", "20 bytes", "6 float32 elements", "24 bytes"});
}

TEST(TorchZipTest, refuses_missing_storage_entry) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_missing") / "missing.bin";
  const std::string pickle = state_dict_pickle({{"w", "7", 2, 0, {2}, {1}}});
  write_zip(path, archive(pickle, {{"0", float_bytes({1.0F, 2.0F})}}));
  expect_load_error(path, {"'w'", "archive/data/7", "missing"});
}

TEST(TorchZipTest, refuses_views_outside_their_storage) {
  const fs::path dir = ivs::test::scratch_dir("torch_zip_views");
  const int64_t kHuge = int64_t{1} << 62;
  const std::vector<TensorSpec> cases{
      {"past_end", "0", 6, 1, {2, 3}, {3, 1}},
      {"offset_past_end", "0", 6, 6, {}, {}},
      {"negative_offset", "0", 6, -1, {2}, {1}},
      {"negative_stride", "0", 6, 5, {2}, {-1}},
      {"negative_size", "0", 6, 0, {-2}, {1}},
      {"overflowing_stride", "0", 6, 0, {3, 2}, {kHuge, 1}},
      {"overflowing_sum", "0", 6, 0, {2, 2}, {kHuge, kHuge}},
      {"empty_but_offset_past_end", "0", 6, 7, {0, 3}, {3, 1}},
  };
  for (const TensorSpec& spec : cases) {
    const fs::path path = dir / (spec.name + ".bin");
    write_zip(path, archive(state_dict_pickle({spec}), {{"0", float_bytes({0, 1, 2, 3, 4, 5})}}));
    expect_load_error(path, {"'" + spec.name + "'", "does not fit inside its storage"});
  }
  // An empty view and a broadcast (stride 0) view inside the storage are fine.
  const fs::path ok = dir / "ok.bin";
  write_zip(ok, archive(state_dict_pickle({{"empty", "0", 6, 6, {0, 3}, {3, 1}},
                                           {"broadcast", "0", 6, 5, {2, 2}, {0, 0}}}),
                        {{"0", float_bytes({0, 1, 2, 3, 4, 5})}}));
  EXPECT_EQ(load_error(ok), "");
  EXPECT_EQ(values(open_torch_zip(ok.string())->read("broadcast")),
            (std::vector<double>{5, 5, 5, 5}));
}

TEST(TorchZipTest, refuses_non_zip_and_legacy_files) {
  const fs::path dir = ivs::test::scratch_dir("torch_zip_not_zip");
  std::ofstream(dir / "text.bin") << "this is not a checkpoint\n";
  expect_load_error(dir / "text.bin",
                    {"not a zip archive", "_use_new_zipfile_serialization=True", "safetensors"});
  // The legacy format starts with a protocol-2 pickle of torch's magic number.
  std::ofstream(dir / "legacy.bin", std::ios::binary)
      << std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  expect_load_error(dir / "legacy.bin", {"legacy", "_use_new_zipfile_serialization=True"});
  expect_load_error(dir / "absent.bin", {"no such file"});
  expect_load_error(dir, {"a directory"});
}

TEST(TorchZipTest, refuses_truncated_archive) {
  const fs::path source = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(source);
  const fs::path path = ivs::test::scratch_dir("torch_zip_cut") / "cut.bin";
  std::ifstream in(source, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  expect_load_error(path, {"truncated", "download or save it again"});
}

// A bit flipped in a storage under its stale CRC-32 (torch.save stores entries uncompressed, so
// nothing else notices) once loaded silently different weights.
TEST(TorchZipTest, refuses_storage_whose_crc_does_not_match) {
  const fs::path source = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(source);
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The first storage's local file header: 30 bytes, the name, the extra field, then the data.
  const std::size_t name = bytes.find("/data/0");
  ASSERT_NE(name, std::string::npos);
  const std::size_t header = bytes.rfind("PK\x03\x04", name);
  ASSERT_NE(header, std::string::npos);
  const auto u16 = [&](std::size_t at) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[at])) |
           static_cast<std::size_t>(static_cast<unsigned char>(bytes[at + 1])) << 8;
  };
  const std::size_t data = header + 30 + u16(header + 26) + u16(header + 28);
  ASSERT_LT(data, bytes.size());
  bytes[data] = static_cast<char>(bytes[data] ^ 0x40);
  const fs::path path = ivs::test::scratch_dir("torch_zip_crc") / "flipped.bin";
  std::ofstream(path, std::ios::binary) << bytes;
  auto file = open_torch_zip(path.string());
  try {
    for (const TensorInfo& info : file->tensors()) file->read(info.name);
    FAIL() << "a storage with a wrong CRC was read";
  } catch (const WeightLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("CRC"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("flipped.bin"), std::string::npos) << error.what();
  }
}

TEST(TorchZipTest, refuses_a_fifo_without_blocking) {
  const auto fifo = ivs::test::scratch_dir("torch_zip_fifo") / "pytorch_model.bin";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_load_error(fifo, {"is a FIFO"});
}

TEST(TorchZipTest, refuses_zip_without_data_pkl) {
  const fs::path path = ivs::test::scratch_dir("torch_zip_no_pickle") / "no_pickle.bin";
  write_zip(path, {{"archive/version", "3\n"}, {"archive/data/0", "abcd"}});
  expect_load_error(path, {"data.pkl", "not a torch.save checkpoint"});
}

TEST(TorchZipTest, refuses_root_objects_that_are_not_flat_state_dicts) {
  const fs::path dir = ivs::test::scratch_dir("torch_zip_roots");
  const auto tensor = [](PickleWriter& pickle) -> PickleWriter& {
    return pickle.tensor("FloatStorage", "0", 2, 0, {2}, {1});
  };
  PickleWriter bare;
  bare.raw("\x80\x02");
  PickleWriter nested;
  nested.raw("\x80\x02").op('}').str("model").op('}').str("w");
  PickleWriter int_key;
  int_key.raw("\x80\x02").op('}').integer(3);
  PickleWriter twice;
  twice.raw("\x80\x02").op('}').op('(').str("w");
  tensor(twice).str("w");
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
      {tensor(bare).op('.').bytes(), {"holds a tensor", "not a dict"}},
      {tensor(nested).op('s').op('s').op('.').bytes(), {"'model' is a dict", "not a tensor"}},
      {tensor(int_key).op('s').op('.').bytes(), {"key #0", "an int"}},
      {tensor(twice).op('u').op('.').bytes(), {"'w' twice"}},
      {PickleWriter().raw("\x80\x02]").op('.').bytes(), {"a list"}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const fs::path path = dir / ("root" + std::to_string(i) + ".bin");
    write_zip(path, archive(cases[i].first, {{"0", float_bytes({1.0F, 2.0F})}}));
    expect_load_error(path, cases[i].second);
  }
}

TEST(TorchZipTest, random_corruption_of_fixture_pickle_never_crashes) {
  const fs::path source = data_dir() / "torch_mixed.bin";
  INTERNVL_REQUIRE_PATH(source);
  const Entries original = read_zip(source);
  ASSERT_EQ(original.front().first, "torch_mixed/data.pkl");
  const fs::path path = ivs::test::scratch_dir("torch_zip_fuzz") / "fuzz.bin";
  std::mt19937 rng(20240611);
  for (int round = 0; round < 300; ++round) {
    Entries entries = original;
    std::string& pickle = entries.front().second;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) pickle[rng() % pickle.size()] = static_cast<char>(rng());
    write_zip(path, entries);
    const std::string message = load_error(path);  // any non-WeightLoadError fails the test
    if (!message.empty()) {
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace ivs::model
