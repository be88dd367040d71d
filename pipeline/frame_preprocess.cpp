// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_preprocess.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "model/cuda/nv12_plan.h"

namespace ivs::pipeline {

namespace {

bool is_packed_rgb(GstVideoFormat format) {
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_xBGR:
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool frame_preprocess_supports(GstVideoFormat format) {
  return is_packed_rgb(format) || format == GST_VIDEO_FORMAT_I420 ||
         format == GST_VIDEO_FORMAT_NV12;
}

FramePreprocessor::FramePreprocessor(model::ImageProcessorConfig config, model::ResizeMode mode)
    : config_(std::move(config)), mode_(mode) {}

void FramePreprocessor::reset() { yuv_.reset(); }

model::RgbImage FramePreprocessor::to_rgb(const GstVideoFrame& frame) {
  model::RgbImage image;
  to_rgb(frame, image);
  return image;
}

void FramePreprocessor::to_rgb(const GstVideoFrame& frame, model::RgbImage& out) {
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(&frame);
  if (!frame_preprocess_supports(format)) {
    throw std::invalid_argument(std::string("video format ") + gst_video_format_to_string(format) +
                                " is not supported; use one of " IVS_FRAME_PREPROCESS_FORMATS);
  }
  if (is_packed_rgb(format)) {
    packed_rgb_image(frame, out);
    return;
  }
  yuv_.convert(frame, GST_VIDEO_FRAME_WIDTH(&frame), GST_VIDEO_FRAME_HEIGHT(&frame), out);
}

std::vector<float> FramePreprocessor::preprocess(const GstVideoFrame& frame) {
  to_rgb(frame, rgb_);
  return model::preprocess_image(rgb_, config_, mode_);
}

model::cuda::YuvMatrix yuv_matrix_for(const GstVideoInfo& info) {
  using model::cuda::YuvStandard;
  const GstVideoColorimetry& c = info.colorimetry;
  YuvStandard standard = YuvStandard::kBt601;
  if (c.matrix == GST_VIDEO_COLOR_MATRIX_BT709) standard = YuvStandard::kBt709;
  if (c.matrix == GST_VIDEO_COLOR_MATRIX_BT2020) standard = YuvStandard::kBt2020;
  const bool h_cosited = (info.chroma_site & GST_VIDEO_CHROMA_SITE_H_COSITED) != 0;
  const bool v_cosited = (info.chroma_site & GST_VIDEO_CHROMA_SITE_V_COSITED) != 0;
  return model::cuda::make_yuv_matrix(standard, c.range == GST_VIDEO_COLOR_RANGE_0_255, h_cosited,
                                      v_cosited);
}

model::cuda::Nv12View nv12_view(const GstVideoFrame& frame) {
  if (GST_VIDEO_FRAME_FORMAT(&frame) != GST_VIDEO_FORMAT_NV12) {
    throw std::invalid_argument(std::string("an NV12 frame was expected, got ") +
                                gst_video_format_to_string(GST_VIDEO_FRAME_FORMAT(&frame)));
  }
  model::cuda::Nv12View view;
  view.y = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  view.uv = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 1));
  view.y_pitch = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  view.uv_pitch = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 1);
  view.width = GST_VIDEO_FRAME_WIDTH(&frame);
  view.height = GST_VIDEO_FRAME_HEIGHT(&frame);
  return view;
}

}  // namespace ivs::pipeline
