// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "model/common/image.h"

namespace ivs::model {

/// Resizes like Pillow's Image.resize(size, Image.BICUBIC) on an 8-bit RGB image (Pillow 9.x
/// ImagingResample, reducing_gap=None): separable antialiased bicubic (a = -0.5) whose support
/// widens with the downscale factor, horizontal pass first, fixed-point coefficients with
/// 22 fraction bits, rounding and clipping to uint8 after each pass. The result is
/// bit-identical to Pillow's. A pass whose size does not change is skipped, as in Pillow, so the
/// same size returns a copy. Throws std::invalid_argument for a non-positive target size or a
/// source whose pixel buffer is not width * height * 3 bytes.
RgbImage resize_bicubic_pil(const RgbImage& image, int width, int height);

}  // namespace ivs::model
