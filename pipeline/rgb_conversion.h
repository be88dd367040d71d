// SPDX-License-Identifier: Apache-2.0
// Video frames (system memory) to 8-bit RGB pictures: the one place a GstVideoConverter is built
// for that, shared by the model's preprocessing (same size) and the search thumbnails (scaled).
#pragma once

#include <gst/video/video.h>

#include "model/common/image.h"

namespace ivs::pipeline {

/// A mapped frame of the packed RGB family (RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA) as an
/// RgbImage: bytes copied in R, G, B order, row padding and alpha dropped. Other formats are
/// the caller's error.
model::RgbImage packed_rgb_image(const GstVideoFrame& frame);

/// Same, into `out`, whose pixel buffer is reused when it has the frame's size (a 1080p picture
/// is 6 MB: allocating and zeroing it for every sample cost more than converting it).
void packed_rgb_image(const GstVideoFrame& frame, model::RgbImage& out);

/// Converts, and scales when asked, frames of any format GstVideoConverter reads to RGB with the
/// matrix and range of the frame's colorimetry, no dithering, on the caller's thread. The
/// converter is built for the first frame and reused while the frames' GstVideoInfo and the
/// output size stay the same.
///
/// Thread rules: not thread-safe; one object per streaming thread.
class RgbConversion {
 public:
  RgbConversion();
  ~RgbConversion();
  RgbConversion(const RgbConversion&) = delete;
  RgbConversion& operator=(const RgbConversion&) = delete;

  /// `frame` as a width x height RGB image. Throws std::runtime_error when GStreamer cannot
  /// convert the frame's format.
  model::RgbImage convert(const GstVideoFrame& frame, int width, int height);

  /// Same, written straight into `out` (no intermediate copy); its pixel buffer is reused when
  /// it already has width x height pixels.
  void convert(const GstVideoFrame& frame, int width, int height, model::RgbImage& out);

  /// Drops the cached converter (the next frame builds a new one).
  void reset();

 private:
  void prepare(const GstVideoInfo& in, int width, int height);

  GstVideoConverter* converter_ = nullptr;
  GstVideoInfo in_{};   // the input the converter was built for
  GstVideoInfo out_{};  // RGB at the output size, rows without padding (as RgbImage's)
};

}  // namespace ivs::pipeline
