// SPDX-License-Identifier: Apache-2.0
// Host side of the NV12 preprocessing: the plan (Pillow coefficients of the kept rows and
// columns, crop and normalisation) for one frame size and processor config, the colour matrix of
// a stream's colorimetry, and a CPU run of the GPU arithmetic (nv12_pixels.h) that tests pin
// against the CPU path and the GPU kernels against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/common/clip_image_processor.h"
#include "model/cuda/nv12_pixels.h"

namespace ivs::model::cuda {

enum class YuvStandard { kBt601, kBt709, kBt2020 };

/// The matrix for a colorimetry; limited range unless `full_range`; chroma siting horizontally
/// and vertically cosited with even luma samples, or centred between them.
YuvMatrix make_yuv_matrix(YuvStandard standard, bool full_range, bool chroma_cosited,
                          bool chroma_v_cosited = false);

/// The preprocessing of width x height frames into model pixels, as preprocess_image does it
/// with `mode`. Owns the coefficient arrays; view() points at them.
class Nv12Plan {
 public:
  /// Throws std::invalid_argument for a non-positive frame size.
  Nv12Plan(int width, int height, const ImageProcessorConfig& config,
           ResizeMode mode = ResizeMode::kShortestEdgeCrop);

  int width() const { return width_; }
  int height() const { return height_; }
  /// The plan with pointers into this object's (host) arrays.
  PlanView view() const;
  /// The same plan with the arrays at the given addresses (copies of those in host_arrays()).
  PlanView view_at(const int32_t* device_arrays) const;
  /// Every coefficient array in one block (ints and weights as int32), for one upload.
  const std::vector<int32_t>& host_arrays() const { return arrays_; }
  /// Size in bytes of the horizontal pass' scratch rows.
  size_t scratch_bytes() const;
  /// Floats of one model input: 3 x crop_height x crop_width.
  size_t output_floats() const;

 private:
  int width_, height_;
  PlanView plan_;  // pointers null; offsets below
  std::vector<int32_t> arrays_;
  size_t column_first_ = 0, column_count_ = 0, column_weights_ = 0;
  size_t row_first_ = 0, row_count_ = 0, row_weights_ = 0;
};

/// The GPU arithmetic run on the CPU, one loop per kernel: 3 x crop_height x crop_width floats.
std::vector<float> preprocess_nv12_on_host(const Nv12View& frame, const YuvMatrix& matrix,
                                           const Nv12Plan& plan);

}  // namespace ivs::model::cuda
