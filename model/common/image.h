// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ivs::model {

/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B; no row padding.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3 bytes
};

/// Decodes a PNG, JPEG, BMP, GIF (first frame), TGA or PNM file to RGB, like PIL's
/// Image.open(path).convert("RGB"): grey is replicated, alpha is dropped (not composited),
/// 16-bit channels are reduced to 8 bits (high byte; PIL clips 16-bit greyscale instead). PNG,
/// BMP, TGA and PNM decode exactly; JPEG is decoded by stb_image, whose IDCT, chroma upsampling
/// and YCbCr conversion differ from Pillow's libjpeg-turbo by up to a few levels per channel
/// (measured: max 3 on a 4:2:0 photo, 6 on a progressive 4:2:2 one; see
/// tests/data/model/README.md). Throws InputError naming the file and the reason (missing,
/// unreadable, empty, not an image, truncated).
RgbImage decode_image_file(const std::string& path);

/// Same, from bytes in memory; `what` names the source in error messages.
RgbImage decode_image_bytes(const void* data, std::size_t size, const std::string& what);

}  // namespace ivs::model
