// SPDX-License-Identifier: Apache-2.0
// Video frames (system memory) to model input pixels: a mapped GstVideoFrame becomes an 8-bit
// RgbImage, then model::preprocess_image turns it into C x H x W floats, exactly as the
// checkpoint's image processor does for a decoded picture.
#pragma once

#include <gst/video/video.h>

#include <vector>

#include "model/common/clip_image_processor.h"
#include "model/common/image.h"
#include "model/cuda/nv12_pixels.h"
#include "pipeline/rgb_conversion.h"

namespace ivs::pipeline {

/// The raw video formats FramePreprocessor reads, as a caps format list (for pad templates).
#define IVS_FRAME_PREPROCESS_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12 }"

/// Whether FramePreprocessor reads `format`.
bool frame_preprocess_supports(GstVideoFormat format);

/// Turns frames into model pixels. The packed RGB family (RGB, BGR, RGBx, BGRx, xRGB, xBGR,
/// RGBA, BGRA; alpha ignored) is copied byte for byte into the RgbImage, so the result equals
/// preprocessing the same picture decoded as RGB. I420 and NV12 go through a GstVideoConverter to
/// RGB (the matrix and range of the frame's colorimetry, no dithering), built for the first frame
/// and reused while the frames' GstVideoInfo stays the same; the difference to the RGB original
/// is the YUV round trip (quantisation and 4:2:0 chroma subsampling).
///
/// Thread rules: not thread-safe. One object per streaming thread (an element keeps one in its
/// State and calls it only from its chain function); distinct objects may be used concurrently.
class FramePreprocessor {
 public:
  explicit FramePreprocessor(model::ImageProcessorConfig config,
                             model::ResizeMode mode = model::ResizeMode::kShortestEdgeCrop);
  FramePreprocessor(const FramePreprocessor&) = delete;
  FramePreprocessor& operator=(const FramePreprocessor&) = delete;

  /// The frame as 8-bit RGB (rows top to bottom, no padding). Throws std::invalid_argument for a
  /// format that frame_preprocess_supports() refuses, std::runtime_error when the converter
  /// cannot be built.
  model::RgbImage to_rgb(const GstVideoFrame& frame);

  /// to_rgb() then model::preprocess_image(): 3 x crop_height x crop_width floats. The RGB
  /// picture goes into a buffer kept between calls.
  std::vector<float> preprocess(const GstVideoFrame& frame);

  /// Drops the cached converter (the next YUV frame builds a new one).
  void reset();

  const model::ImageProcessorConfig& config() const { return config_; }

 private:
  void to_rgb(const GstVideoFrame& frame, model::RgbImage& out);

  model::ImageProcessorConfig config_;
  model::ResizeMode mode_;
  RgbConversion yuv_;    // I420 and NV12
  model::RgbImage rgb_;  // preprocess()'s picture, reused while frames keep their size
};

/// The Y'CbCr -> RGB conversion of a YUV stream's colorimetry (matrix, range, chroma siting), as
/// GstVideoConverter applies it, for the GPU preprocessing (model/cuda/).
model::cuda::YuvMatrix yuv_matrix_for(const GstVideoInfo& info);

/// The planes of a mapped NV12 frame (system memory, or CUDA memory mapped with GST_MAP_CUDA).
/// Throws std::invalid_argument for another format.
model::cuda::Nv12View nv12_view(const GstVideoFrame& frame);

}  // namespace ivs::pipeline
