// SPDX-License-Identifier: Apache-2.0
#include "pipeline/rgb_conversion.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace ivs::pipeline {

// Packed RGB family: GstVideoFormatInfo names the byte offset of R, G and B (components 0..2)
// inside a pixel and the pixel stride, so one loop reads every order.
model::RgbImage packed_rgb_image(const GstVideoFrame& frame) {
  model::RgbImage image;
  packed_rgb_image(frame, image);
  return image;
}

void packed_rgb_image(const GstVideoFrame& frame, model::RgbImage& image) {
  const GstVideoFormatInfo* finfo = frame.info.finfo;
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
}

RgbConversion::RgbConversion() {
  gst_video_info_init(&in_);
  gst_video_info_init(&out_);
}

RgbConversion::~RgbConversion() { reset(); }

void RgbConversion::reset() {
  if (converter_ != nullptr) gst_video_converter_free(converter_);
  converter_ = nullptr;
  gst_video_info_init(&in_);
}

void RgbConversion::prepare(const GstVideoInfo& in, int width, int height) {
  if (converter_ != nullptr && gst_video_info_is_equal(&in_, &in) &&
      GST_VIDEO_INFO_WIDTH(&out_) == width && GST_VIDEO_INFO_HEIGHT(&out_) == height) {
    return;
  }
  reset();
  gst_video_info_set_format(&out_, GST_VIDEO_FORMAT_RGB, width, height);
  // GStreamer pads RGB rows to 4 bytes; the converter writes through the mapped frame's stride,
  // so rows of exactly width * 3 bytes let it fill an RgbImage in place.
  GST_VIDEO_INFO_PLANE_STRIDE(&out_, 0) = width * 3;
  GST_VIDEO_INFO_SIZE(&out_) = static_cast<gsize>(width) * 3 * height;
  // The converter never changes the frame rate, pixel aspect ratio or interlacing: copy them
  // (the RGB picture is pixels only; its caller knows their shape).
  GST_VIDEO_INFO_FPS_N(&out_) = GST_VIDEO_INFO_FPS_N(&in);
  GST_VIDEO_INFO_FPS_D(&out_) = GST_VIDEO_INFO_FPS_D(&in);
  GST_VIDEO_INFO_PAR_N(&out_) = GST_VIDEO_INFO_PAR_N(&in);
  GST_VIDEO_INFO_PAR_D(&out_) = GST_VIDEO_INFO_PAR_D(&in);
  GST_VIDEO_INFO_INTERLACE_MODE(&out_) = GST_VIDEO_INFO_INTERLACE_MODE(&in);
  // Deterministic output: no dithering, one thread (the caller's). When scaling, linear
  // resampling widens its kernel with the shrink factor, so a large downscale is still filtered
  // (no aliasing): about 4 ms for 1080p -> 160x90 on one core, against 7 ms for cubic. Fewer
  // taps would be cheaper, but GStreamer then darkens the picture (a truncated kernel's weights
  // sum to less than 1). Without scaling the method changes nothing.
  GstStructure* options = gst_structure_new(
      "GstVideoConverter", GST_VIDEO_CONVERTER_OPT_RESAMPLER_METHOD,
      GST_TYPE_VIDEO_RESAMPLER_METHOD, GST_VIDEO_RESAMPLER_METHOD_LINEAR,
      GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE,
      GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1u, nullptr);
  converter_ = gst_video_converter_new(&in, &out_, options);  // takes options
  if (converter_ == nullptr) {
    throw std::runtime_error(std::string("cannot convert ") +
                             gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&in)) +
                             " frames to RGB");
  }
  in_ = in;
}

model::RgbImage RgbConversion::convert(const GstVideoFrame& frame, int width, int height) {
  model::RgbImage image;
  convert(frame, width, height, image);
  return image;
}

void RgbConversion::convert(const GstVideoFrame& frame, int width, int height,
                            model::RgbImage& out) {
  prepare(frame.info, width, height);
  out.width = width;
  out.height = height;
  out.pixels.resize(GST_VIDEO_INFO_SIZE(&out_));
  // A buffer over the image's own pixels (not freed by GStreamer): no intermediate copy.
  GstBuffer* target =
      gst_buffer_new_wrapped_full(GstMemoryFlags(0), out.pixels.data(), out.pixels.size(), 0,
                                  out.pixels.size(), nullptr, nullptr);
  GstVideoFrame rgb;
  const bool mapped = gst_video_frame_map(&rgb, &out_, target, GST_MAP_WRITE);
  if (mapped) {
    gst_video_converter_frame(converter_, &frame, &rgb);
    gst_video_frame_unmap(&rgb);
  }
  gst_buffer_unref(target);
  if (!mapped) throw std::runtime_error("cannot map the RGB conversion buffer");
}

}  // namespace ivs::pipeline
