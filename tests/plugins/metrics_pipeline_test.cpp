// SPDX-License-Identifier: Apache-2.0
// The metrics (sinks/README.md) through a real two-branch pipeline: every InternVL element records
// into one registry shared through the "internvl.metrics" GstContext, the first
// metrics-address serves it, and a real HTTP GET of /metrics sees both streams, the engine's
// batches (the two streams share one engine) and the published messages.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "plugins/internvl/gstinternvlclassify.h"
#include "plugins/internvl/gstinternvlpublish.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/http_client.h"

namespace {

namespace fs = std::filesystem;

void register_elements() {
  static const bool registered = [] {
    gst_init(nullptr, nullptr);
    return GST_ELEMENT_REGISTER(internvlclassify, nullptr) == TRUE &&
           GST_ELEMENT_REGISTER(internvlpublish, nullptr) == TRUE;
  }();
  ASSERT_TRUE(registered);
}

// The value of the sample whose name and labels are exactly `series` (e.g.
// `internvl_frames_total{stream="c1"}`) in a Prometheus text exposition; -1 when absent.
double sample(const std::string& body, const std::string& series) {
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1.0;
}

std::string scrape(guint port) {
  const auto response = ivs::test::http_get("127.0.0.1", static_cast<uint16_t>(port), "/metrics");
  EXPECT_EQ(response.status, 200);
  return response.body;
}

size_t count_lines(const fs::path& path) {
  std::ifstream in(path);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) lines += line.empty() ? 0 : 1;
  return lines;
}

guint uint_property(GstElement* pipeline, const char* element, const char* property) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(pipeline), element);
  guint value = 0;
  if (e != nullptr) {
    g_object_get(e, property, &value, nullptr);
    gst_object_unref(e);
  }
  return value;
}

std::string branch(const std::string& model, const std::string& n, const fs::path& out,
                   bool serve) {
  return "videotestsrc num-buffers=30 ! capsfilter "
         "caps=video/x-raw,format=BGRx,width=160,height=120,framerate=30/1"
         " ! internvlclassify name=c" +
         n + " model=\"" + model + "\" device=cpu labels=\"a;b;c\"" +
         (serve ? " metrics-address=127.0.0.1:0" : "") +
         " batch-size=8 batch-timeout=50000000 max-latency=60000000000"
         " ! internvlpublish name=p" +
         n + " file-path=\"" + out.string() + "\" ! fakesink";
}

TEST(MetricsPipelineTest, two_branches_share_one_registry_served_once) {
  register_elements();
  const fs::path model = ivs::test::internvl_tiny_dir();
  INTERNVL_REQUIRE_PATH(model / "config.json");
  const fs::path dir = ivs::test::scratch_dir("metrics_pipeline");
  const fs::path a = dir / "a.jsonl";
  const fs::path b = dir / "b.jsonl";
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(
      (branch(model.string(), "1", a, true) + " " + branch(model.string(), "2", b, false)).c_str(),
      &error);
  ASSERT_NE(pipeline, nullptr) << (error != nullptr ? error->message : "");
  ASSERT_EQ(error, nullptr) << error->message;

  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(gst_element_get_state(pipeline, nullptr, nullptr, 120 * GST_SECOND),
            GST_STATE_CHANGE_SUCCESS);

  // One hub: c1 serves it, and every other element found it (so reports the same port).
  const guint port = uint_property(pipeline, "c1", "metrics-port");
  ASSERT_GT(port, 0u);
  EXPECT_EQ(uint_property(pipeline, "c2", "metrics-port"), port);
  EXPECT_EQ(uint_property(pipeline, "p1", "metrics-port"), port);
  EXPECT_EQ(uint_property(pipeline, "p2", "metrics-port"), port);

  const std::string before = scrape(port);
  EXPECT_NE(before.find("internvl_build_info{"), std::string::npos) << before;
  const double sampled_before = std::max(
      0.0, sample(before, "internvl_frames_sampled_total{stream=\"c1\",task=\"classification\"}"));

  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(
      bus, 300 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(message, nullptr) << "no EOS within 300 s";
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(message, &err, &debug);
    ADD_FAILURE() << err->message << " (" << (debug != nullptr ? debug : "") << ")";
    g_clear_error(&err);
    g_free(debug);
  }
  gst_message_unref(message);
  gst_object_unref(bus);

  const std::string after = scrape(port);
  EXPECT_EQ(sample(after, "internvl_frames_total{stream=\"c1\"}"), 30.0) << after;
  EXPECT_EQ(sample(after, "internvl_frames_total{stream=\"c2\"}"), 30.0) << after;
  // interval=0 samples every frame (prerolling may already have sampled them all).
  EXPECT_GE(sample(after, "internvl_frames_sampled_total{stream=\"c1\",task=\"classification\"}"),
            sampled_before);
  EXPECT_EQ(sample(after, "internvl_frames_sampled_total{stream=\"c1\",task=\"classification\"}"),
            30.0);
  EXPECT_EQ(sample(after, "internvl_frames_sampled_total{stream=\"c2\",task=\"classification\"}"),
            30.0);
  const double batches = sample(after, "internvl_batch_size_count{task=\"embedding\"}");
  const double batched_frames = sample(after, "internvl_batch_size_sum{task=\"embedding\"}");
  EXPECT_GT(batches, 0.0) << after;
  EXPECT_GT(batched_frames, batches) << "no batch of more than one frame\n" << after;
  EXPECT_GT(sample(after,
                   "internvl_inference_duration_seconds_count{stage=\"model\",task=\"embedding\"}"),
            0.0)
      << after;
  EXPECT_GT(
      sample(after, "internvl_result_latency_seconds_count{stream=\"c1\",task=\"classification\"}"),
      0.0)
      << after;
  EXPECT_NE(after.find("internvl_build_info{"), std::string::npos);

  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  // Both publishers count into the one {sink="jsonl"} series.
  const size_t lines = count_lines(a) + count_lines(b);
  EXPECT_GT(count_lines(a), 0u);
  EXPECT_EQ(sample(after, "internvl_messages_published_total{sink=\"jsonl\"}"),
            static_cast<double>(lines))
      << after;
  gst_object_unref(pipeline);
}

}  // namespace
