// SPDX-License-Identifier: Apache-2.0
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/plugins/gst_test_environment.h"

namespace {

constexpr int kWidth = 320;
constexpr int kHeight = 240;
constexpr guint8 kGrey = 0x80;

std::string caps_for(const char* format) {
  return std::string("video/x-raw,format=") + format + ",width=" + std::to_string(kWidth) +
         ",height=" + std::to_string(kHeight) + ",framerate=30/1";
}

GstHarness* make_overlay(const char* format, const char* position = "top-left") {
  GstHarness* h = gst_harness_new("internvloverlay");
  gst_util_set_object_arg(G_OBJECT(h->element), "position", position);
  gst_harness_set_src_caps_str(h, caps_for(format).c_str());
  return h;
}

// A uniform grey frame in `format` (every byte kGrey: mid grey in RGB and YUV alike).
GstBuffer* grey_frame(const char* format, GstClockTime pts) {
  GstVideoInfo info;
  GstCaps* caps = gst_caps_from_string(caps_for(format).c_str());
  EXPECT_TRUE(gst_video_info_from_caps(&info, caps));
  gst_caps_unref(caps);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  gst_buffer_memset(buffer, 0, kGrey, GST_VIDEO_INFO_SIZE(&info));
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = GST_SECOND / 30;
  return buffer;
}

void add_results(GstBuffer* buffer) {
  ivs::test::add_entries(buffer,
                         {ivs::test::caption_entry("a red panda sitting on a wooden platform"),
                          ivs::test::classification_entry(
                              {{"playing guitar", 0.91}, {"singing", 0.05}, {"dancing", 0.02}})});
}

// Counts the bytes of the frame in [x0,x1) x [y0,y1) (BGRx, plane 0) that are not grey.
int changed_bytes(GstBuffer* buffer, int x0, int y0, int x1, int y1) {
  GstMapInfo map;
  EXPECT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_READ));
  int changed = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0 * 4; x < x1 * 4; ++x) changed += map.data[y * kWidth * 4 + x] != kGrey;
  }
  gst_buffer_unmap(buffer, &map);
  return changed;
}

int changed_bytes_anywhere(GstBuffer* buffer) {
  GstMapInfo map;
  EXPECT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_READ));
  int changed = 0;
  for (gsize i = 0; i < map.size; ++i) changed += map.data[i] != kGrey;
  gst_buffer_unmap(buffer, &map);
  return changed;
}

GstBuffer* push_and_pull(GstHarness* h, GstBuffer* buffer) {
  EXPECT_EQ(gst_harness_push(h, buffer), GST_FLOW_OK);
  return gst_harness_pull(h);
}

TEST(InternVLOverlayTest, draws_results_in_the_text_region_only) {
  GstHarness* h = make_overlay("BGRx", "top-left");
  GstBuffer* in = grey_frame("BGRx", 0);
  add_results(in);
  GstBuffer* out = push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  EXPECT_GT(changed_bytes(out, 0, 0, kWidth / 2, kHeight / 3), 1000);  // box + text, top left
  // Nothing outside the box: the margin rows and columns and the bottom of the frame stay grey.
  EXPECT_EQ(changed_bytes(out, 0, 0, kWidth, 8), 0);
  EXPECT_EQ(changed_bytes(out, 0, 0, 8, kHeight), 0);
  EXPECT_EQ(changed_bytes(out, 0, kHeight - 60, kWidth, kHeight), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(InternVLOverlayTest, bottom_right_position_draws_there) {
  GstHarness* h = make_overlay("BGRx", "bottom-right");
  g_object_set(h->element, "show-caption", FALSE, nullptr);  // labels only: a narrow box
  GstBuffer* in = grey_frame("BGRx", 0);
  add_results(in);
  GstBuffer* out = push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  EXPECT_GT(changed_bytes(out, kWidth / 2, kHeight / 2, kWidth, kHeight), 1000);
  EXPECT_EQ(changed_bytes(out, 0, 0, kWidth / 2, kHeight / 2), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

// Counts the pixels in [x0,x1) x [y0,y1) (BGRx) that are clearly red: the alert box's colour.
int red_pixels(GstBuffer* buffer, int x0, int y0, int x1, int y1) {
  GstMapInfo map;
  EXPECT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_READ));
  int red = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const guint8* p = &map.data[(y * kWidth + x) * 4];  // B, G, R, x
      red += p[2] > p[1] + 60 && p[2] > p[0] + 60;
    }
  }
  gst_buffer_unmap(buffer, &map);
  return red;
}

TEST(InternVLOverlayTest, an_active_alert_gets_a_red_box_until_it_ends) {
  GstHarness* h = make_overlay("BGRx", "bottom-left");
  GstBuffer* in = grey_frame("BGRx", 0);
  add_results(in);
  ivs::test::add_entries(in, {ivs::test::event_entry(ivs::pipeline::AlertState::kStart)});
  GstBuffer* out = push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  // Labels at the bottom left, the alert at the top left in red; no red among the labels.
  EXPECT_GT(red_pixels(out, 0, 0, kWidth / 2, kHeight / 3), 500);
  EXPECT_EQ(red_pixels(out, 0, kHeight / 2, kWidth, kHeight), 0);
  gst_buffer_unref(out);

  out = push_and_pull(h, grey_frame("BGRx", GST_SECOND / 30));  // still active: remembered
  EXPECT_GT(red_pixels(out, 0, 0, kWidth / 2, kHeight / 3), 500);
  gst_buffer_unref(out);

  in = grey_frame("BGRx", 2 * GST_SECOND / 30);
  ivs::test::add_entries(in, {ivs::test::event_entry(ivs::pipeline::AlertState::kEnd)});
  out = push_and_pull(h, in);
  EXPECT_EQ(red_pixels(out, 0, 0, kWidth, kHeight), 0) << "the event ended: no alert box";
  EXPECT_GT(changed_bytes(out, 0, kHeight / 2, kWidth, kHeight), 1000) << "the labels stay";
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(InternVLOverlayTest, frame_without_results_is_unchanged) {
  GstHarness* h = make_overlay("BGRx");
  GstBuffer* out = push_and_pull(h, grey_frame("BGRx", 0));
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(changed_bytes_anywhere(out), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(InternVLOverlayTest, nothing_shown_draws_nothing) {
  GstHarness* h = make_overlay("BGRx");
  g_object_set(h->element, "show-caption", FALSE, "show-labels", FALSE, nullptr);
  GstBuffer* in = grey_frame("BGRx", 0);
  add_results(in);
  GstBuffer* out = push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(changed_bytes_anywhere(out), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(InternVLOverlayTest, remembered_results_are_drawn_until_max_age) {
  GstHarness* h = make_overlay("BGRx");
  g_object_set(h->element, "max-age", static_cast<guint64>(GST_SECOND), nullptr);
  GstBuffer* first = grey_frame("BGRx", 0);
  add_results(first);
  gst_buffer_unref(push_and_pull(h, first));

  GstBuffer* fresh = push_and_pull(h, grey_frame("BGRx", GST_SECOND / 2));  // no meta, 0.5 s later
  ASSERT_NE(fresh, nullptr);
  EXPECT_GT(changed_bytes_anywhere(fresh), 0);
  gst_buffer_unref(fresh);

  GstBuffer* stale = push_and_pull(h, grey_frame("BGRx", 2 * GST_SECOND));  // 2 s > max-age
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(changed_bytes_anywhere(stale), 0);
  gst_buffer_unref(stale);
  gst_harness_teardown(h);
}

class InternVLOverlayFormatTest : public ::testing::TestWithParam<const char*> {};

TEST_P(InternVLOverlayFormatTest, negotiates_and_draws) {
  const char* format = GetParam();
  GstHarness* h = make_overlay(format);
  GstBuffer* in = grey_frame(format, 0);
  const gsize size = gst_buffer_get_size(in);
  add_results(in);
  GstBuffer* out = push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(gst_buffer_get_size(out), size);
  EXPECT_GT(changed_bytes_anywhere(out), 100) << format;
  GstCaps* negotiated = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_NE(negotiated, nullptr);
  GstCaps* expected = gst_caps_from_string(caps_for(format).c_str());
  EXPECT_TRUE(gst_caps_is_equal(negotiated, expected)) << format;
  gst_caps_unref(expected);
  gst_caps_unref(negotiated);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

INSTANTIATE_TEST_SUITE_P(Formats, InternVLOverlayFormatTest,
                         ::testing::Values("BGRx", "BGRA", "RGBx", "RGBA", "xRGB", "ARGB", "RGB",
                                           "BGR", "AYUV", "I420", "YV12", "NV12", "NV21", "Y42B",
                                           "Y444", "YUY2", "UYVY", "GRAY8"));

TEST(InternVLOverlayTest, properties_round_trip) {
  GstHarness* h = gst_harness_new("internvloverlay");
  GstElement* e = h->element;
  gboolean show_caption = FALSE;
  gboolean show_labels = FALSE;
  guint top_k = 0;
  gchar* font = nullptr;
  guint64 max_age = 0;
  g_object_get(e, "show-caption", &show_caption, "show-labels", &show_labels, "top-k", &top_k,
               "font-desc", &font, "max-age", &max_age, nullptr);
  EXPECT_TRUE(show_caption);
  EXPECT_TRUE(show_labels);
  EXPECT_EQ(top_k, 3u);
  EXPECT_STREQ(font, "Sans 14");
  EXPECT_EQ(max_age, 10 * GST_SECOND);
  g_free(font);

  g_object_set(e, "show-caption", FALSE, "show-labels", FALSE, "top-k", 7u, "font-desc",
               "Serif Bold 20", "max-age", static_cast<guint64>(3 * GST_SECOND), nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "position", "bottom-right");
  g_object_get(e, "show-caption", &show_caption, "show-labels", &show_labels, "top-k", &top_k,
               "font-desc", &font, "max-age", &max_age, nullptr);
  EXPECT_FALSE(show_caption);
  EXPECT_FALSE(show_labels);
  EXPECT_EQ(top_k, 7u);
  EXPECT_STREQ(font, "Serif Bold 20");
  EXPECT_EQ(max_age, 3 * GST_SECOND);
  g_free(font);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "position");
  ASSERT_NE(spec, nullptr);
  GValue value = G_VALUE_INIT;
  g_value_init(&value, spec->value_type);
  g_object_get_property(G_OBJECT(e), "position", &value);
  GEnumValue* nick =
      g_enum_get_value(G_ENUM_CLASS(g_type_class_peek(spec->value_type)), g_value_get_enum(&value));
  ASSERT_NE(nick, nullptr);
  EXPECT_STREQ(nick->value_nick, "bottom-right");
  g_value_unset(&value);
  gst_harness_teardown(h);
}

}  // namespace
