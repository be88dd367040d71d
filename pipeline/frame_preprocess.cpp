// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_preprocess.h"

#include <cstring>
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

// Packed RGB family: GstVideoFormatInfo names the byte offset of R, G and B (components 0..2)
// inside a pixel and the pixel stride, so one loop reads every order.
model::RgbImage copy_packed_rgb(const GstVideoFrame& frame) {
  const GstVideoFormatInfo* finfo = frame.info.finfo;
  model::RgbImage image;
  image.width = GST_VIDEO_FRAME_WIDTH(&frame);
  image.height = GST_VIDEO_FRAME_HEIGHT(&frame);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  const auto* data = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  const int pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE(finfo, 0);
  const int r = GST_VIDEO_FORMAT_INFO_POFFSET(finfo, 0);
  const int g = GST_VIDEO_FORMAT_INFO_POFFSET(finfo, 1);
  const int b = GST_VIDEO_FORMAT_INFO_POFFSET(finfo, 2);
  uint8_t* out = image.pixels.data();
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* row = data + static_cast<ptrdiff_t>(y) * stride;
    if (pstride == 3 && r == 0 && g == 1 && b == 2) {
      std::memcpy(out, row, static_cast<size_t>(image.width) * 3);
      out += static_cast<ptrdiff_t>(image.width) * 3;
      continue;
    }
    for (int x = 0; x < image.width; ++x, row += pstride) {
      *out++ = row[r];
      *out++ = row[g];
      *out++ = row[b];
    }
  }
  return image;
}

}  // namespace

bool frame_preprocess_supports(GstVideoFormat format) {
  return is_packed_rgb(format) || format == GST_VIDEO_FORMAT_I420 ||
         format == GST_VIDEO_FORMAT_NV12;
}

FramePreprocessor::FramePreprocessor(model::ImageProcessorConfig config, model::ResizeMode mode)
    : config_(std::move(config)), mode_(mode) {
  gst_video_info_init(&converter_in_);
  gst_video_info_init(&converter_out_);
}

FramePreprocessor::~FramePreprocessor() { reset(); }

void FramePreprocessor::reset() {
  if (converter_ != nullptr) gst_video_converter_free(converter_);
  converter_ = nullptr;
  if (scratch_ != nullptr) gst_buffer_unref(scratch_);
  scratch_ = nullptr;
  gst_video_info_init(&converter_in_);
}

model::RgbImage FramePreprocessor::to_rgb(const GstVideoFrame& frame) {
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(&frame);
  if (!frame_preprocess_supports(format)) {
    throw std::invalid_argument(std::string("video format ") + gst_video_format_to_string(format) +
                                " is not supported; use one of " IVS_FRAME_PREPROCESS_FORMATS);
  }
  if (is_packed_rgb(format)) return copy_packed_rgb(frame);
  return convert_yuv(frame);
}

model::RgbImage FramePreprocessor::convert_yuv(const GstVideoFrame& frame) {
  if (converter_ == nullptr || !gst_video_info_is_equal(&converter_in_, &frame.info)) {
    reset();
    converter_in_ = frame.info;
    gst_video_info_set_format(&converter_out_, GST_VIDEO_FORMAT_RGB, GST_VIDEO_FRAME_WIDTH(&frame),
                              GST_VIDEO_FRAME_HEIGHT(&frame));
    // The converter refuses to change the frame rate or pixel aspect ratio: copy them.
    GST_VIDEO_INFO_FPS_N(&converter_out_) = GST_VIDEO_INFO_FPS_N(&frame.info);
    GST_VIDEO_INFO_FPS_D(&converter_out_) = GST_VIDEO_INFO_FPS_D(&frame.info);
    GST_VIDEO_INFO_PAR_N(&converter_out_) = GST_VIDEO_INFO_PAR_N(&frame.info);
    GST_VIDEO_INFO_PAR_D(&converter_out_) = GST_VIDEO_INFO_PAR_D(&frame.info);
    // Deterministic output: no dithering, one thread (the caller's).
    GstStructure* options = gst_structure_new(
        "GstVideoConverter", GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
        GST_VIDEO_DITHER_NONE, GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1u, nullptr);
    converter_ =
        gst_video_converter_new(&converter_in_, &converter_out_, options);  // takes options
    if (converter_ == nullptr) {
      gst_video_info_init(&converter_in_);
      throw std::runtime_error(std::string("cannot convert ") +
                               gst_video_format_to_string(GST_VIDEO_FRAME_FORMAT(&frame)) +
                               " to RGB");
    }
    scratch_ = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&converter_out_), nullptr);
  }
  GstVideoFrame rgb;
  if (!gst_video_frame_map(&rgb, &converter_out_, scratch_, GST_MAP_READWRITE)) {
    throw std::runtime_error("cannot map the RGB conversion buffer");
  }
  gst_video_converter_frame(converter_, &frame, &rgb);
  model::RgbImage image;
  try {
    image = copy_packed_rgb(rgb);
  } catch (...) {
    gst_video_frame_unmap(&rgb);
    throw;
  }
  gst_video_frame_unmap(&rgb);
  return image;
}

std::vector<float> FramePreprocessor::preprocess(const GstVideoFrame& frame) {
  return model::preprocess_image(to_rgb(frame), config_, mode_);
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
