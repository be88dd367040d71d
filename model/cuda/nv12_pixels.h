// SPDX-License-Identifier: Apache-2.0
// The per-pixel arithmetic of NV12 -> model input, written once for both the CUDA kernels
// (nv12_preprocess.cu) and their CPU twin (nv12_plan.cpp), so that the CPU tests pin the very
// code the GPU runs. Steps, as the CPU path does them (FramePreprocessor + preprocess_image):
// 4:2:0 chroma upsampling (linear, as GstVideoConverter's default resampler) and Y'CbCr -> RGB
// rounded to 8 bits; Pillow's antialiased bicubic resize, horizontal pass then vertical, in 22-bit
// fixed point with rounding to 8 bits after each pass; centre crop (zero padding when the image
// is smaller); rescale and normalise in float32. Plain C++17 outside nvcc.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define INTERNVL_HOST_DEVICE __host__ __device__
#else
#define INTERNVL_HOST_DEVICE
#endif

namespace ivs::model::cuda {

/// One NV12 picture (device or host memory): full-resolution luma, interleaved half-resolution
/// Cb/Cr. Pitches in bytes.
struct Nv12View {
  const uint8_t* y = nullptr;
  const uint8_t* uv = nullptr;
  int y_pitch = 0;
  int uv_pitch = 0;
  int width = 0;
  int height = 0;
};

/// Y'CbCr -> R'G'B' (0..255): rgb = luma_scale * (Y - luma_offset) + chroma terms of
/// chroma_scale * (C - 128).
struct YuvMatrix {
  float luma_scale = 1.0f;
  float luma_offset = 0.0f;
  float chroma_scale = 1.0f;
  float r_cr = 0.0f, g_cb = 0.0f, g_cr = 0.0f, b_cb = 0.0f;
  bool chroma_cosited = true;     // horizontally on even luma columns (MPEG-2/H.264); else centred
  bool chroma_v_cosited = false;  // vertically on even luma rows; else between rows
};

/// Pillow resampling coefficients of one axis, restricted to the outputs the crop keeps.
struct AxisView {
  int outputs = 0;  // entries
  int taps = 0;     // row stride of weights
  const int* first = nullptr;
  const int* count = nullptr;
  const int32_t* weights = nullptr;
};

/// Everything the kernels read besides the picture. `columns` are resized columns
/// [column0, column0 + columns.outputs) (those inside the crop); `rows` likewise from row0. The
/// horizontal pass produces input rows [source_row0, source_row0 + source_rows) of those columns.
struct PlanView {
  AxisView columns;
  AxisView rows;
  int column0 = 0;
  int row0 = 0;
  int source_row0 = 0;
  int source_rows = 0;
  int crop_width = 0;
  int crop_height = 0;
  int crop_left = 0;  // resized column of crop column 0 (negative: padding)
  int crop_top = 0;
  double rescale = 1.0 / 255.0;  // applied when do_rescale (in double, as transformers)
  bool do_rescale = true;
  bool do_normalize = true;
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std_dev[3] = {1.0f, 1.0f, 1.0f};
};

INTERNVL_HOST_DEVICE inline int clamp_int(int v, int lo, int hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

INTERNVL_HOST_DEVICE inline uint8_t round_to_u8(float v) {
  const float r = v + 0.5f;
  return r <= 0.0f ? uint8_t{0} : (r >= 255.0f ? uint8_t{255} : static_cast<uint8_t>(r));
}

// Along one axis of 4:2:0 chroma: luma index i reads chroma samples k and k2 with weight w on k.
// Cosited samples sit on even luma positions (odd ones average two); centred ones sit between
// positions 2k and 2k+1 (weights 3/4 and 1/4).
struct ChromaTaps {
  int k, k2;
  float w;
};

INTERNVL_HOST_DEVICE inline ChromaTaps chroma_taps(int i, int samples, bool cosited) {
  const int k = i >> 1;
  if (cosited)
    return (i & 1) ? ChromaTaps{k, clamp_int(k + 1, 0, samples - 1), 0.5f} : ChromaTaps{k, k, 1.0f};
  return ChromaTaps{k, clamp_int((i & 1) ? k + 1 : k - 1, 0, samples - 1), 0.75f};
}

// Chroma sample (channel 0 = Cb, 1 = Cr) at luma (x, y), linearly interpolated (GstVideoConverter's
// default chroma resampler) for the stream's chroma siting. Vertically cosited chroma is repeated
// on rows 2k and 2k+1 instead: GStreamer 1.22's vertical cosited resampler is a placeholder that
// does exactly that (video-chroma.c, "IMPLEMENT ME"), and the CPU path is the reference.
INTERNVL_HOST_DEVICE inline float chroma_at(const Nv12View& f, const YuvMatrix& m, int x, int y,
                                            int channel) {
  const ChromaTaps h = chroma_taps(x, (f.width + 1) / 2, m.chroma_cosited);
  const ChromaTaps v = m.chroma_v_cosited ? ChromaTaps{y >> 1, y >> 1, 1.0f}
                                          : chroma_taps(y, (f.height + 1) / 2, false);
  const uint8_t* row = f.uv + static_cast<long>(v.k) * f.uv_pitch;
  const uint8_t* row2 = f.uv + static_cast<long>(v.k2) * f.uv_pitch;
  const float near_row = h.w * row[2 * h.k + channel] + (1.0f - h.w) * row[2 * h.k2 + channel];
  const float far_row = h.w * row2[2 * h.k + channel] + (1.0f - h.w) * row2[2 * h.k2 + channel];
  return v.w * near_row + (1.0f - v.w) * far_row;
}

/// The 8-bit RGB of luma pixel (x, y).
INTERNVL_HOST_DEVICE inline void nv12_rgb(const Nv12View& f, const YuvMatrix& m, int x, int y,
                                          uint8_t rgb[3]) {
  const float luma = m.luma_scale * (static_cast<float>(f.y[static_cast<long>(y) * f.y_pitch + x]) -
                                     m.luma_offset);
  const float cb = m.chroma_scale * (chroma_at(f, m, x, y, 0) - 128.0f);
  const float cr = m.chroma_scale * (chroma_at(f, m, x, y, 1) - 128.0f);
  rgb[0] = round_to_u8(luma + m.r_cr * cr);
  rgb[1] = round_to_u8(luma + m.g_cb * cb + m.g_cr * cr);
  rgb[2] = round_to_u8(luma + m.b_cb * cb);
}

// Pillow's fixed-point accumulator -> uint8 (22 fraction bits).
INTERNVL_HOST_DEVICE inline uint8_t pil_clip(int32_t acc) {
  if (acc <= 0) return 0;
  if (acc >= (int32_t{256} << 22)) return 255;
  return static_cast<uint8_t>(acc >> 22);
}

/// Horizontal pass: source row `source_row`, kept column `column` (0-based in plan.columns).
INTERNVL_HOST_DEVICE inline void horizontal_pixel(const Nv12View& f, const YuvMatrix& m,
                                                  const PlanView& p, int source_row, int column,
                                                  uint8_t out[3]) {
  const int32_t* k = p.columns.weights + static_cast<long>(column) * p.columns.taps;
  const int first = p.columns.first[column];
  int32_t acc[3] = {1 << 21, 1 << 21, 1 << 21};
  for (int t = 0; t < p.columns.count[column]; ++t) {
    uint8_t rgb[3];
    nv12_rgb(f, m, first + t, source_row, rgb);
    for (int c = 0; c < 3; ++c) acc[c] += rgb[c] * k[t];
  }
  for (int c = 0; c < 3; ++c) out[c] = pil_clip(acc[c]);
}

/// The model value of channel c at crop pixel (x, y), reading the horizontal pass' output
/// `rows` ([source_rows][columns.outputs][3] uint8).
INTERNVL_HOST_DEVICE inline float model_value(const uint8_t* rows, const PlanView& p, int c, int y,
                                              int x) {
  const int rx = p.crop_left + x - p.column0, ry = p.crop_top + y - p.row0;
  int value = 0;  // padding outside the resized image
  if (rx >= 0 && rx < p.columns.outputs && ry >= 0 && ry < p.rows.outputs) {
    const int32_t* k = p.rows.weights + static_cast<long>(ry) * p.rows.taps;
    const int first = p.rows.first[ry] - p.source_row0;
    int32_t acc = 1 << 21;
    for (int t = 0; t < p.rows.count[ry]; ++t) {
      acc += rows[(static_cast<long>(first + t) * p.columns.outputs + rx) * 3 + c] * k[t];
    }
    value = pil_clip(acc);
  }
  // transformers: uint8 * rescale_factor in double, cast to float32; then (x - mean) / std.
  float v = p.do_rescale ? static_cast<float>(static_cast<double>(value) * p.rescale)
                         : static_cast<float>(value);
  if (p.do_normalize) v = (v - p.mean[c]) / p.std_dev[c];
  return v;
}

}  // namespace ivs::model::cuda
