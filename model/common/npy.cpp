// SPDX-License-Identifier: Apache-2.0
#include "model/common/npy.h"
#include "model/common/regular_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string_view>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr std::size_t kVersion1PreambleBytes = 10;  // magic, 2 version bytes, u16 header length
constexpr std::size_t kVersion2PreambleBytes = 12;  // ... u32 header length
constexpr std::size_t kAlignment = 64;              // numpy aligns the data section to this
// numpy >= 1.23 reserves room so the first axis can grow in place; we copy it for byte-equal files.
constexpr std::size_t kGrowthAxisMaxDigits = 21;
constexpr const char* kReadHint =
    "Re-save the array with numpy.save() as a C-order little-endian array";

struct DescrName {
  DType dtype;
  const char* descr;
};

// What numpy.save writes for each dtype it shares with us (bfloat16 has no numpy dtype).
constexpr std::array<DescrName, 9> kDescrs{{
    {DType::kF64, "<f8"},
    {DType::kF32, "<f4"},
    {DType::kF16, "<f2"},
    {DType::kI64, "<i8"},
    {DType::kI32, "<i4"},
    {DType::kI16, "<i2"},
    {DType::kI8, "|i1"},
    {DType::kU8, "|u1"},
    {DType::kBool, "|b1"},
}};

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw InputError("npy file '" + path + "': " + problem + ". " + kReadHint + ".");
}

[[noreturn]] void fail_write(const std::string& path, const std::string& problem) {
  throw InputError("cannot write npy file '" + path + "': " + problem + ".");
}

std::string supported_descrs() {
  std::string names;
  for (const auto& entry : kDescrs) {
    names += std::string(names.empty() ? "'" : ", '") + entry.descr + "'";
  }
  return names;
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A strict reader for the one Python literal numpy writes: a dict with the keys 'descr'
// (a string), 'fortran_order' (True/False) and 'shape' (a tuple of ints), each exactly once.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen[3] = {false, false, false};
    expect('{');
    while (!consume('}')) {
      const std::string key = parse_string();
      expect(':');
      const int index = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
      if (index < 0) fail(path_, "header has the unexpected key '" + key + "'");
      if (seen[index]) fail(path_, "header lists the key '" + key + "' twice");
      seen[index] = true;
      if (index == 0) header.descr = parse_string();
      if (index == 1) header.fortran_order = parse_bool();
      if (index == 2) header.shape = parse_shape();
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail(path_, "header has text after the closing '}'");
    if (!seen[0] || !seen[1] || !seen[2]) {
      fail(path_, "header lacks one of the keys 'descr', 'fortran_order', 'shape'");
    }
    return header;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr &&
           text_[pos_] != '\0') {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c)) {
      fail(path_, std::string("header is malformed: expected '") + c + "' at byte " +
                      std::to_string(pos_) + " of the header dict");
    }
  }

  std::string parse_string() {
    skip_space();
    const char quote = pos_ < text_.size() ? text_[pos_] : '\0';
    if (quote != '\'' && quote != '"') expect('\'');
    const std::size_t close = text_.find(quote, pos_ + 1);
    if (close == std::string_view::npos) fail(path_, "header has an unterminated string");
    std::string value(text_.substr(pos_ + 1, close - pos_ - 1));
    if (value.find('\\') != std::string::npos) fail(path_, "header string has an escape");
    pos_ = close + 1;
    return value;
  }

  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail(path_, "header value of 'fortran_order' is not True or False");
  }

  int64_t parse_dim() {
    skip_space();
    int64_t value = 0;
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, text_[pos_] - '0', &value)) {
        fail(path_, "header 'shape' has a dimension that overflows int64");
      }
      ++pos_;
    }
    if (pos_ == start) fail(path_, "header 'shape' is not a tuple of non-negative integers");
    return value;
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    while (!consume(')')) {
      shape.push_back(parse_dim());
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::string& path_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::vector<unsigned char> read_file(const std::string& path) {
  const std::string not_file = special_file_kind(path);
  if (!not_file.empty()) fail(path, not_file);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("npy file '" + path + "' cannot be opened (" + std::strerror(errno) +
                     "). Check the path and its permissions.");
  }
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "reading failed");
  return bytes;
}

// Returns the header dict text and sets `data_offset` to the first data byte.
std::string_view split_preamble(const std::string& path, const std::vector<unsigned char>& bytes,
                                std::size_t& data_offset) {
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t checked = std::min(all.size(), kMagic.size());
  if (all.substr(0, checked) != kMagic.substr(0, checked)) {
    fail(path, "does not start with the npy magic \\x93NUMPY (not an npy file?)");
  }
  if (bytes.size() < kVersion1PreambleBytes) fail(path, "is truncated inside its preamble");
  const int major = bytes[6];
  if (major < 1 || major > 3 || bytes[7] != 0) {
    fail(path, "has format version " + std::to_string(major) + "." + std::to_string(bytes[7]) +
                   ", expected 1.0, 2.0 or 3.0");
  }
  const std::size_t preamble = major == 1 ? kVersion1PreambleBytes : kVersion2PreambleBytes;
  if (bytes.size() < preamble) fail(path, "is truncated inside its preamble");
  std::size_t header_size = 0;
  for (std::size_t i = preamble; i > 8; --i) header_size = (header_size << 8) | bytes[i - 1];
  if (header_size > bytes.size() - preamble) {
    fail(path, "header length " + std::to_string(header_size) + " runs past the end of the " +
                   std::to_string(bytes.size()) + "-byte file (truncated?)");
  }
  data_offset = preamble + header_size;
  return all.substr(preamble, header_size);
}

DType dtype_from_descr(const std::string& path, const std::string& descr) {
  for (const auto& entry : kDescrs) {
    if (descr == entry.descr) return entry.dtype;
  }
  if (!descr.empty() && descr[0] == '>') {
    fail(path, "is big-endian ('" + descr + "'); only little-endian arrays are supported");
  }
  fail(path, "has the unsupported dtype '" + descr + "'; supported: " + supported_descrs());
}

// dtype size x prod(shape) for a shape of non-negative dims; false when it overflows.
bool checked_byte_count(DType dtype, const std::vector<int64_t>& shape, std::size_t& bytes) {
  bytes = dtype_size(dtype);
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(dim), &bytes)) return false;
  }
  return true;
}

std::string shape_literal(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

// The complete preamble + header exactly as numpy.save (version 1.0) lays it out.
std::string build_header(const std::string& path, const char* descr,
                         const std::vector<int64_t>& shape) {
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': " + shape_literal(shape) + ", }";
  if (!shape.empty()) dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  const std::size_t used = kVersion1PreambleBytes + dict.size() + 1;  // +1 for the '\n'
  dict.append(kAlignment - used % kAlignment, ' ');
  dict += '\n';
  if (dict.size() > std::numeric_limits<std::uint16_t>::max()) {
    fail_write(path, "the header for " + std::to_string(shape.size()) +
                         " dimensions does not fit a version 1.0 file");
  }
  std::string preamble(kMagic);
  preamble += '\x01';
  preamble += '\x00';
  preamble += static_cast<char>(dict.size() & 0xff);
  preamble += static_cast<char>(dict.size() >> 8);
  return preamble + dict;
}

const char* descr_for(const std::string& path, DType dtype) {
  for (const auto& entry : kDescrs) {
    if (entry.dtype == dtype) return entry.descr;
  }
  fail_write(path, std::string("numpy has no dtype for ") + dtype_display_name(dtype) +
                       "; convert the array to float32 first");
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

NpyArray read_npy(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  std::size_t data_offset = 0;
  const std::string_view header_text = split_preamble(path, bytes, data_offset);
  const NpyHeader header = HeaderParser(path, header_text).parse();
  if (header.fortran_order) {
    fail(path,
         "is stored in Fortran order; only C order is supported "
         "(use numpy.ascontiguousarray before saving)");
  }
  NpyArray array;
  array.dtype = dtype_from_descr(path, header.descr);
  array.shape = header.shape;
  std::size_t expected = 0;
  if (!checked_byte_count(array.dtype, array.shape, expected)) {
    fail(path, "shape " + shape_literal(array.shape) + " is too large (its byte count overflows)");
  }
  const std::size_t actual = bytes.size() - data_offset;
  if (actual != expected) {
    fail(path, "has " + std::to_string(actual) + " data bytes, expected " +
                   std::to_string(expected) + " for " + dtype_display_name(array.dtype) + " " +
                   shape_literal(array.shape) + (actual < expected ? " (truncated)" : ""));
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset), bytes.end());
  return array;
}

void write_npy(const std::string& path, DType dtype, const std::vector<int64_t>& shape,
               const void* data) {
  for (int64_t dim : shape) {
    if (dim < 0) fail_write(path, "the shape has the negative dimension " + std::to_string(dim));
  }
  const std::string header = build_header(path, descr_for(path, dtype), shape);
  std::size_t bytes = 0;
  if (!checked_byte_count(dtype, shape, bytes)) {
    fail_write(path, "the shape is too large (its byte count overflows)");
  }
  if (bytes > 0 && data == nullptr) fail_write(path, "no data pointer was given");
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) fail_write(path, std::string("cannot open: ") + std::strerror(errno));
  const bool written = std::fwrite(header.data(), 1, header.size(), file) == header.size() &&
                       (bytes == 0 || std::fwrite(data, 1, bytes, file) == bytes);
  const int error = errno;
  if (std::fclose(file) != 0 || !written) {
    std::remove(path.c_str());
    fail_write(path, std::string("write failed: ") + std::strerror(written ? errno : error));
  }
}

}  // namespace ivs::model
