// SPDX-License-Identifier: Apache-2.0
#include "model/common/image.h"
#include "model/common/regular_file.h"

#include <stb_image.h>

#include <cerrno>
#include <climits>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "model/common/errors.h"

// jpeglib.h uses size_t and FILE without including their headers, so it must follow <cstdio>.
#include <jpeglib.h>
// For the JWRN_JPEG_EOF message code.
#include <jerror.h>

// Debian's libstb already contains the stb_image implementation, so STB_IMAGE_IMPLEMENTATION is
// deliberately not defined here: defining it would duplicate every stbi_* symbol.

namespace ivs::model {
namespace {

constexpr int kRgbChannels = 3;
constexpr const char* kSupportedFormats = "PNG, JPEG, BMP, GIF, TGA or PNM";

// JPEG goes to libjpeg-turbo, the decoder Pillow links: with the same library and the same
// (default) settings, islow IDCT and fancy upsampling, the pixels are bit-identical to PIL's,
// whereas stb_image's IDCT, upsampling and YCbCr conversion differ by up to 6 levels.
// libjpeg reports failures by calling error_exit, whose default calls exit(); it also prints
// warnings to stderr. Both are replaced below. error_exit must not return and must not throw
// (an exception may not cross libjpeg's C frames), so it longjmps back to a setjmp in a function
// that owns no C++ object with a destructor, and that function reports failure by returning
// false. The caller, whose frame longjmp never crosses, then throws InputError.
struct JpegErrorManager {
  jpeg_error_mgr base;  // first: libjpeg hands back &base as cinfo->err
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Pillow ignores libjpeg's warnings (corrupt-data warnings still leave a whole image) except
// that it rejects a file that ends early ("image file is truncated"), where libjpeg would pad
// the missing rows with grey and warn. Do the same; trace messages (level > 0) are dropped.
void jpeg_on_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

void jpeg_print_nothing(j_common_ptr /*cinfo*/) {}

// Owns the libjpeg state, so that jpeg_destroy_decompress runs on every path. Zero-initialised:
// destroying a struct whose jpeg_create_decompress failed is then still safe.
struct JpegDecompressor {
  jpeg_decompress_struct cinfo{};
  JpegErrorManager errors{};

  JpegDecompressor() {
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jpeg_fail;
    errors.base.emit_message = jpeg_on_message;
    errors.base.output_message = jpeg_print_nothing;
  }
  ~JpegDecompressor() { jpeg_destroy_decompress(&cinfo); }
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
};

// Creates the decompressor and reads the headers up to the first scan. Returns false, with
// errors.message set, if libjpeg fails. No C++ object with a destructor may live in this frame.
bool jpeg_read_headers(JpegDecompressor& jpeg, const unsigned char* data, std::size_t size) {
  if (setjmp(jpeg.errors.jump) != 0) return false;
  jpeg_create_decompress(&jpeg.cinfo);
  jpeg_mem_src(&jpeg.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&jpeg.cinfo, TRUE);
  return true;
}

// PIL's convert("RGB") of a CMYK JPEG. Pillow reads every 4-component JPEG as Adobe-inverted
// CMYK (its "CMYK;I" raw mode: c = 255 - stored value), then converts with
// r = (255 - k) - muldiv255(c, 255 - k), muldiv255 rounding like its MULDIV255 macro (checked
// against Pillow 9.4 on all 65536 (c, k) pairs).
void inverted_cmyk_row_to_rgb(const JSAMPLE* cmyk, std::size_t width, unsigned char* rgb) {
  for (std::size_t x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const unsigned not_k = cmyk[3];  // 255 - k, as k = 255 - stored value
    for (int c = 0; c < 3; ++c) {
      const unsigned product = (255u - cmyk[c]) * not_k + 128u;
      rgb[c] = static_cast<unsigned char>(not_k - ((product + (product >> 8)) >> 8));
    }
  }
}

// Decompresses every row into `rgb` (width * height * 3 bytes, already allocated), converting
// CMYK rows through a row buffer from libjpeg's own pool. Returns false, with errors.message
// set, if libjpeg fails. No C++ object with a destructor may live in this frame.
bool jpeg_read_rgb(JpegDecompressor& jpeg, unsigned char* rgb) {
  if (setjmp(jpeg.errors.jump) != 0) return false;
  j_decompress_ptr cinfo = &jpeg.cinfo;
  jpeg_start_decompress(cinfo);
  const std::size_t width = cinfo->output_width;
  const bool cmyk = cinfo->out_color_space == JCS_CMYK;
  JSAMPARRAY cmyk_row =
      cmyk ? (*cinfo->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE,
                                         static_cast<JDIMENSION>(width * 4), 1)
           : nullptr;
  while (cinfo->output_scanline < cinfo->output_height) {
    unsigned char* out = rgb + static_cast<std::size_t>(cinfo->output_scanline) * width * 3;
    JSAMPROW row = cmyk ? cmyk_row[0] : out;
    jpeg_read_scanlines(cinfo, &row, 1);
    if (cmyk) inverted_cmyk_row_to_rgb(cmyk_row[0], width, out);
  }
  jpeg_finish_decompress(cinfo);  // reads up to EOI, so a file cut after the last row fails too
  return true;
}

std::string jpeg_failure(const std::string& what, const JpegDecompressor& jpeg) {
  return "cannot decode " + what + ": " + jpeg.errors.message +
         " (not a complete JPEG image; check the file or re-encode it)";
}

// Picks the output colour space as Pillow does: one component is greyscale (libjpeg replicates
// it to R, G, B), three are YCbCr or RGB (libjpeg's guess from the JFIF/Adobe markers), four
// are CMYK or YCCK (libjpeg turns YCCK into CMYK; converted to RGB above).
void choose_jpeg_output(jpeg_decompress_struct& cinfo, const std::string& what) {
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo.out_color_space = JCS_RGB;
      return;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;
      return;
    default:
      throw InputError("cannot decode " + what + ": JPEG with " +
                       std::to_string(cinfo.num_components) +
                       " colour components is not greyscale, RGB or CMYK; re-encode it as an "
                       "RGB JPEG or PNG");
  }
}

// Refuses a picture larger than the caller allows, from its header, before decoding it.
void check_pixels(const std::string& what, uint64_t width, uint64_t height, uint64_t max_pixels) {
  if (width * height > max_pixels) {
    throw InputError(what + " is " + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels, more than the limit of " + std::to_string(max_pixels) +
                     " (the CLI's --max-image-pixels raises it): downscale it");
  }
}

RgbImage decode_jpeg(const unsigned char* data, std::size_t size, const std::string& what,
                     uint64_t max_pixels) {
  JpegDecompressor jpeg;
  if (!jpeg_read_headers(jpeg, data, size)) throw InputError(jpeg_failure(what, jpeg));
  check_pixels(what, jpeg.cinfo.image_width, jpeg.cinfo.image_height, max_pixels);
  choose_jpeg_output(jpeg.cinfo, what);
  RgbImage image;
  image.width = static_cast<int>(jpeg.cinfo.image_width);  // at most 65535 in a JPEG
  image.height = static_cast<int>(jpeg.cinfo.image_height);
  const std::size_t byte_count = static_cast<std::size_t>(image.width) * image.height * 3;
  if (byte_count > static_cast<std::size_t>(INT_MAX)) {  // the same limit as stb_image's
    throw InputError(what + " is " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) +
                     " pixels, more than 2 GiB decoded: downscale it");
  }
  image.pixels.resize(byte_count);
  if (!jpeg_read_rgb(jpeg, image.pixels.data())) throw InputError(jpeg_failure(what, jpeg));
  return image;
}

// By content, not by file name: JPEG starts with SOI (FF D8) followed by another marker.
bool is_jpeg(const unsigned char* data, std::size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

// Where a binary PNM's samples start, reading the header exactly as stb_image does (width,
// height and maximum, each after white space and '#' comments, then one more character).
std::size_t pnm_data_offset(const unsigned char* data, std::size_t size) {
  std::size_t pos = 2;  // "P5" or "P6"
  const auto at_end = [&] { return pos >= size; };
  const auto next = [&] { return at_end() ? '\0' : static_cast<char>(data[pos++]); };
  char c = next();
  for (int field = 0; field < 3; ++field) {
    for (;;) {
      while (!at_end() && std::strchr(" \t\n\v\f\r", c) != nullptr && c != '\0') c = next();
      if (at_end() || c != '#') break;
      while (!at_end() && c != '\n' && c != '\r') c = next();
    }
    while (!at_end() && c >= '0' && c <= '9') c = next();
  }
  return pos;
}

// Debian's stb_image (2.27) reads a binary PNM's samples without checking that they are all
// there: a truncated file decodes to uninitialised memory, and a truncated 16-bit one crashes
// it (found by tests/fuzz/image_fuzz). So a PNM must hold every sample before stb_image sees it.
void check_pnm_complete(const unsigned char* data, std::size_t size, const std::string& what,
                        int width, int height, int channels) {
  if (size < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6')) return;
  const uint64_t sample_bytes = stbi_is_16_bit_from_memory(data, static_cast<int>(size)) ? 2 : 1;
  const uint64_t needed = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) *
                          static_cast<uint64_t>(channels) * sample_bytes;
  const std::size_t offset = pnm_data_offset(data, size);
  const uint64_t present = size > offset ? size - offset : 0;
  if (present < needed) {
    throw InputError("cannot decode " + what + ": it is truncated (its " + std::to_string(width) +
                     "x" + std::to_string(height) + " pixels need " + std::to_string(needed) +
                     " bytes of samples, it holds " + std::to_string(present) + ")");
  }
}

struct StbiDeleter {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    throw InputError("image file " + path + " does not exist: check the path");
  }
  const std::string not_file = not_a_regular_file(path);
  if (!not_file.empty()) {
    throw InputError("image file " + path + " " + not_file + ": pass the path of an image file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("cannot open image file " + path + " (" + std::strerror(errno) +
                     "): check its permissions");
  }
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) {
    throw InputError("cannot read image file " + path + ": the read failed part-way");
  }
  return bytes;
}

}  // namespace

RgbImage decode_image_file(const std::string& path, uint64_t max_pixels) {
  const std::vector<unsigned char> bytes = read_file_bytes(path);
  return decode_image_bytes(bytes.data(), bytes.size(), "image file " + path, max_pixels);
}

RgbImage decode_image_bytes(const void* data, std::size_t size, const std::string& what,
                            uint64_t max_pixels) {
  if (size == 0) {
    throw InputError(what + " is empty: expected a " + kSupportedFormats + " image");
  }
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw InputError(what + " is larger than 2 GiB, which the decoder cannot read: " +
                     "downscale or re-encode it");
  }
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (is_jpeg(bytes, size)) return decode_jpeg(bytes, size, what, max_pixels);
  int width = 0;
  int height = 0;
  int channels_in_file = 0;
  if (stbi_info_from_memory(bytes, static_cast<int>(size), &width, &height, &channels_in_file)) {
    check_pixels(what, static_cast<uint64_t>(width), static_cast<uint64_t>(height), max_pixels);
    check_pnm_complete(bytes, size, what, width, height, channels_in_file);
  }
  // Every other format goes to stb_image, which decodes them exactly.
  // Asking for 3 channels makes stb_image replicate grey and drop alpha, which is exactly PIL's
  // convert("RGB") for L, LA, RGBA and palette images (alpha is discarded, not composited).
  std::unique_ptr<stbi_uc, StbiDeleter> pixels(stbi_load_from_memory(
      bytes, static_cast<int>(size), &width, &height, &channels_in_file, kRgbChannels));
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw InputError("cannot decode " + what + ": " + (reason != nullptr ? reason : "unknown") +
                     " (not a complete " + kSupportedFormats +
                     " image; check the file or re-encode it as PNG or JPEG)");
  }
  // stb_image reads a PNM header whose width or height is not a number as 0 and returns an
  // empty picture (found by tests/fuzz/image_fuzz); nothing downstream can use one.
  if (width <= 0 || height <= 0) {
    throw InputError("cannot decode " + what + ": it is " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels, an image without pixels (check the " +
                     "file or re-encode it as PNG or JPEG)");
  }
  RgbImage image;
  image.width = width;
  image.height = height;
  const std::size_t byte_count = static_cast<std::size_t>(width) * height * kRgbChannels;
  image.pixels.assign(pixels.get(), pixels.get() + byte_count);
  return image;
}

}  // namespace ivs::model
