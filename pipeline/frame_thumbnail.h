// SPDX-License-Identifier: Apache-2.0
// Small JPEG thumbnails of video frames (system memory) for the search index: one
// GstVideoConverter (RgbConversion) scales and converts the frame to RGB at the thumbnail's size
// in one pass, so a 1080p frame is never converted at full size first; libjpeg-turbo encodes the
// result.
#pragma once

#include <gst/video/video.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "model/common/image.h"
#include "pipeline/rgb_conversion.h"

namespace ivs::pipeline {

/// The (width, height) of a thumbnail of a width x height frame whose pixels are par_n/par_d
/// wide: the displayed aspect ratio is kept and the longest displayed side becomes
/// `longest_side` pixels; a frame already smaller is not enlarged. Each side is at least 1.
/// Throws std::invalid_argument for a non-positive size or pixel aspect ratio.
std::pair<int, int> thumbnail_dimensions(int width, int height, int par_n, int par_d,
                                         int longest_side);

/// Thread rules: not thread-safe; one object per streaming thread (an element keeps one in its
/// state). The converter is built for the first frame and reused while the frames' GstVideoInfo
/// stays the same.
class FrameThumbnailer {
 public:
  /// `longest_side` in pixels (e.g. 160); `quality` of the JPEG, 1..100. Throws
  /// std::invalid_argument when either is out of range.
  explicit FrameThumbnailer(int longest_side, int quality = 80);

  /// The frame scaled to thumbnail_dimensions() as 8-bit RGB. Throws std::runtime_error when
  /// GStreamer cannot convert the frame's format.
  model::RgbImage scale(const GstVideoFrame& frame);

  /// scale() encoded as a baseline JPEG.
  std::vector<uint8_t> jpeg(const GstVideoFrame& frame);

  /// Drops the cached converter (the next frame builds a new one).
  void reset();

  int longest_side() const { return longest_side_; }

 private:
  int longest_side_;
  int quality_;
  RgbConversion conversion_;
};

}  // namespace ivs::pipeline
