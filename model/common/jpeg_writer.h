// SPDX-License-Identifier: Apache-2.0
// JPEG encoding with libjpeg-turbo (the library the decoder uses): event snapshots and search
// thumbnails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/common/image.h"

namespace ivs::model {

/// The image as a baseline JPEG of `quality` (1..100). Throws InputError for an empty image or
/// a quality out of range.
std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality = 85);

/// Writes encode_jpeg(image, quality) to `path` through a temporary file in the same folder
/// renamed into place, so a reader never sees half a file. Throws InputError naming the path.
void write_jpeg_file(const std::string& path, const RgbImage& image, int quality = 85);

}  // namespace ivs::model
