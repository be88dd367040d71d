// SPDX-License-Identifier: Apache-2.0
// internvlalert in real pipelines with the tiny checkpoint (rule mechanics; whether the right
// scene fires is tests/integration/run_alerts_e2e.py's job, with the trained demo model).
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "plugins/internvl/gstinternvlalert.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "tests/common/test_paths.h"
#include "tests/plugins/gst_test_environment.h"

namespace {

void register_elements() {
  gst_init(nullptr, nullptr);
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlclassify, nullptr));
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlalert, nullptr));
}

std::string tiny() { return ivs::test::internvl_tiny_dir().string(); }

struct Alert {
  std::string rule;
  std::string state;
  std::string id;
};

// Runs `description` to EOS; returns the error text ("" at EOS) and fills `alerts` from the
// internvl-alert element messages. `while_playing` runs once the pipeline plays.
std::string run(const std::string& description, std::vector<Alert>* alerts = nullptr,
                const std::function<void(GstElement*)>& while_playing = {}) {
  GError* parse_error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &parse_error);
  if (parse_error != nullptr) {
    std::string text = parse_error->message;
    g_error_free(parse_error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    return "parse: " + text;
  }
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::string error;
  bool called = false;
  while (true) {
    GstMessage* msg =
        gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                   GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
                                                  GST_MESSAGE_ELEMENT | GST_MESSAGE_STATE_CHANGED));
    if (msg == nullptr) {
      error = "timeout";
      break;
    }
    const GstMessageType type = GST_MESSAGE_TYPE(msg);
    if (type == GST_MESSAGE_STATE_CHANGED && GST_MESSAGE_SRC(msg) == GST_OBJECT(pipeline) &&
        !called && while_playing) {
      GstState state;
      gst_message_parse_state_changed(msg, nullptr, &state, nullptr);
      if (state == GST_STATE_PLAYING) {
        called = true;
        while_playing(pipeline);
      }
    } else if (type == GST_MESSAGE_ELEMENT && alerts != nullptr &&
               gst_message_has_name(msg, "internvl-alert")) {
      const GstStructure* s = gst_message_get_structure(msg);
      alerts->push_back({gst_structure_get_string(s, "rule"), gst_structure_get_string(s, "state"),
                         gst_structure_get_string(s, "id")});
    } else if (type == GST_MESSAGE_ERROR) {
      error = ivs::test::error_text(msg);
    }
    const bool done = type == GST_MESSAGE_EOS || type == GST_MESSAGE_ERROR;
    gst_message_unref(msg);
    if (done) break;
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return error;
}

std::string classify_then_alert(const std::string& alert_props, int frames = 20) {
  return "videotestsrc num-buffers=" + std::to_string(frames) +
         " ! video/x-raw,width=64,height=48,format=RGB,framerate=10/1"
         " ! internvlclassify model=" +
         tiny() +
         " device=cpu labels=a;b interval=1 clip-frames=0 ! internvlalert name=alert model=" +
         tiny() + " device=cpu " + alert_props + " ! fakesink";
}

TEST(InternVLAlertTest, bad_rules_are_bus_errors_naming_the_property) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_elements();
  std::string error = run(classify_then_alert(""));
  EXPECT_NE(error.find("prompt"), std::string::npos) << error;
  error = run(classify_then_alert("prompt=x on-threshold=0.3 off-threshold=0.5"));
  EXPECT_NE(error.find("off-threshold"), std::string::npos) << error;
  error = run(classify_then_alert("rules-file=/nonexistent/rules.yaml"));
  EXPECT_NE(error.find("/nonexistent/rules.yaml"), std::string::npos) << error;
  error = run(classify_then_alert("prompt=x snapshot-dir=/proc/no-snapshots-here"));
  EXPECT_NE(error.find("snapshot-dir"), std::string::npos) << error;
}

// Thresholds of 0: every sample is at or above on, so an event starts on the first sample and
// lasts; that makes the mechanics independent of what the tiny model sees.
TEST(InternVLAlertTest, an_event_still_active_ends_at_the_end_of_the_stream) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_elements();
  std::vector<Alert> alerts;
  ASSERT_EQ(run(classify_then_alert("rule-name=always prompt=x negatives=y on-threshold=0 "
                                    "off-threshold=0 min-on=0"),
                &alerts),
            "");
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].state, "start");
  EXPECT_EQ(alerts[1].state, "end");
  EXPECT_EQ(alerts[0].id, alerts[1].id);
  EXPECT_EQ(alerts[0].rule, "always");
}

TEST(InternVLAlertTest, rules_changed_while_playing_take_effect_on_the_next_sample) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_elements();
  std::vector<Alert> alerts;
  const std::string error =
      run("videotestsrc num-buffers=400 is-live=true"
          " ! video/x-raw,width=64,height=48,format=RGB,framerate=50/1"
          " ! internvlclassify model=" +
              tiny() +
              " device=cpu labels=a;b interval=1 clip-frames=0 ! internvlalert name=alert model=" +
              tiny() +
              " device=cpu rule-name=first prompt=x negatives=y on-threshold=0 off-threshold=0 "
              "min-on=0 ! fakesink",
          &alerts, [](GstElement* pipeline) {
            GstElement* alert = gst_bin_get_by_name(GST_BIN(pipeline), "alert");
            // A bad set is refused (a warning) and the first rule stays...
            g_object_set(alert, "off-threshold", 0.9, nullptr);
            g_object_set(alert, "off-threshold", 0.0, "rule-name", "second", nullptr);
            gst_object_unref(alert);
          });
  ASSERT_EQ(error, "");
  std::vector<std::string> seen;
  for (const auto& a : alerts) seen.push_back(a.rule + ":" + a.state);
  // ...until the good set replaces it: the first rule's event ends, the second's starts.
  const std::vector<std::string> expected{"first:start", "first:end", "second:start", "second:end"};
  EXPECT_EQ(seen, expected);
}

}  // namespace
