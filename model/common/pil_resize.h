// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <vector>

#include "model/common/image.h"

namespace ivs::model {

/// Fraction bits of Pillow's fixed-point resampling weights (32 - 8 pixel bits - 2 overshoot).
inline constexpr int kPilPrecisionBits = 22;

/// Pillow's bicubic resampling along one axis: for each output position, the input range it
/// reads and its fixed-point weights. Pixels are sum(p[first + t] * weights[i * taps + t]) plus
/// one half, shifted right by kPilPrecisionBits and clipped to 0..255. Shared by the CPU resize
/// and the GPU preprocessing (model/cuda/), so both use the very same coefficients.
struct PilAxis {
  int taps = 0;                  // row stride of `weights`: the widest possible input range
  std::vector<int> first;        // [out] first input index read
  std::vector<int> count;        // [out] number of input indices read
  std::vector<int32_t> weights;  // [out * taps]
};

/// The coefficients for resizing `in_size` samples to `out_size` (both positive).
PilAxis pil_bicubic_axis(int in_size, int out_size);

/// Resizes like Pillow's Image.resize(size, Image.BICUBIC) on an 8-bit RGB image (Pillow 9.x
/// ImagingResample, reducing_gap=None): separable antialiased bicubic (a = -0.5) whose support
/// widens with the downscale factor, horizontal pass first, fixed-point coefficients with
/// 22 fraction bits, rounding and clipping to uint8 after each pass. The result is
/// bit-identical to Pillow's. A pass whose size does not change is skipped, as in Pillow, so the
/// same size returns a copy. Throws std::invalid_argument for a non-positive target size or a
/// source whose pixel buffer is not width * height * 3 bytes.
RgbImage resize_bicubic_pil(const RgbImage& image, int width, int height);

/// The window_width x window_height window at (left, top) of resize_bicubic_pil(image, width,
/// height), bit-identical to resizing and then cropping, but only the window's pixels (and the
/// input rows and columns they read) are computed: a centre crop of a 16:9 frame keeps about half
/// of the resized columns. Throws std::invalid_argument as resize_bicubic_pil, and for a window
/// that is empty or not inside width x height.
RgbImage resize_bicubic_pil_window(const RgbImage& image, int width, int height, int left, int top,
                                   int window_width, int window_height);

}  // namespace ivs::model
