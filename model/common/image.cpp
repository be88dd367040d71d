// SPDX-License-Identifier: Apache-2.0
#include "model/common/image.h"

#include <stb_image.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "model/common/errors.h"

// Debian's libstb already contains the stb_image implementation, so STB_IMAGE_IMPLEMENTATION is
// deliberately not defined here: defining it would duplicate every stbi_* symbol.

namespace ivs::model {
namespace {

constexpr int kRgbChannels = 3;
constexpr const char* kSupportedFormats = "PNG, JPEG, BMP, GIF, TGA or PNM";

struct StbiDeleter {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    throw InputError("image file " + path + " does not exist: check the path");
  }
  if (std::filesystem::is_directory(status)) {
    throw InputError("image file " + path + " is a directory: pass the path of an image file");
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

RgbImage decode_image_file(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file_bytes(path);
  return decode_image_bytes(bytes.data(), bytes.size(), "image file " + path);
}

RgbImage decode_image_bytes(const void* data, std::size_t size, const std::string& what) {
  if (size == 0) {
    throw InputError(what + " is empty: expected a " + kSupportedFormats + " image");
  }
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw InputError(what + " is larger than 2 GiB, which the decoder cannot read: " +
                     "downscale or re-encode it");
  }
  int width = 0;
  int height = 0;
  int channels_in_file = 0;
  // Asking for 3 channels makes stb_image replicate grey and drop alpha, which is exactly PIL's
  // convert("RGB") for L, LA, RGBA and palette images (alpha is discarded, not composited).
  std::unique_ptr<stbi_uc, StbiDeleter> pixels(
      stbi_load_from_memory(static_cast<const stbi_uc*>(data), static_cast<int>(size), &width,
                            &height, &channels_in_file, kRgbChannels));
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw InputError("cannot decode " + what + ": " + (reason != nullptr ? reason : "unknown") +
                     " (not a complete " + kSupportedFormats +
                     " image; check the file or re-encode it as PNG or JPEG)");
  }
  RgbImage image;
  image.width = width;
  image.height = height;
  const std::size_t byte_count = static_cast<std::size_t>(width) * height * kRgbChannels;
  image.pixels.assign(pixels.get(), pixels.get() + byte_count);
  return image;
}

}  // namespace ivs::model
