// SPDX-License-Identifier: Apache-2.0
#include "model/common/safetensors.h"
#include "model/common/regular_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

using nlohmann::json;

constexpr std::size_t kPrefixBytes = 8;  // little-endian u64 header length
// Real headers are kilobytes; a bigger claim is corruption, and parsing it would waste memory.
constexpr std::uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kCorruptHint =
    "The file is corrupt, truncated or not a safetensors file; re-export or re-download it";
constexpr std::array<DType, 10> kAllDTypes{DType::kF64, DType::kF32, DType::kF16, DType::kBF16,
                                           DType::kI64, DType::kI32, DType::kI16, DType::kI8,
                                           DType::kU8,  DType::kBool};

[[noreturn]] void fail(const std::string& path, const std::string& problem,
                       const char* hint = kCorruptHint) {
  throw WeightLoadError("safetensors file '" + path + "': " + problem + ". " + hint + ".");
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& problem, const char* hint = kCorruptHint) {
  fail(path, "tensor '" + name + "': " + problem, hint);
}

std::string supported_dtype_names() {
  std::string names;
  for (DType dtype : kAllDTypes) {
    if (!names.empty()) names += ", ";
    names += dtype_safetensors_name(dtype);
  }
  return names;
}

// A JSON value for a message, cut short so that a hostile header cannot flood the log.
// The deepest nesting a header may have: tensors (1) of fields (2) holding arrays (3), with room.
constexpr int kMaxHeaderDepth = 8;

std::string brief(const json& value) {
  constexpr std::size_t kMaxChars = 64;
  std::string text = value.dump();
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return text;
}

// Product of `factors`, or false when it does not fit in 64 bits.
bool checked_product(const std::vector<std::uint64_t>& factors, std::uint64_t& product) {
  product = 1;
  for (std::uint64_t factor : factors) {
    if (__builtin_mul_overflow(product, factor, &product)) return false;
  }
  return true;
}

// A read-only private mapping of a whole file. The descriptor is closed right after mmap: the
// mapping keeps the file alive. If another process truncates the file while it is mapped,
// touching the lost pages raises SIGBUS; no reader can guard against that.
class Mapping {
 public:
  explicit Mapping(const std::string& path) {
    const std::string not_file = special_file_kind(path);
    if (!not_file.empty()) {
      fail(path, not_file, "Pass the path of the checkpoint's model.safetensors");
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      fail(path,
           error == ENOENT ? "file does not exist"
                           : std::string("cannot be opened: ") + std::strerror(error),
           "Check the path and its permissions");
    }
    try {
      map(path, fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }
  ~Mapping() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const unsigned char* data() const { return static_cast<const unsigned char*>(data_); }
  std::size_t size() const { return size_; }

 private:
  void map(const std::string& path, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file", "Pass the path of a file");
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;  // mmap rejects length 0; the parser reports the short file
    void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) fail(path, std::string("cannot mmap: ") + std::strerror(errno));
    data_ = data;
  }

  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// Where a tensor's bytes live, relative to the start of the data section.
struct Entry {
  TensorInfo info;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::uint64_t read_le_u64(const unsigned char* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// A JSON integer >= 0 that fits in int64 (shape dims and offsets must both be addressable).
bool as_index(const json& value, std::uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<std::uint64_t>();
  } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(value.get<std::int64_t>());
  } else {
    return false;
  }
  return out <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

DType parse_dtype(const std::string& path, const std::string& name, const json& value) {
  if (!value.is_string()) {
    fail_tensor(path, name,
                std::string("\"dtype\" is a JSON ") + value.type_name() +
                    ", expected a string such as \"F32\"");
  }
  const auto& text = value.get_ref<const std::string&>();
  const auto dtype = dtype_from_safetensors_name(text);
  if (!dtype) {
    fail_tensor(path, name,
                "unsupported dtype \"" + text + "\"; supported: " + supported_dtype_names(),
                "Convert the checkpoint to one of the supported dtypes");
  }
  return *dtype;
}

std::vector<std::uint64_t> parse_shape(const std::string& path, const std::string& name,
                                       const json& value) {
  if (!value.is_array()) {
    fail_tensor(path, name,
                std::string("\"shape\" is a JSON ") + value.type_name() +
                    ", expected an array of non-negative integers");
  }
  std::vector<std::uint64_t> dims;
  for (const auto& dim : value) {
    std::uint64_t parsed = 0;
    if (!as_index(dim, parsed)) {
      fail_tensor(path, name,
                  "\"shape\" has the element " + brief(dim) + ", expected a non-negative integer");
    }
    dims.push_back(parsed);
  }
  return dims;
}

std::pair<std::uint64_t, std::uint64_t> parse_offsets(const std::string& path,
                                                      const std::string& name, const json& value) {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  if (!value.is_array() || value.size() != 2 || !as_index(value[0], begin) ||
      !as_index(value[1], end)) {
    fail_tensor(path, name,
                "\"data_offsets\" is " + brief(value) +
                    ", expected [begin, end] with non-negative integers");
  }
  if (begin > end) {
    fail_tensor(path, name,
                "\"data_offsets\" [" + std::to_string(begin) + ", " + std::to_string(end) +
                    "] ends before it begins");
  }
  return {begin, end};
}

void check_entry_fields(const std::string& path, const std::string& name, const json& value) {
  if (!value.is_object()) {
    fail_tensor(path, name,
                std::string("entry is a JSON ") + value.type_name() +
                    ", expected an object with dtype, shape and data_offsets");
  }
  for (const auto& item : value.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail_tensor(path, name,
                  "unexpected field \"" + item.key() +
                      "\"; expected exactly dtype, shape and data_offsets");
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) fail_tensor(path, name, std::string("missing \"") + field + "\"");
  }
}

Entry parse_entry(const std::string& path, const std::string& name, const json& value,
                  std::uint64_t data_size) {
  check_entry_fields(path, name, value);
  Entry entry;
  entry.info.name = name;
  entry.info.dtype = parse_dtype(path, name, value.at("dtype"));
  const auto dims = parse_shape(path, name, value.at("shape"));
  entry.info.shape.assign(dims.begin(), dims.end());
  std::tie(entry.begin, entry.end) = parse_offsets(path, name, value.at("data_offsets"));
  if (entry.end > data_size) {
    fail_tensor(path, name,
                "data_offsets end " + std::to_string(entry.end) +
                    " lies beyond the data section of " + std::to_string(data_size) + " bytes");
  }
  auto factors = dims;
  factors.push_back(dtype_size(entry.info.dtype));
  std::uint64_t expected = 0;
  if (!checked_product(factors, expected)) {
    fail_tensor(path, name, "shape x dtype size overflows 64 bits");
  }
  if (entry.end - entry.begin != expected) {
    fail_tensor(path, name,
                "data_offsets cover " + std::to_string(entry.end - entry.begin) +
                    " bytes, expected " + std::to_string(expected) + " for " +
                    dtype_safetensors_name(entry.info.dtype) + " " + brief(value.at("shape")));
  }
  return entry;
}

void check_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) {
    fail(path, std::string("\"__metadata__\" is a JSON ") + value.type_name() +
                   ", expected an object of strings");
  }
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      fail(path, "\"__metadata__\" key \"" + item.key() + "\" is a JSON " +
                     item.value().type_name() + ", expected a string");
    }
  }
}

// Sorted by data offset; empty ranges own no bytes, so only non-empty ranges can overlap.
void sort_and_check_overlaps(const std::string& path, std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.info.name) < std::tie(b.begin, b.end, b.info.name);
  });
  std::uint64_t covered_end = 0;
  const Entry* owner = nullptr;
  for (const auto& entry : entries) {
    if (entry.begin == entry.end) continue;
    if (owner != nullptr && entry.begin < covered_end) {
      fail_tensor(path, entry.info.name,
                  "data_offsets [" + std::to_string(entry.begin) + ", " +
                      std::to_string(entry.end) + "] overlap tensor '" + owner->info.name + "' [" +
                      std::to_string(owner->begin) + ", " + std::to_string(owner->end) + "]");
    }
    covered_end = entry.end;
    owner = &entry;
  }
}

// Parses the header bytes. Duplicate top-level keys are rejected rather than letting the last
// one silently win, because a hidden duplicate could mask a second, conflicting entry. Values
// nested deeper than a header ever needs are refused while parsing: printing or walking them
// (error messages do) recurses once per level, and 100,000 levels overflow the stack.
json parse_header_json(const std::string& path, const char* first, const char* last) {
  std::set<std::string> seen;
  std::string duplicate;
  bool too_deep = false;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    if (depth > kMaxHeaderDepth) {
      too_deep = true;
      return false;  // not kept: the parser drops what is inside
    }
    return true;
  };
  json header = json::parse(first, last, on_event, /*allow_exceptions=*/false);
  if (too_deep) {
    fail(path, "header nests JSON deeper than " + std::to_string(kMaxHeaderDepth) +
                   " levels (a safetensors header needs 3): a corrupt or crafted file");
  }
  if (header.is_discarded()) fail(path, "header is not valid UTF-8 JSON");
  if (!header.is_object()) {
    fail(path, std::string("header is a JSON ") + header.type_name() + ", expected an object");
  }
  if (!duplicate.empty()) fail(path, "header lists the key '" + duplicate + "' twice");
  return header;
}

class SafetensorsFile final : public TensorFile {
 public:
  explicit SafetensorsFile(std::string path) : path_(std::move(path)), mapping_(path_) {
    const std::uint64_t header_size = check_prefix();
    data_ = mapping_.data() + kPrefixBytes + header_size;
    const std::uint64_t data_size = mapping_.size() - kPrefixBytes - header_size;
    const auto* header_begin = reinterpret_cast<const char*>(mapping_.data() + kPrefixBytes);
    const json header = parse_header_json(path_, header_begin, header_begin + header_size);
    std::vector<Entry> entries;
    for (const auto& item : header.items()) {
      if (item.key() == kMetadataKey) {
        check_metadata(path_, item.value());
      } else {
        entries.push_back(parse_entry(path_, item.key(), item.value(), data_size));
      }
    }
    sort_and_check_overlaps(path_, entries);
    for (auto& entry : entries) {
      begins_.emplace(entry.info.name, Located{tensors_.size(), entry.begin});
      tensors_.push_back(std::move(entry.info));
    }
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }

  TensorView read(const std::string& name) override {
    const auto found = begins_.find(name);
    if (found == begins_.end()) {
      fail_tensor(path_, name,
                  "no such tensor among the " + std::to_string(tensors_.size()) + " in the file",
                  "Check the name against tensors(); the checkpoint may be for another model");
    }
    const TensorInfo& info = tensors_[found->second.index];
    TensorView view;
    view.dtype = info.dtype;
    view.shape = info.shape;
    view.strides.assign(info.shape.size(), 1);
    for (std::size_t i = info.shape.size(); i > 1; --i) {
      view.strides[i - 2] = view.strides[i - 1] * info.shape[i - 1];
    }
    view.data = data_ + found->second.begin;
    return view;
  }

 private:
  struct Located {
    std::size_t index = 0;    // into tensors_
    std::uint64_t begin = 0;  // byte offset into the data section
  };

  // Returns the header length after checking it against the file size.
  std::uint64_t check_prefix() const {
    const std::size_t size = mapping_.size();
    if (size < kPrefixBytes) {
      fail(path_, "file is " + std::to_string(size) +
                      " bytes, shorter than the 8-byte header length prefix");
    }
    const std::uint64_t header_size = read_le_u64(mapping_.data());
    if (header_size > kMaxHeaderBytes || header_size > size - kPrefixBytes) {
      fail(path_, "header length prefix says " + std::to_string(header_size) +
                      " bytes, but the file has " + std::to_string(size - kPrefixBytes) +
                      " bytes after the prefix (limit " + std::to_string(kMaxHeaderBytes) + ")");
    }
    return header_size;
  }

  std::string path_;
  Mapping mapping_;
  const unsigned char* data_ = nullptr;  // start of the data section inside mapping_
  std::vector<TensorInfo> tensors_;      // in data-offset order
  std::unordered_map<std::string, Located> begins_;
};

// ---- writing ----

[[noreturn]] void fail_write(const std::string& path, const std::string& problem) {
  throw WeightLoadError("cannot write safetensors file '" + path + "': " + problem + ".");
}

std::uint64_t tensor_byte_count(const std::string& path, const TensorBytes& tensor) {
  std::vector<std::uint64_t> factors{dtype_size(tensor.dtype)};
  for (std::int64_t dim : tensor.shape) {
    if (dim < 0) {
      fail_write(path,
                 "tensor '" + tensor.name + "' has the negative dimension " + std::to_string(dim));
    }
    factors.push_back(static_cast<std::uint64_t>(dim));
  }
  std::uint64_t bytes = 0;
  if (!checked_product(factors, bytes)) {
    fail_write(path, "tensor '" + tensor.name + "' is too large (size overflows 64 bits)");
  }
  if (bytes > 0 && tensor.data == nullptr) {
    fail_write(path, "tensor '" + tensor.name + "' has no data pointer");
  }
  return bytes;
}

std::vector<const TensorBytes*> sorted_by_name(const std::string& path,
                                               const std::vector<TensorBytes>& tensors) {
  std::vector<const TensorBytes*> sorted;
  for (const auto& tensor : tensors) sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorBytes* a, const TensorBytes* b) { return a->name < b->name; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i]->name == kMetadataKey) fail_write(path, "'__metadata__' is not a tensor name");
    if (i > 0 && sorted[i]->name == sorted[i - 1]->name) {
      fail_write(path, "the tensor name '" + sorted[i]->name + "' is given twice");
    }
  }
  return sorted;
}

// The header text, padded with spaces to a multiple of 8 so the data section stays aligned.
std::string build_header(const std::string& path, const std::vector<const TensorBytes*>& sorted,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::uint64_t offset = 0;
  for (const TensorBytes* tensor : sorted) {
    const std::uint64_t bytes = tensor_byte_count(path, *tensor);
    auto& entry = header[tensor->name];
    entry["dtype"] = dtype_safetensors_name(tensor->dtype);
    entry["shape"] = tensor->shape;
    entry["data_offsets"] = {offset, offset + bytes};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& error) {
    fail_write(path, std::string("a tensor name or metadata string is not UTF-8: ") + error.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_bytes(const std::string& path, std::FILE* file, const void* data, std::size_t size) {
  if (size > 0 && std::fwrite(data, 1, size, file) != size) {
    fail_write(path, std::string("write failed: ") + std::strerror(errno));
  }
}

void write_file_contents(const std::string& path, std::FILE* file, const std::string& header,
                         const std::vector<const TensorBytes*>& sorted) {
  std::array<unsigned char, kPrefixBytes> prefix{};
  for (std::size_t i = 0; i < kPrefixBytes; ++i) {
    prefix[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff);
  }
  write_bytes(path, file, prefix.data(), prefix.size());
  write_bytes(path, file, header.data(), header.size());
  for (const TensorBytes* tensor : sorted) {
    write_bytes(path, file, tensor->data, tensor_byte_count(path, *tensor));
  }
}

}  // namespace

std::unique_ptr<TensorFile> open_safetensors(const std::string& path) {
  return std::make_unique<SafetensorsFile>(path);
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const auto sorted = sorted_by_name(path, tensors);
  const std::string header = build_header(path, sorted, metadata);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) fail_write(path, std::string("cannot open: ") + std::strerror(errno));
  try {
    write_file_contents(path, file, header, sorted);
  } catch (...) {
    std::fclose(file);
    std::remove(path.c_str());
    throw;
  }
  if (std::fclose(file) != 0) {
    const int error = errno;
    std::remove(path.c_str());
    fail_write(path, std::string("close failed: ") + std::strerror(error));
  }
}

}  // namespace ivs::model
