// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_preprocess.h"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using ivs::model::RgbImage;
using ivs::pipeline::FramePreprocessor;

// A smooth picture with structure in every channel (a gradient plus a soft diagonal band), so
// that 4:2:0 subsampling loses little and the bound below is meaningful.
RgbImage test_image(int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(40 + 180 * x / (width - 1));
      p[1] = static_cast<uint8_t>(30 + 190 * y / (height - 1));
      p[2] = static_cast<uint8_t>(128 + 100 * std::sin((x + y) * 0.05));
    }
  }
  return image;
}

ivs::model::ImageProcessorConfig small_config() {
  ivs::model::ImageProcessorConfig config;  // InternVL defaults, smaller crop for speed
  config.shortest_edge = 64;
  config.crop_height = 64;
  config.crop_width = 64;
  return config;
}

// Writes the RGB picture into a buffer of a packed format whose name spells its byte order
// ("BGRx": B at byte 0, G at 1, R at 2, padding at 3). Strides are GStreamer's defaults.
GstBuffer* packed_buffer(const RgbImage& image, const std::string& name, GstVideoInfo* info) {
  const GstVideoFormat format = gst_video_format_from_string(name.c_str());
  EXPECT_TRUE(gst_video_info_set_format(info, format, image.width, image.height));
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(info), nullptr);
  GstMapInfo map;
  EXPECT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_WRITE));
  std::fill(map.data, map.data + map.size, 0x55);
  const int stride = GST_VIDEO_INFO_PLANE_STRIDE(info, 0);
  const size_t pstride = name.size();
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* src = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
      uint8_t* dst = map.data + static_cast<size_t>(y) * stride + x * pstride;
      for (size_t i = 0; i < pstride; ++i) {
        const char c = name[i];
        if (c == 'R') dst[i] = src[0];
        if (c == 'G') dst[i] = src[1];
        if (c == 'B') dst[i] = src[2];
      }
    }
  }
  gst_buffer_unmap(buffer, &map);
  return buffer;
}

// The RGB picture converted to a YUV format by GStreamer's own converter (what a decoder or
// videoconvert upstream would hand the element).
GstBuffer* yuv_buffer(const RgbImage& image, GstVideoFormat format, GstVideoInfo* info) {
  GstVideoInfo rgb_info;
  GstBuffer* rgb = packed_buffer(image, "RGB", &rgb_info);
  EXPECT_TRUE(gst_video_info_set_format(info, format, image.width, image.height));
  GstBuffer* out = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(info), nullptr);
  GstVideoFrame in_frame;
  GstVideoFrame out_frame;
  EXPECT_TRUE(gst_video_frame_map(&in_frame, &rgb_info, rgb, GST_MAP_READ));
  EXPECT_TRUE(gst_video_frame_map(&out_frame, info, out, GST_MAP_WRITE));
  GstVideoConverter* converter = gst_video_converter_new(&rgb_info, info, nullptr);
  gst_video_converter_frame(converter, &in_frame, &out_frame);
  gst_video_converter_free(converter);
  gst_video_frame_unmap(&out_frame);
  gst_video_frame_unmap(&in_frame);
  gst_buffer_unref(rgb);
  return out;
}

std::vector<float> run(FramePreprocessor& preprocessor, GstBuffer* buffer, GstVideoInfo* info) {
  GstVideoFrame frame;
  EXPECT_TRUE(gst_video_frame_map(&frame, info, buffer, GST_MAP_READ));
  auto pixels = preprocessor.preprocess(frame);
  gst_video_frame_unmap(&frame);
  return pixels;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

class FramePreprocessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

TEST_F(FramePreprocessTest, packed_rgb_formats_equal_preprocessing_the_rgb_image_exactly) {
  const RgbImage image = test_image(96, 70);
  const auto expected = ivs::model::preprocess_image(image, small_config());
  FramePreprocessor preprocessor(small_config());
  for (const std::string name : {"RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA"}) {
    SCOPED_TRACE(name);
    GstVideoInfo info;
    GstBuffer* buffer = packed_buffer(image, name, &info);
    GstVideoFrame frame;
    ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
    const RgbImage rgb = preprocessor.to_rgb(frame);
    gst_video_frame_unmap(&frame);
    EXPECT_EQ(rgb.width, image.width);
    EXPECT_EQ(rgb.height, image.height);
    EXPECT_EQ(rgb.pixels, image.pixels);
    EXPECT_EQ(run(preprocessor, buffer, &info), expected);
    gst_buffer_unref(buffer);
  }
}

// Measured on this picture: max |difference| 0.157 (I420) and 0.158 (NV12) in normalised units,
// i.e. about 8/255 of range / std (0.224): the 8-bit limited-range YUV round trip plus 4:2:0
// chroma subsampling. The bound leaves some room; a wrong matrix or swapped chroma planes are
// off by far more (> 0.5).
constexpr double kYuvBound = 0.2;

TEST_F(FramePreprocessTest, i420_and_nv12_match_the_rgb_image_within_the_chroma_subsampling_error) {
  const RgbImage image = test_image(96, 70);
  const auto expected = ivs::model::preprocess_image(image, small_config());
  FramePreprocessor preprocessor(small_config());
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    SCOPED_TRACE(gst_video_format_to_string(format));
    GstVideoInfo info;
    GstBuffer* buffer = yuv_buffer(image, format, &info);
    const auto first = run(preprocessor, buffer, &info);
    const double diff = max_abs_diff(first, expected);
    RecordProperty(std::string("max_abs_diff_") + gst_video_format_to_string(format), std::to_string(diff));
    EXPECT_LT(diff, kYuvBound);
    EXPECT_EQ(run(preprocessor, buffer, &info), first);  // the reused converter gives the same
    gst_buffer_unref(buffer);
  }
}

// Real streams carry a frame rate and pixel aspect ratio in their caps; the RGB converter must
// keep them (GstVideoConverter refuses to change either).
TEST_F(FramePreprocessTest, yuv_frames_with_a_frame_rate_convert) {
  const RgbImage image = test_image(64, 48);
  FramePreprocessor preprocessor(small_config());
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    SCOPED_TRACE(gst_video_format_to_string(format));
    GstVideoInfo info;
    GstBuffer* buffer = yuv_buffer(image, format, &info);
    const auto without_rate = run(preprocessor, buffer, &info);
    GST_VIDEO_INFO_FPS_N(&info) = 30;
    GST_VIDEO_INFO_FPS_D(&info) = 1;
    GST_VIDEO_INFO_PAR_N(&info) = 4;
    GST_VIDEO_INFO_PAR_D(&info) = 3;
    EXPECT_EQ(run(preprocessor, buffer, &info), without_rate);
    gst_buffer_unref(buffer);
  }
}

TEST_F(FramePreprocessTest, converter_follows_a_change_of_frame_size) {
  FramePreprocessor preprocessor(small_config());
  for (int width : {96, 128, 96}) {
    const RgbImage image = test_image(width, 72);
    GstVideoInfo info;
    GstBuffer* buffer = yuv_buffer(image, GST_VIDEO_FORMAT_I420, &info);
    GstVideoFrame frame;
    ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
    const RgbImage rgb = preprocessor.to_rgb(frame);
    gst_video_frame_unmap(&frame);
    EXPECT_EQ(rgb.width, width);
    EXPECT_EQ(rgb.height, 72);
    gst_buffer_unref(buffer);
  }
}

TEST_F(FramePreprocessTest, unsupported_format_throws_naming_it) {
  EXPECT_FALSE(ivs::pipeline::frame_preprocess_supports(GST_VIDEO_FORMAT_YUY2));
  EXPECT_TRUE(ivs::pipeline::frame_preprocess_supports(GST_VIDEO_FORMAT_NV12));
  GstVideoInfo info;
  ASSERT_TRUE(gst_video_info_set_format(&info, GST_VIDEO_FORMAT_YUY2, 16, 16));
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstVideoFrame frame;
  ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
  FramePreprocessor preprocessor(small_config());
  try {
    preprocessor.to_rgb(frame);
    ADD_FAILURE() << "YUY2 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("YUY2"), std::string::npos) << e.what();
  }
  gst_video_frame_unmap(&frame);
  gst_buffer_unref(buffer);
}

}  // namespace
