// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_thumbnail.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "model/common/jpeg_writer.h"

namespace ivs::pipeline {

std::pair<int, int> thumbnail_dimensions(int width, int height, int par_n, int par_d,
                                         int longest_side) {
  if (width <= 0 || height <= 0 || par_n <= 0 || par_d <= 0 || longest_side <= 0) {
    throw std::invalid_argument(
        "thumbnail of a " + std::to_string(width) + "x" + std::to_string(height) +
        " frame (pixel aspect " + std::to_string(par_n) + "/" + std::to_string(par_d) +
        ") with longest side " + std::to_string(longest_side) + ": every value must be positive");
  }
  const double display_width = static_cast<double>(width) * par_n / par_d;
  const double longest = std::max(display_width, static_cast<double>(height));
  const double scale = std::min(1.0, longest_side / longest);
  const auto side = [](double v) { return std::max(1, static_cast<int>(std::lround(v))); };
  return {side(display_width * scale), side(height * scale)};
}

FrameThumbnailer::FrameThumbnailer(int longest_side, int quality)
    : longest_side_(longest_side), quality_(quality) {
  if (longest_side < 1) {
    throw std::invalid_argument("thumbnail size " + std::to_string(longest_side) +
                                " must be at least 1 pixel");
  }
  if (quality < 1 || quality > 100) {
    throw std::invalid_argument("JPEG quality " + std::to_string(quality) + " is not in 1..100");
  }
}

model::RgbImage FrameThumbnailer::scale(const GstVideoFrame& frame) {
  const GstVideoInfo& in = frame.info;
  const auto [width, height] =
      thumbnail_dimensions(GST_VIDEO_INFO_WIDTH(&in), GST_VIDEO_INFO_HEIGHT(&in),
                           GST_VIDEO_INFO_PAR_N(&in), GST_VIDEO_INFO_PAR_D(&in), longest_side_);
  return conversion_.convert(frame, width, height);
}

std::vector<uint8_t> FrameThumbnailer::jpeg(const GstVideoFrame& frame) {
  return model::encode_jpeg(scale(frame), quality_);
}

void FrameThumbnailer::reset() { conversion_.reset(); }

}  // namespace ivs::pipeline
