// SPDX-License-Identifier: Apache-2.0
#include "tests/plugins/gst_test_environment.h"

#include <gtest/gtest.h>

#include "plugins/internvl/gstinternvloverlay.h"
#include "plugins/internvl/gstinternvlpublish.h"
#include "plugins/internvl/gstinternvlrecord.h"
#include "pipeline/result_meta.h"

namespace ivs::test {
namespace {

class GstEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    ASSERT_TRUE(GST_ELEMENT_REGISTER(internvloverlay, nullptr));
    ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlpublish, nullptr));
    ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlrecord, nullptr));
  }
};

// gtest owns the environment; registering it here keeps every test file free of set-up code.
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new GstEnvironment);

}  // namespace

pipeline::ResultEntry classification_entry(
    const std::vector<std::pair<std::string, double>>& labels) {
  pipeline::ResultEntry entry;
  entry.type = pipeline::ResultType::kClassification;
  entry.element = "internvlclassify0";
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "InternVL-C";
  int64_t id = 0;
  for (const auto& [label, confidence] : labels) {
    entry.classification.push_back({label, id++, confidence});
  }
  entry.segment.first_pts = 0;
  entry.segment.last_pts = 33 * GST_MSECOND;
  entry.segment.first_frame = 0;
  entry.segment.last_frame = 1;
  entry.timing.latency_seconds = 0.04;
  entry.timing.queue_seconds = 0.003;
  entry.timing.batch_size = 4;
  return entry;
}

pipeline::ResultEntry caption_entry(const std::string& text) {
  pipeline::ResultEntry entry;
  entry.type = pipeline::ResultType::kCaption;
  entry.element = "internvlcaption0";
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "caption";
  entry.caption = pipeline::CaptionRecord{text, "English caption:", 9, 5};
  entry.segment.first_pts = 0;
  entry.segment.last_pts = 0;
  entry.timing.latency_seconds = 0.5;
  entry.timing.batch_size = 1;
  return entry;
}

pipeline::ResultEntry event_entry(pipeline::AlertState state) {
  pipeline::ResultEntry entry;
  entry.type = pipeline::ResultType::kEvent;
  entry.element = "internvlalert0";
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "InternVL-C";
  pipeline::EventRecord& event = entry.event.emplace();
  event.id = "cam01-person-1";
  event.stream_id = "cam01";
  event.rule = "person";
  event.prompt = "a person at the door";
  event.state = state;
  event.start_pts = GST_SECOND;
  event.start_frame = 30;
  event.peak_probability = 0.9;
  event.snapshot_path = "/tmp/cam01-person-1.jpg";
  if (state == pipeline::AlertState::kStart) {
    event.pts = GST_SECOND + 500 * GST_MSECOND;
    event.frame = 45;
    event.probability = 0.8;
  } else {
    event.end_pts = 3 * GST_SECOND;
    event.pts = 3 * GST_SECOND;
    event.frame = 90;
    event.probability = 0.1;
    event.clip_path = "/tmp/cam01-person-1.mp4";
  }
  entry.segment = {event.pts, event.pts, event.frame, event.frame};
  entry.timing.latency_seconds = 0.05;
  entry.timing.batch_size = 1;
  return entry;
}

void add_entries(GstBuffer* buffer, const std::vector<pipeline::ResultEntry>& entries) {
  GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(buffer);
  ASSERT_NE(meta, nullptr);
  for (const auto& entry : entries) meta->records->entries.push_back(entry);
}

std::string error_text(GstMessage* error) {
  GError* err = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(error, &err, &debug);
  std::string text = std::string(err->message) + " | " + (debug != nullptr ? debug : "");
  g_error_free(err);
  g_free(debug);
  return text;
}

std::string run_to_eos(const std::string& description, int timeout_seconds) {
  GError* parse_error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &parse_error);
  if (parse_error != nullptr) {
    const std::string text = parse_error->message;
    g_error_free(parse_error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    return "parse: " + text;
  }
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstMessage* msg =
      gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(timeout_seconds) * GST_SECOND,
                                 GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  std::string error = msg == nullptr ? "timeout" : "";
  if (msg != nullptr && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) error = error_text(msg);
  if (msg != nullptr) gst_message_unref(msg);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return error;
}

}  // namespace ivs::test
