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

/// The most pixels an image may have unless the caller allows more: 8192 x 8192 (192 MiB
/// decoded). A few hundred bytes of JPEG header can claim 65500 x 10900 pixels (4.4 GB).
constexpr uint64_t kDefaultMaxImagePixels = uint64_t{1} << 26;

/// Decodes a PNG, JPEG, BMP, GIF (first frame), TGA or PNM file to RGB, like PIL's
/// Image.open(path).convert("RGB"): grey is replicated, alpha is dropped (not composited),
/// 16-bit channels are reduced to 8 bits (high byte; PIL clips 16-bit greyscale instead).
/// JPEG (recognised by its first bytes FF D8 FF, not by the file name) is decoded by
/// libjpeg-turbo, the library Pillow uses, with the same default settings, so the pixels are
/// bit-identical to Pillow's: baseline or progressive, any chroma subsampling, greyscale, and
/// CMYK/YCCK converted with Pillow's own CMYK-to-RGB formula (Adobe-inverted CMYK, as Pillow
/// always assumes). Every other format goes to stb_image; PNG, BMP, TGA and PNM decode exactly.
/// Throws InputError naming the file and the reason (missing, unreadable, empty, not an image,
/// truncated, corrupt); like Pillow, a JPEG that ends early is refused rather than padded, while
/// libjpeg's recoverable corrupt-data warnings are ignored. An image of more than `max_pixels`
/// is refused before it is decoded. Nothing is printed.
RgbImage decode_image_file(const std::string& path, uint64_t max_pixels = kDefaultMaxImagePixels);

/// Same, from bytes in memory; `what` names the source in error messages.
RgbImage decode_image_bytes(const void* data, std::size_t size, const std::string& what,
                            uint64_t max_pixels = kDefaultMaxImagePixels);

}  // namespace ivs::model
