// SPDX-License-Identifier: Apache-2.0
// Image decoding (model/common/image.h): JPEG through libjpeg-turbo, every other format through
// stb_image, with the pixel limit lowered to 4096 x 4096 so that one input stays well inside
// -rss_limit_mb. The only accepted failure is the documented InputError; anything else is a
// finding, and so is an image whose pixel buffer disagrees with its size.
#include <cstddef>
#include <cstdint>

#include "model/common/errors.h"
#include "model/common/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMaxPixels = uint64_t{1} << 24;
  try {
    const auto image = ivs::model::decode_image_bytes(data, size, "fuzz input", kMaxPixels);
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
      __builtin_trap();
    }
  } catch (const ivs::model::InputError&) {
  }
  return 0;
}
