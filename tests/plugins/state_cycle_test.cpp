// SPDX-License-Identifier: Apache-2.0
// Element state changes PLAYING -> NULL -> PLAYING on real pipelines, repeatedly. Run plainly in
// the suite, and with LeakSanitizer by the `leak`-labelled CTest (tests/plugins/leak_check.sh), which
// fails on leaks at exit; the classify pipeline's growth over many cycles is bounded by RSS here.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "plugins/internvl/gstinternvlalert.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "plugins/internvl/gstinternvlindex.h"
#include "tests/common/test_paths.h"

namespace {

void register_classify() {
  static const bool registered = GST_ELEMENT_REGISTER(internvlclassify, nullptr) == TRUE &&
                                 GST_ELEMENT_REGISTER(internvlalert, nullptr) == TRUE &&
                                 GST_ELEMENT_REGISTER(internvlindex, nullptr) == TRUE;
  ASSERT_TRUE(registered);
}

// A file in this process's scratch folder, which is removed when the process exits.
std::string scratch_file(const char* name) {
  struct Scratch {
    std::string dir;
    Scratch() {
      gchar* made = g_dir_make_tmp("ivs-state-cycle-XXXXXX", nullptr);
      dir = made != nullptr ? made : "";
      g_free(made);
    }
    ~Scratch() {
      std::error_code error;
      if (!dir.empty()) std::filesystem::remove_all(dir, error);
    }
  };
  static const Scratch scratch;
  EXPECT_FALSE(scratch.dir.empty()) << "no scratch folder in the temporary directory";
  return scratch.dir + "/" + name;
}

// Cycles: NULL -> PLAYING, to EOS, -> NULL. Returns the error ("" when none).
std::string run_to_eos(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  std::string error;
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    error = "set_state failed";
  GstMessage* msg = error.empty() ? gst_bus_timed_pop_filtered(
                                        bus, 300 * GST_SECOND,
                                        GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR))
                                  : nullptr;
  if (error.empty() && msg == nullptr) error = "timeout";
  if (msg != nullptr && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    error = err->message;
    g_error_free(err);
  }
  if (msg != nullptr) gst_message_unref(msg);
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_flushing(bus, TRUE);  // drop what the run left on the bus
  gst_bus_set_flushing(bus, FALSE);
  gst_object_unref(bus);
  return error;
}

GstElement* parse(const std::string& description) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  EXPECT_EQ(error, nullptr) << (error != nullptr ? error->message : "");
  if (error != nullptr) g_error_free(error);
  return pipeline;
}

void cycle(const std::string& description, int cycles) {
  GstElement* pipeline = parse(description);
  ASSERT_NE(pipeline, nullptr);
  for (int i = 0; i < cycles; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(run_to_eos(pipeline), "");
  }
  gst_object_unref(pipeline);
}

std::string classify_pipeline(int buffers, const char* size = "width=64,height=48") {
  return "videotestsrc num-buffers=" + std::to_string(buffers) + " ! video/x-raw,format=BGRx," +
         size +
         ",framerate=30/1"
         " ! internvlclassify device=cpu labels=a;b;c batch-size=1 max-latency=60000000000 model=" +
         ivs::test::internvl_tiny_dir().string() +
         " ! internvloverlay ! internvlpublish file-path=" + scratch_file("classify.jsonl") +
         " ! fakesink";
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

TEST(StateCycleTest, overlay_alone_cycles_playing_null_playing) {
  cycle(
      "videotestsrc num-buffers=5 ! video/x-raw,format=BGRx,width=64,height=48 ! internvloverlay ! "
      "fakesink",
      3);
}

TEST(StateCycleTest, publish_alone_cycles_playing_null_playing) {
  cycle("videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! internvlpublish file-path=" +
            scratch_file("publish.jsonl") + " ! fakesink",
        3);
}

TEST(StateCycleTest, classify_overlay_publish_cycles_playing_null_playing) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json");
  register_classify();
  cycle(classify_pipeline(3), 3);
}

// The search index opens (SQLite, FAISS, the writer thread) when the element starts and closes
// when the last element of the process that uses it stops: every cycle does both.
TEST(StateCycleTest, classify_index_cycles_playing_null_playing) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json");
  register_classify();
  cycle(
      "videotestsrc num-buffers=3 ! video/x-raw,format=BGRx,width=64,height=48,framerate=30/1"
      " ! internvlclassify device=cpu labels=a;b batch-size=1 model=" +
          ivs::test::internvl_tiny_dir().string() +
          " ! internvlindex location=" + scratch_file("index") + " ! fakesink",
      3);
}

// Alerts and clips: thresholds of 0 start an event on the first sample (it ends at EOS), so
// every cycle opens, writes and completes a clip and a snapshot.
TEST(StateCycleTest, alert_record_cycles_playing_null_playing) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json");
  register_classify();
  const std::string model = ivs::test::internvl_tiny_dir().string();
  const std::string dir = scratch_file("alerts");
  cycle(
      "videotestsrc num-buffers=20 ! video/x-raw,format=I420,width=64,height=48,framerate=10/1"
      " ! x264enc speed-preset=ultrafast key-int-max=5 ! h264parse ! tee name=t"
      "  t. ! queue ! internvlrecord stream-id=cam location=" +
          dir +
          "/%s.mp4 pre-roll=1"
          "  t. ! queue ! avdec_h264 ! videoconvert ! internvlclassify device=cpu labels=a;b "
          "model=" +
          model +
          " ! internvlalert stream-id=cam device=cpu prompt=x negatives=y"
          " on-threshold=0 off-threshold=0 min-on=0 snapshot-dir=" +
          dir + " model=" + model + " ! internvloverlay ! internvlpublish file-path=" +
          scratch_file("alerts.jsonl") + " ! fakesink",
      3);
  // One clip per cycle: event ids stay unique across restarts, even within one second.
  size_t clips = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    clips += entry.path().extension() == ".mp4";
  EXPECT_EQ(clips, 3u);
}

// The cheap leak bound for the LibTorch pipeline over many cycles (the leak test runs 3). The
// resident set moves by several MiB from cycle to cycle with no trend (LibTorch / glibc arenas;
// measured: +-4 MiB over 200 cycles alone, a one-off step of ~7 MiB after other tests in the same
// process), so each sample is the smallest VmRSS over 5 cycles (after cycles 16..20 and 56..60)
// and the bound is kBoundKiB. Frames are 320x240 BGRx (300 KiB) so that a buffer leaked per
// frame would add 40 x 10 x 300 KiB = 117 MiB; a leaked pipeline, engine or FIFO per cycle more.
TEST(StateCycleTest, classify_pipeline_rss_stays_flat_over_sixty_cycles) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json");
  register_classify();
  constexpr long kBoundKiB = 32 * 1024;  // 3.6x the worst growth measured (8.8 MiB)
  GstElement* pipeline = parse(classify_pipeline(10, "width=320,height=240"));
  ASSERT_NE(pipeline, nullptr);
  long early = -1;
  long late = -1;
  for (int i = 1; i <= 60; ++i) {
    ASSERT_EQ(run_to_eos(pipeline), "") << i;
    const long rss = rss_kib();
    ASSERT_GT(rss, 0);
    if (i > 15 && i <= 20) early = early < 0 ? rss : std::min(early, rss);
    if (i > 55) late = late < 0 ? rss : std::min(late, rss);
  }
  gst_object_unref(pipeline);
  std::printf(
      "VmRSS (min of 5 cycles) after cycle 20: %ld KiB, after cycle 60: %ld KiB, growth %ld KiB\n",
      early, late, late - early);
  EXPECT_LE(late - early, kBoundKiB);
}

}  // namespace
