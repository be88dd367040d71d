// SPDX-License-Identifier: Apache-2.0
#include "model/common/jpeg_writer.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "model/common/errors.h"

// clang-format off: jpeglib.h needs <cstdio> first
#include <jpeglib.h>
// clang-format on

namespace ivs::model {
namespace {

// As in image.cpp: error_exit must not return or throw through libjpeg's C frames, so it
// longjmps back to compress(), which owns no C++ object with a destructor.
struct ErrorManager {
  jpeg_error_mgr base;  // first: libjpeg hands back &base as cinfo->err
  std::jmp_buf jump;
};

[[noreturn]] void fail(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}

void print_nothing(j_common_ptr /*cinfo*/) {}

// Returns false when libjpeg failed; *out and *size are then whatever libjpeg left (freed by
// the caller).
bool compress(const RgbImage& image, int quality, unsigned char** out, unsigned long* size) {
  jpeg_compress_struct cinfo{};
  ErrorManager errors{};
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = fail;
  errors.base.output_message = print_nothing;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const auto stride = static_cast<size_t>(image.width) * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.pixels.data() +
                                        static_cast<size_t>(cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw InputError("cannot encode a JPEG of an empty or inconsistent image (" +
                     std::to_string(image.width) + "x" + std::to_string(image.height) + ")");
  }
  if (quality < 1 || quality > 100) {
    throw InputError("JPEG quality must be in 1..100 (got " + std::to_string(quality) + ")");
  }
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = compress(image, quality, &buffer, &size);
  std::vector<uint8_t> out;
  if (ok) out.assign(buffer, buffer + size);
  std::free(buffer);
  if (!ok) throw InputError("libjpeg could not encode the image");
  return out;
}

void write_jpeg_file(const std::string& path, const RgbImage& image, int quality) {
  const std::vector<uint8_t> bytes = encode_jpeg(image, quality);
  const std::string temporary = path + ".part";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file)
      throw InputError("cannot write '" + temporary + "': check the folder exists and is writable");
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw InputError("cannot rename '" + temporary + "' to '" + path + "'");
  }
}

}  // namespace ivs::model
