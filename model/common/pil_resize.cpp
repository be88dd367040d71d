// SPDX-License-Identifier: Apache-2.0
// Written from the description of Pillow's ImagingResample (BICUBIC, 8 bits per channel); no
// Pillow code is copied. Bit-exactness depends on reproducing its arithmetic literally: the
// kernel evaluated in double at (x + xmin - center + 0.5) * (1 / filterscale), weights
// normalised in double, then rounded to 22-bit fixed point half away from zero, and integer
// accumulation that starts at one half.
#include "model/common/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ivs::model {
namespace {

constexpr int kChannels = 3;
constexpr int kPrecisionBits = kPilPrecisionBits;
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);
constexpr double kBicubicSupport = 2.0;
constexpr double kBicubicA = -0.5;

double bicubic_kernel(double x) {
  x = std::fabs(x);
  if (x < 1.0) return ((kBicubicA + 2.0) * x - (kBicubicA + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * kBicubicA;
  return 0.0;
}

uint8_t clip_to_u8(int32_t accumulator) {
  if (accumulator <= 0) return 0;
  if (accumulator >= (int32_t{256} << kPrecisionBits)) return 255;
  return static_cast<uint8_t>(accumulator >> kPrecisionBits);
}

int32_t to_fixed_point(double weight) {
  const double scaled = weight * (1 << kPrecisionBits);
  return static_cast<int32_t>(weight < 0 ? scaled - 0.5 : scaled + 0.5);
}

}  // namespace

PilAxis pil_bicubic_axis(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kBicubicSupport * filterscale;
  const double inverse_filterscale = 1.0 / filterscale;
  PilAxis axis;
  axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weights.assign(static_cast<std::size_t>(out_size) * axis.taps, 0);
  std::vector<double> kernel(axis.taps);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // int() truncates toward zero, as Pillow's C cast does, before clamping.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    double sum = 0.0;
    for (int x = 0; x < hi - lo; ++x) {
      kernel[x] = bicubic_kernel((x + lo - center + 0.5) * inverse_filterscale);
      sum += kernel[x];
    }
    int32_t* fixed = &axis.weights[static_cast<std::size_t>(i) * axis.taps];
    for (int x = 0; x < hi - lo; ++x) {
      fixed[x] = to_fixed_point(sum != 0.0 ? kernel[x] / sum : kernel[x]);
    }
    axis.first[i] = lo;
    axis.count[i] = hi - lo;
  }
  return axis;
}

namespace {

// One output pixel of the horizontal pass: `p` points at its first input pixel.
void horizontal_pixel(const uint8_t* p, const int32_t* k, int count, uint8_t* dst) {
  int32_t r = kHalf, g = kHalf, b = kHalf;
  for (int t = 0; t < count; ++t, p += kChannels) {
    r += p[0] * k[t];
    g += p[1] * k[t];
    b += p[2] * k[t];
  }
  dst[0] = clip_to_u8(r);
  dst[1] = clip_to_u8(g);
  dst[2] = clip_to_u8(b);
}

#if defined(__x86_64__)
// The horizontal pass takes most of a frame's preprocessing (1080 rows of ~20 taps per output
// pixel); with AVX2 it runs two input pixels per step. The arithmetic is the scalar one (32-bit
// products and sums, which cannot overflow: |weights| sum to < 1.2 * 2^22, times 255), only
// summed in another order, so the pixels are bit-identical.
//
// The axis' weights per output pixel as pairs of taps spread over 8 lanes
// (t, t, t, 0, t+1, t+1, t+1, 0), zero past its count; `pairs` per output pixel.
struct WideWeights {
  int pairs = 0;
  std::vector<int32_t> lanes;
};

WideWeights widen(const PilAxis& axis) {
  WideWeights wide;
  wide.pairs = (axis.taps + 1) / 2;
  const std::size_t out = axis.first.size();
  wide.lanes.assign(out * wide.pairs * 8, 0);
  for (std::size_t x = 0; x < out; ++x) {
    for (int t = 0; t < axis.count[x]; ++t) {
      int32_t* lane = &wide.lanes[(x * wide.pairs + t / 2) * 8 + (t % 2) * 4];
      lane[0] = lane[1] = lane[2] = axis.weights[x * axis.taps + t];
    }
  }
  return wide;
}

// Rows [row_begin, row_begin + out.height) of `in` into `out`. A step reads 16 bytes from a pixel on (two
// pixels used): a pixel whose last step would read past the picture goes the scalar way.
__attribute__((target("avx2"))) void resample_horizontal_avx2(const RgbImage& in, int row_begin,
                                                              const PilAxis& axis, RgbImage& out) {
  const WideWeights wide = widen(axis);
  const __m128i arrange = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = &in.pixels[static_cast<std::size_t>(y + row_begin) * in.width * kChannels];
    uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * out.width * kChannels];
    for (int x = 0; x < out.width; ++x) {
      const uint8_t* p = src + static_cast<std::size_t>(axis.first[x]) * kChannels;
      const int steps = (axis.count[x] + 1) / 2;
      if (static_cast<std::size_t>(p - in.pixels.data()) + 6 * (steps - 1) + 16 >
          in.pixels.size()) {
        horizontal_pixel(p, &axis.weights[static_cast<std::size_t>(x) * axis.taps], axis.count[x],
                         dst + x * kChannels);
        continue;
      }
      const int32_t* w = &wide.lanes[static_cast<std::size_t>(x) * wide.pairs * 8];
      __m256i sum = _mm256_setzero_si256();
      for (int j = 0; j < steps; ++j, p += 2 * kChannels, w += 8) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m256i pixels = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(bytes, arrange));
        const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
        sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(pixels, weights));
      }
      alignas(16) int32_t rgb[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(rgb),
                      _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1)));
      for (int c = 0; c < kChannels; ++c) dst[x * kChannels + c] = clip_to_u8(kHalf + rgb[c]);
    }
  }
}

bool has_avx2() {
  static const bool supported = __builtin_cpu_supports("avx2");  // set once, never changes
  return supported;
}
#endif

// Resamples rows [row_begin, row_end) of `in` horizontally to `axis.first.size()` columns.
RgbImage resample_horizontal(const RgbImage& in, int row_begin, int row_end, const PilAxis& axis) {
  RgbImage out;
  out.width = static_cast<int>(axis.first.size());
  out.height = row_end - row_begin;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * kChannels);
#if defined(__x86_64__)
  if (has_avx2()) {
    resample_horizontal_avx2(in, row_begin, axis, out);
    return out;
  }
#endif
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = &in.pixels[static_cast<std::size_t>(y + row_begin) * in.width * kChannels];
    uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * out.width * kChannels];
    for (int x = 0; x < out.width; ++x) {
      horizontal_pixel(src + static_cast<std::size_t>(axis.first[x]) * kChannels,
                       &axis.weights[static_cast<std::size_t>(x) * axis.taps], axis.count[x],
                       dst + x * kChannels);
    }
  }
  return out;
}

// Resamples `in` vertically; `in` row 0 is input row `row_offset` of the axis coordinates.
// Integer sums are exact, so accumulating whole rows (cache-friendly) gives Pillow's values.
RgbImage resample_vertical(const RgbImage& in, int row_offset, const PilAxis& axis) {
  RgbImage out;
  out.width = in.width;
  out.height = static_cast<int>(axis.first.size());
  const std::size_t row_bytes = static_cast<std::size_t>(in.width) * kChannels;
  out.pixels.resize(row_bytes * out.height);
  std::vector<int32_t> accumulator(row_bytes);
  for (int y = 0; y < out.height; ++y) {
    std::fill(accumulator.begin(), accumulator.end(), kHalf);
    const int32_t* k = &axis.weights[static_cast<std::size_t>(y) * axis.taps];
    for (int t = 0; t < axis.count[y]; ++t) {
      const uint8_t* src = &in.pixels[(axis.first[y] - row_offset + t) * row_bytes];
      for (std::size_t i = 0; i < row_bytes; ++i) accumulator[i] += src[i] * k[t];
    }
    uint8_t* dst = &out.pixels[y * row_bytes];
    for (std::size_t i = 0; i < row_bytes; ++i) dst[i] = clip_to_u8(accumulator[i]);
  }
  return out;
}

void check_arguments(const RgbImage& image, int width, int height) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("resize_bicubic_pil: target size " + std::to_string(width) + "x" +
                                std::to_string(height) + " must be positive");
  }
  const std::size_t expected =
      static_cast<std::size_t>(std::max(image.width, 0)) * std::max(image.height, 0) * kChannels;
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() != expected) {
    throw std::invalid_argument("resize_bicubic_pil: source image " + std::to_string(image.width) +
                                "x" + std::to_string(image.height) + " has " +
                                std::to_string(image.pixels.size()) + " bytes, expected " +
                                std::to_string(expected) + " (non-empty RGB, no padding)");
  }
}

// Output samples [begin, begin + size) of `axis`.
PilAxis axis_window(const PilAxis& axis, int begin, int size) {
  PilAxis window;
  window.taps = axis.taps;
  window.first.assign(axis.first.begin() + begin, axis.first.begin() + begin + size);
  window.count.assign(axis.count.begin() + begin, axis.count.begin() + begin + size);
  const auto weights = axis.weights.begin() + static_cast<std::ptrdiff_t>(begin) * axis.taps;
  window.weights.assign(weights, weights + static_cast<std::ptrdiff_t>(size) * axis.taps);
  return window;
}

// Samples [begin, begin + size) copied: one tap of weight 1 reproduces each input value exactly,
// as Pillow's skipped pass (same size) does.
PilAxis identity_axis(int begin, int size) {
  PilAxis axis;
  axis.taps = 1;
  axis.first.resize(size);
  for (int i = 0; i < size; ++i) axis.first[i] = begin + i;
  axis.count.assign(size, 1);
  axis.weights.assign(size, int32_t{1} << kPrecisionBits);
  return axis;
}

// The part of an axis resizing `in_size` samples to `out_size` that makes outputs
// [begin, begin + size).
PilAxis axis_part(int in_size, int out_size, int begin, int size) {
  if (in_size == out_size) return identity_axis(begin, size);
  return axis_window(pil_bicubic_axis(in_size, out_size), begin, size);
}

}  // namespace

RgbImage resize_bicubic_pil(const RgbImage& image, int width, int height) {
  check_arguments(image, width, height);
  const bool horizontal = width != image.width;
  const bool vertical = height != image.height;
  if (!horizontal && !vertical) return image;
  if (!vertical) {
    return resample_horizontal(image, 0, image.height, pil_bicubic_axis(image.width, width));
  }
  const PilAxis rows = pil_bicubic_axis(image.height, height);
  if (!horizontal) return resample_vertical(image, 0, rows);
  // Like Pillow, the horizontal pass only produces the input rows the vertical pass will read.
  const int row_begin = rows.first.front();
  const int row_end = rows.first.back() + rows.count.back();
  const RgbImage narrowed =
      resample_horizontal(image, row_begin, row_end, pil_bicubic_axis(image.width, width));
  return resample_vertical(narrowed, row_begin, rows);
}

RgbImage resize_bicubic_pil_window(const RgbImage& image, int width, int height, int left, int top,
                                   int window_width, int window_height) {
  check_arguments(image, width, height);
  if (window_width <= 0 || window_height <= 0 || left < 0 || top < 0 ||
      left + window_width > width || top + window_height > height) {
    throw std::invalid_argument("resize_bicubic_pil_window: window " +
                                std::to_string(window_width) + "x" + std::to_string(window_height) +
                                " at (" + std::to_string(left) + ", " + std::to_string(top) +
                                ") is not inside " + std::to_string(width) + "x" +
                                std::to_string(height));
  }
  const PilAxis columns = axis_part(image.width, width, left, window_width);
  const PilAxis rows = axis_part(image.height, height, top, window_height);
  // Input ranges grow with the output index, so the last output reads the last input row.
  const int row_begin = rows.first.front();
  const int row_end = rows.first.back() + rows.count.back();
  return resample_vertical(resample_horizontal(image, row_begin, row_end, columns), row_begin,
                           rows);
}

}  // namespace ivs::model
