// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_thumbnail.h"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/common/image.h"

namespace {

using ivs::pipeline::FrameThumbnailer;
using ivs::pipeline::thumbnail_dimensions;

struct SizeCase {
  int width, height, par_n, par_d, longest;
  int expected_width, expected_height;
};

TEST(FrameThumbnailTest, dimensions_keep_the_displayed_aspect_and_never_enlarge) {
  const SizeCase cases[] = {
      {1920, 1080, 1, 1, 160, 160, 90},   // landscape
      {1080, 1920, 1, 1, 160, 90, 160},   // portrait
      {224, 224, 1, 1, 160, 160, 160},    // square
      {100, 50, 1, 1, 160, 100, 50},      // smaller than the thumbnail: kept
      {720, 576, 16, 15, 160, 160, 120},  // PAL 4:3 with non-square pixels
      {1440, 1080, 4, 3, 160, 160, 90},   // anamorphic HDV 16:9
      {4000, 10, 1, 1, 160, 160, 1},      // a side never rounds to 0
  };
  for (const SizeCase& c : cases) {
    SCOPED_TRACE(std::to_string(c.width) + "x" + std::to_string(c.height));
    EXPECT_EQ(thumbnail_dimensions(c.width, c.height, c.par_n, c.par_d, c.longest),
              std::make_pair(c.expected_width, c.expected_height));
  }
  EXPECT_THROW(thumbnail_dimensions(0, 10, 1, 1, 160), std::invalid_argument);
  EXPECT_THROW(thumbnail_dimensions(10, 10, 1, 0, 160), std::invalid_argument);
  EXPECT_THROW(FrameThumbnailer(0), std::invalid_argument);
  EXPECT_THROW(FrameThumbnailer(160, 101), std::invalid_argument);
}

// A frame of `format` filled with one colour (through a converter from RGB).
GstBuffer* solid_frame(GstVideoFormat format, int width, int height, const uint8_t rgb[3],
                       GstVideoInfo* info) {
  GstVideoInfo rgb_info;
  gst_video_info_set_format(&rgb_info, GST_VIDEO_FORMAT_RGB, width, height);
  GstBuffer* source = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&rgb_info), nullptr);
  GstVideoFrame in;
  EXPECT_TRUE(gst_video_frame_map(&in, &rgb_info, source, GST_MAP_WRITE));
  for (int y = 0; y < height; ++y) {
    auto* row = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&in, 0)) +
                static_cast<size_t>(y) * GST_VIDEO_FRAME_PLANE_STRIDE(&in, 0);
    for (int x = 0; x < width; ++x) std::memcpy(row + 3 * x, rgb, 3);
  }
  gst_video_info_set_format(info, format, width, height);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(info), nullptr);
  GstVideoFrame frame;
  EXPECT_TRUE(gst_video_frame_map(&frame, info, out, GST_MAP_WRITE));
  GstVideoConverter* converter = gst_video_converter_new(&rgb_info, info, nullptr);
  gst_video_converter_frame(converter, &in, &frame);
  gst_video_converter_free(converter);
  gst_video_frame_unmap(&frame);
  gst_video_frame_unmap(&in);
  gst_buffer_unref(source);
  return out;
}

TEST(FrameThumbnailTest, scales_every_format_to_the_thumbnail_and_keeps_the_colour) {
  gst_init(nullptr, nullptr);
  const uint8_t orange[3] = {230, 120, 30};
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_I420,
                                GST_VIDEO_FORMAT_NV12}) {
    SCOPED_TRACE(gst_video_format_to_string(format));
    GstVideoInfo info;
    GstBuffer* buffer = solid_frame(format, 320, 180, orange, &info);
    GstVideoFrame frame;
    ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
    FrameThumbnailer thumbnailer(64);
    const ivs::model::RgbImage image = thumbnailer.scale(frame);
    const std::vector<uint8_t> jpeg = thumbnailer.jpeg(frame);
    gst_video_frame_unmap(&frame);
    gst_buffer_unref(buffer);
    ASSERT_EQ(image.width, 64);
    ASSERT_EQ(image.height, 36);
    // YUV formats round-trip the colour through 8-bit Y'CbCr: a few levels off.
    const uint8_t* centre = &image.pixels[(18 * 64 + 32) * 3];
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(centre[c], orange[c], 4) << "channel " << c;
    const ivs::model::RgbImage decoded =
        ivs::model::decode_image_bytes(jpeg.data(), jpeg.size(), "thumbnail");
    EXPECT_EQ(decoded.width, 64);
    EXPECT_EQ(decoded.height, 36);
  }
}

// Not an assertion (timings vary with the machine and its load): the cost of one thumbnail of a
// 1080p NV12 frame on the streaming thread, printed and recorded in the test's XML output.
TEST(FrameThumbnailTest, reports_the_cost_of_a_1080p_thumbnail) {
  gst_init(nullptr, nullptr);
  const uint8_t grey[3] = {128, 128, 128};
  GstVideoInfo info;
  GstBuffer* buffer = solid_frame(GST_VIDEO_FORMAT_NV12, 1920, 1080, grey, &info);
  GstVideoFrame frame;
  ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
  FrameThumbnailer thumbnailer(160);
  size_t bytes = thumbnailer.jpeg(frame).size();  // builds the converter
  constexpr int kRuns = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) bytes = thumbnailer.jpeg(frame).size();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      kRuns;
  gst_video_frame_unmap(&frame);
  gst_buffer_unref(buffer);
  EXPECT_GT(bytes, 0u);
  std::printf("1080p NV12 -> 160x90 JPEG: %.2f ms per frame, %zu bytes\n", ms, bytes);
  ::testing::Test::RecordProperty("thumbnail_1080p_ms", std::to_string(ms));
}

}  // namespace
