// SPDX-License-Identifier: Apache-2.0
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugins/internvl/publish_settings.h"
#include "sinks/result_json.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/plugins/gst_test_environment.h"

namespace {

namespace fs = std::filesystem;
using ivs::test::read_lines;

// Runs the schema validator (an independent implementation) over a JSON-lines file.
void expect_valid_against(const fs::path& path, const std::string& schema) {
  SCOPED_TRACE(schema);
  const std::string validator = INTERNVL_VALIDATOR;
  const std::string file = path.string();
  gchar* argv[] = {const_cast<gchar*>("/usr/bin/python3"), const_cast<gchar*>(validator.c_str()),
                   const_cast<gchar*>("--schema"),         const_cast<gchar*>(schema.c_str()),
                   const_cast<gchar*>(file.c_str()),       nullptr};
  gchar* out = nullptr;
  gchar* err = nullptr;
  gint status = 0;
  GError* error = nullptr;
  ASSERT_TRUE(g_spawn_sync(nullptr, argv, nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, &err,
                           &status, &error))
      << (error != nullptr ? error->message : "");
  const std::string output = std::string(out != nullptr ? out : "") + (err != nullptr ? err : "");
  g_free(out);
  g_free(err);
  if (g_spawn_check_wait_status(status, nullptr) == FALSE && WIFEXITED(status) &&
      WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "python3-jsonschema missing: " << output;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
}

// Classifications and captions are wire format 1.0: both schemas accept them.
void expect_valid_messages(const fs::path& path) {
  expect_valid_against(path, INTERNVL_RESULT_SCHEMA_1_0_PATH);
  expect_valid_against(path, INTERNVL_RESULT_SCHEMA_PATH);
}

// Files with events (format 1.1) need the 1.1 schema.
void expect_valid_messages_1_1(const fs::path& path) {
  expect_valid_against(path, INTERNVL_RESULT_SCHEMA_PATH);
}

GstBuffer* result_buffer(const std::vector<ivs::pipeline::ResultEntry>& entries, GstClockTime pts) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, 16, nullptr);
  GST_BUFFER_PTS(buffer) = pts;
  if (!entries.empty()) ivs::test::add_entries(buffer, entries);
  return buffer;
}

ivs::pipeline::ResultEntry guitar() {
  return ivs::test::classification_entry({{"playing guitar", 0.91}});
}
ivs::pipeline::ResultEntry panda() {
  return ivs::test::caption_entry("a red panda on a wooden platform");
}
ivs::pipeline::ResultEntry event_start() {
  return ivs::test::event_entry(ivs::pipeline::AlertState::kStart);
}
ivs::pipeline::ResultEntry event_end() {
  return ivs::test::event_entry(ivs::pipeline::AlertState::kEnd);
}

// Harness around an element configured before it starts (gst_harness_new would start it at once).
GstHarness* start_publish(GstElement* publish) {
  GstHarness* h = gst_harness_new_with_element(publish, "sink", "src");
  gst_object_unref(publish);
  gst_harness_set_src_caps_str(h, "application/x-internvl-test");
  return h;
}

// A SUB socket on every topic of `endpoint`; receiving gives up after 100 ms.
zmq::socket_t subscribe_all(zmq::context_t& context, const char* endpoint) {
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvtimeo, 100);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(endpoint);
  return sub;
}

guint64 counter(GstElement* e, const char* name) {
  guint64 value = 0;
  g_object_get(e, name, &value, nullptr);
  return value;
}

TEST(InternVLPublishTest, properties_round_trip) {
  GstElement* e = gst_element_factory_make("internvlpublish", "pub");
  ASSERT_NE(e, nullptr);
  gchar* endpoint = nullptr;
  gchar* sensor = nullptr;
  gint hwm = 0;
  g_object_get(e, "endpoint", &endpoint, "sensor-id", &sensor, "send-hwm", &hwm, nullptr);
  EXPECT_EQ(endpoint, nullptr);
  EXPECT_EQ(sensor, nullptr);
  EXPECT_EQ(hwm, 1000);
  g_object_set(e, "endpoint", "connect:tcp://127.0.0.1:5555", "file-path", "/tmp/x.jsonl",
               "sensor-id", "cam01", "topic-prefix", "site1/", "send-hwm", 10, "metrics-address",
               "127.0.0.1:0", nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "include", "caption");
  gst_util_set_object_arg(G_OBJECT(e), "file-format", "json-lines");
  gchar* file = nullptr;
  gchar* prefix = nullptr;
  gchar* metrics = nullptr;
  g_object_get(e, "endpoint", &endpoint, "file-path", &file, "sensor-id", &sensor, "topic-prefix",
               &prefix, "send-hwm", &hwm, "metrics-address", &metrics, nullptr);
  EXPECT_STREQ(endpoint, "connect:tcp://127.0.0.1:5555");
  EXPECT_STREQ(file, "/tmp/x.jsonl");
  EXPECT_STREQ(sensor, "cam01");
  EXPECT_STREQ(prefix, "site1/");
  EXPECT_EQ(hwm, 10);
  EXPECT_STREQ(metrics, "127.0.0.1:0");
  guint include = 0;
  g_object_get(e, "include", &include, nullptr);
  EXPECT_EQ(include, static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_CAPTION));
  EXPECT_EQ(counter(e, "messages-published"), 0u);
  EXPECT_EQ(counter(e, "messages-dropped"), 0u);
  for (gchar* s : {endpoint, file, sensor, prefix, metrics}) g_free(s);
  gst_object_unref(e);
}

// Slow joiner: pushes classification probes (no embedding) through `h` until one reaches `sub`
// (bounded), then drains the probes. False when the subscription never came up.
bool join(GstHarness* h, zmq::socket_t& sub) {
  std::vector<zmq::message_t> frames;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool joined = false;
  while (!joined && std::chrono::steady_clock::now() < deadline) {
    gst_harness_push(h, result_buffer({guitar()}, 0));
    frames.clear();
    joined = zmq::recv_multipart(sub, std::back_inserter(frames)).has_value();
  }
  while (zmq::recv_multipart(sub, std::back_inserter(frames))) frames.clear();
  return joined;
}

TEST(InternVLPublishTest, zeromq_subscriber_receives_valid_messages) {
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "endpoint", "bind:tcp://127.0.0.1:*", "sensor-id", "cam01", nullptr);
  GstHarness* h = start_publish(e);
  gchar* bound = nullptr;
  g_object_get(h->element, "bound-endpoint", &bound, nullptr);
  ASSERT_NE(bound, nullptr);
  EXPECT_TRUE(g_str_has_prefix(bound, "tcp://127.0.0.1:")) << bound;

  zmq::context_t context;
  zmq::socket_t sub = subscribe_all(context, bound);
  g_free(bound);

  ASSERT_TRUE(join(h, sub));

  const fs::path dir = ivs::test::scratch_dir("publish_zmq");
  std::ofstream received(dir / "received.jsonl");
  gst_harness_push(h, result_buffer({guitar(), panda()}, GST_SECOND));
  std::vector<std::string> topics;
  for (int i = 0; i < 2; ++i) {
    std::vector<zmq::message_t> message;
    ASSERT_TRUE(zmq::recv_multipart(sub, std::back_inserter(message)).has_value())
        << "message " << i;
    ASSERT_EQ(message.size(), 2u);
    topics.push_back(message[0].to_string());
    received << message[1].to_string() << '\n';
  }
  received.close();
  EXPECT_EQ(topics, (std::vector<std::string>{"classification/cam01", "caption/cam01"}));
  EXPECT_EQ(counter(h->element, "messages-dropped"), 0u);
  expect_valid_messages(dir / "received.jsonl");
  gst_harness_teardown(h);
}

// A sampled frame's classification with its image embedding (dim 4), at `pts`.
ivs::pipeline::ResultEntry sampled(GstClockTime pts) {
  ivs::pipeline::ResultEntry entry = guitar();
  entry.segment.first_pts = entry.segment.last_pts = pts;
  entry.embedding =
      std::make_shared<const std::vector<float>>(std::vector<float>{0.5f, -0.5f, 0.5f, -0.5f});
  return entry;
}

TEST(InternVLPublishTest, include_is_a_list_of_kinds) {
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  const auto include = [e] {
    guint value = 0;
    g_object_get(e, "include", &value, nullptr);
    return value;
  };
  EXPECT_EQ(include(), static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_ALL));  // no embeddings
  gst_util_set_object_arg(G_OBJECT(e), "include", "classification,embedding");
  EXPECT_EQ(include(), static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION |
                                          GST_INTERNVL_PUBLISH_INCLUDE_EMBEDDING));
  gst_util_set_object_arg(G_OBJECT(e), "include", "all+embedding");  // GStreamer's own spelling
  EXPECT_EQ(include(), static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_ALL |
                                          GST_INTERNVL_PUBLISH_INCLUDE_EMBEDDING));
  gst_util_set_object_arg(G_OBJECT(e), "include", "event, caption");
  EXPECT_EQ(include(), static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_EVENT |
                                          GST_INTERNVL_PUBLISH_INCLUDE_CAPTION));
  gst_util_set_object_arg(G_OBJECT(e), "include", "caption,vectors");  // refused: unchanged
  EXPECT_EQ(include(), static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_EVENT |
                                          GST_INTERNVL_PUBLISH_INCLUDE_CAPTION));
  GValue value = G_VALUE_INIT;
  g_value_init(&value, G_PARAM_SPEC_VALUE_TYPE(
                           g_object_class_find_property(G_OBJECT_GET_CLASS(e), "include")));
  g_object_get_property(G_OBJECT(e), "include", &value);
  gchar* text = gst_value_serialize(&value);
  EXPECT_STREQ(text, "caption,event");
  g_free(text);
  g_value_unset(&value);
  gst_object_unref(e);
}

// The topics a SUB socket receives for one sampled frame, published with `include` (nullptr:
// the default), up to a marker classification; the embedding payloads go to `embeddings`.
std::vector<std::string> topics_for_a_sampled_frame(const char* include,
                                                    std::vector<std::string>* embeddings) {
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "endpoint", "bind:tcp://127.0.0.1:*", "sensor-id", "cam01", nullptr);
  if (include != nullptr) gst_util_set_object_arg(G_OBJECT(e), "include", include);
  GstHarness* h = start_publish(e);
  gchar* bound = nullptr;
  g_object_get(h->element, "bound-endpoint", &bound, nullptr);
  zmq::context_t context;
  zmq::socket_t sub = subscribe_all(context, bound);
  g_free(bound);
  const bool joined = join(h, sub);
  EXPECT_TRUE(joined);

  constexpr GstClockTime kMarker = 7 * GST_SECOND;
  gst_harness_push(h, result_buffer({sampled(GST_SECOND)}, GST_SECOND));
  ivs::pipeline::ResultEntry marker = guitar();
  marker.segment.first_pts = marker.segment.last_pts = kMarker;
  gst_harness_push(h, result_buffer({marker}, kMarker));
  std::vector<std::string> topics;
  while (joined) {
    std::vector<zmq::message_t> message;
    if (!zmq::recv_multipart(sub, std::back_inserter(message)).has_value()) {
      ADD_FAILURE() << "the marker never arrived";
      break;
    }
    topics.push_back(message[0].to_string());
    const ivs::sinks::FrameResult result = ivs::sinks::result_from_json(message[1].to_string());
    if (result.kind == ivs::sinks::ResultKind::kEmbedding)
      embeddings->push_back(message[1].to_string());
    if (result.kind == ivs::sinks::ResultKind::kClassification &&
        result.segment_start_seconds == 7.0)
      break;
  }
  gst_harness_teardown(h);
  return topics;
}

TEST(InternVLPublishTest, zeromq_subscriber_gets_embeddings_only_when_include_asks) {
  using Topics = std::vector<std::string>;
  std::vector<std::string> embeddings;
  EXPECT_EQ(topics_for_a_sampled_frame(nullptr, &embeddings),
            (Topics{"classification/cam01", "classification/cam01"}));
  EXPECT_EQ(topics_for_a_sampled_frame("classification,event", &embeddings),
            (Topics{"classification/cam01", "classification/cam01"}));
  EXPECT_TRUE(embeddings.empty());
  EXPECT_EQ(topics_for_a_sampled_frame("classification,embedding", &embeddings),
            (Topics{"embedding/cam01", "classification/cam01", "classification/cam01"}));
  ASSERT_EQ(embeddings.size(), 1u);
  const ivs::sinks::FrameResult message = ivs::sinks::result_from_json(embeddings[0]);
  EXPECT_EQ(message.embedding, (std::vector<float>{0.5f, -0.5f, 0.5f, -0.5f}));
  EXPECT_EQ(message.model_mode, "InternVL-C");
  EXPECT_EQ(message.segment_start_seconds, 1.0);
  const fs::path path = ivs::test::scratch_dir("publish_embedding") / "received.jsonl";
  std::ofstream(path) << embeddings[0] << '\n';
  expect_valid_messages_1_1(path);
}

TEST(InternVLPublishTest, json_lines_file_has_one_line_per_entry) {
  const fs::path path = ivs::test::scratch_dir("publish_jsonl") / "results.jsonl";
  GstElement* e = gst_element_factory_make("internvlpublish", "cam07");
  g_object_set(e, "file-path", path.c_str(), nullptr);
  GstHarness* h = start_publish(e);
  gst_harness_push(h, result_buffer({guitar(), panda()}, 0));
  gst_harness_push(h, result_buffer({guitar()}, GST_SECOND));
  gst_harness_push(h, result_buffer({}, 2 * GST_SECOND));
  // A classification with no label left (threshold) cannot be a message: skipped, not dropped.
  gst_harness_push(h, result_buffer({ivs::test::classification_entry({})}, 3 * GST_SECOND));
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  gst_harness_push_event(h, gst_event_new_eos());  // waits until the queue is written
  EXPECT_EQ(counter(h->element, "messages-published"), 3u);
  EXPECT_EQ(counter(h->element, "messages-skipped"), 1u);
  EXPECT_EQ(counter(h->element, "messages-dropped"), 0u);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"sensor_id\":\"cam07\""), std::string::npos)
      << lines[0];  // default: element name
  expect_valid_messages(path);
  gst_harness_teardown(h);
}

TEST(InternVLPublishTest, include_caption_publishes_captions_only) {
  const fs::path path = ivs::test::scratch_dir("publish_include") / "captions.jsonl";
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "sensor-id", "cam01", nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "include", "caption");
  GstHarness* h = start_publish(e);
  gst_harness_push(h, result_buffer({guitar(), panda()}, 0));
  gst_harness_push(h, result_buffer({guitar()}, GST_SECOND));
  gst_harness_push_event(h, gst_event_new_eos());
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"kind\":\"caption\""), std::string::npos) << lines[0];
  gst_harness_teardown(h);
}

// Publishes one buffer of every kind with `include` set to `nick` and returns the file's lines.
std::vector<std::string> published_with_include(const char* nick) {
  const fs::path path =
      ivs::test::scratch_dir(std::string("publish_include_") + nick) / "results.jsonl";
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "sensor-id", "cam01", nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "include", nick);
  GstHarness* h = start_publish(e);
  gst_harness_push(h, result_buffer({guitar(), panda(), event_start()}, 0));
  gst_harness_push(h, result_buffer({event_end()}, GST_SECOND));
  gst_harness_push_event(h, gst_event_new_eos());
  gst_harness_teardown(h);
  return read_lines(path);
}

std::vector<std::string> kinds_of(const std::vector<std::string>& lines) {
  std::vector<std::string> kinds;
  for (const std::string& line : lines) {
    kinds.push_back(ivs::sinks::result_kind_name(ivs::sinks::result_from_json(line).kind));
  }
  return kinds;
}

TEST(InternVLPublishTest, include_selects_events_by_kind) {
  using Kinds = std::vector<std::string>;
  EXPECT_EQ(kinds_of(published_with_include("event")), (Kinds{"event", "event"}));
  EXPECT_EQ(kinds_of(published_with_include("classification")), (Kinds{"classification"}));
  EXPECT_EQ(kinds_of(published_with_include("caption")), (Kinds{"caption"}));
  EXPECT_EQ(kinds_of(published_with_include("all")),
            (Kinds{"classification", "caption", "event", "event"}));
}

TEST(InternVLPublishTest, event_entries_become_version_1_1_event_messages) {
  const fs::path path = ivs::test::scratch_dir("publish_events") / "events.jsonl";
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "sensor-id", "cam01", nullptr);
  GstHarness* h = start_publish(e);
  ivs::pipeline::ResultEntry no_record = event_start();
  no_record.event.reset();
  gst_harness_push(h, result_buffer({event_start(), no_record}, 0));
  gst_harness_push(h, result_buffer({event_end()}, GST_SECOND));
  gst_harness_push_event(h, gst_event_new_eos());
  EXPECT_EQ(counter(h->element, "messages-published"), 2u);
  EXPECT_EQ(counter(h->element, "messages-skipped"), 1u);  // an event without its record
  gst_harness_teardown(h);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  const ivs::sinks::FrameResult start = ivs::sinks::result_from_json(lines[0]);
  const ivs::sinks::FrameResult end = ivs::sinks::result_from_json(lines[1]);
  EXPECT_NE(lines[0].find("\"version\":\"1.1\""), std::string::npos) << lines[0];
  ASSERT_TRUE(start.event && end.event);
  EXPECT_EQ(start.event->state, ivs::sinks::EventState::kStart);
  EXPECT_EQ(end.event->state, ivs::sinks::EventState::kEnd);
  EXPECT_EQ(end.event->clip_path, "/tmp/cam01-person-1.mp4");
  EXPECT_DOUBLE_EQ(end.segment_start_seconds, 1.0);
  EXPECT_DOUBLE_EQ(end.segment_end_seconds, 3.0);
  expect_valid_messages_1_1(path);
}

TEST(InternVLPublishTest, buffers_pass_through_untouched) {
  GstHarness* h = start_publish(gst_element_factory_make("internvlpublish", nullptr));
  GstBuffer* in = result_buffer({guitar()}, 0);
  gst_buffer_ref(in);
  GstBuffer* out = (gst_harness_push(h, in), gst_harness_pull(h));
  EXPECT_EQ(out, in);  // the same buffer: never copied or written
  gst_buffer_unref(out);
  gst_buffer_unref(in);
  gst_harness_teardown(h);
}

// Starts `description` and returns the bus error's message ("" when it started).
std::string start_error(const std::string& description) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  EXPECT_EQ(error, nullptr);
  if (pipeline == nullptr) return "no pipeline";
  const GstStateChangeReturn ret = gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::string text;
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  if (message != nullptr) {
    GError* err = nullptr;
    gst_message_parse_error(message, &err, nullptr);
    text = err->message;
    g_error_free(err);
    gst_message_unref(message);
  }
  EXPECT_EQ(ret == GST_STATE_CHANGE_FAILURE, !text.empty());
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return text;
}

TEST(InternVLPublishTest, endpoint_in_use_is_an_error_naming_it) {
  zmq::context_t context;
  zmq::socket_t taken(context, zmq::socket_type::pub);
  taken.set(zmq::sockopt::linger, 0);
  taken.bind("tcp://127.0.0.1:*");
  const std::string endpoint = "bind:" + taken.get(zmq::sockopt::last_endpoint);
  const std::string text =
      start_error("appsrc ! internvlpublish endpoint=" + endpoint + " ! fakesink");
  EXPECT_NE(text.find(endpoint), std::string::npos) << text;
}

TEST(InternVLPublishTest, unwritable_file_is_an_error_naming_it) {
  const std::string path =
      (ivs::test::scratch_dir("publish_bad_file") / "missing" / "out.jsonl").string();
  const std::string text =
      start_error("appsrc ! internvlpublish file-path=" + path + " ! fakesink");
  EXPECT_NE(text.find(path), std::string::npos) << text;
}

TEST(InternVLPublishTest, metrics_address_starts_counts_and_stops) {
  const fs::path path = ivs::test::scratch_dir("publish_metrics") / "results.jsonl";
  GstElement* e = gst_element_factory_make("internvlpublish", nullptr);
  g_object_set(e, "file-path", path.c_str(), "metrics-address", "127.0.0.1:0", nullptr);
  GstHarness* h = start_publish(e);
  gst_harness_push(h, result_buffer({guitar()}, 0));
  gst_harness_push_event(h, gst_event_new_eos());
  EXPECT_EQ(counter(h->element, "messages-published"), 1u);
  gst_harness_teardown(h);  // stops the exposer (up to ~2 s, civetweb's poll quantum)
}

TEST(InternVLPublishTest, bad_metrics_address_is_an_error_naming_it) {
  const std::string text =
      start_error("appsrc ! internvlpublish metrics-address=no-such-host.invalid:1 ! fakesink");
  EXPECT_NE(text.find("no-such-host.invalid:1"), std::string::npos) << text;
}

// Waits (bounded) for EOS on the pipeline's bus; an error instead fails the test.
void expect_eos(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(
      bus, 10 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(message, nullptr);
  EXPECT_EQ(GST_MESSAGE_TYPE(message), GST_MESSAGE_EOS);
  gst_message_unref(message);
  gst_object_unref(bus);
}

// `source` ! internvlpublish name=pub `properties` ! fakesink, parsed; null on a parse error.
GstElement* publish_pipeline(const std::string& source, const std::string& properties) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(
      (source + " ! internvlpublish name=pub " + properties + " ! fakesink").c_str(), &error);
  EXPECT_EQ(error, nullptr) << (error != nullptr ? error->message : "");
  g_clear_error(&error);
  return pipeline;
}

// Pushes one result through a running appsrc pipeline and waits for EOS.
void run_once(GstElement* pipeline) {
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstFlowReturn flow = GST_FLOW_ERROR;
  g_signal_emit_by_name(src, "push-buffer", result_buffer({guitar()}, 0), &flow);
  EXPECT_EQ(flow, GST_FLOW_OK);
  g_signal_emit_by_name(src, "end-of-stream", &flow);
  gst_object_unref(src);
  expect_eos(pipeline);
}

TEST(InternVLPublishTest, playing_null_playing_publishes_again) {
  const fs::path path = ivs::test::scratch_dir("publish_restart") / "results.jsonl";
  GstElement* pipeline =
      publish_pipeline("appsrc name=src caps=application/x-internvl-test format=time",
                       "endpoint=bind:tcp://127.0.0.1:* file-path=" + path.string());
  ASSERT_NE(pipeline, nullptr);
  GstElement* pub = gst_bin_get_by_name(GST_BIN(pipeline), "pub");
  for (int round = 0; round < 2; ++round) {
    run_once(pipeline);
    EXPECT_EQ(counter(pub, "messages-published"), 1u) << "round " << round;
    ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  }
  EXPECT_EQ(read_lines(path).size(), 2u);  // appended, never truncated
  gst_object_unref(pub);
  gst_object_unref(pipeline);
}

// What the pad probe of the event pipeline attaches: a classification to every buffer until the
// test has received one (the subscription is up: ZeroMQ drops what a PUB sends before), then an
// event start and an event end on the next two buffers, as internvlalert would.
struct EventInjector {
  std::atomic<bool> subscribed{false};
  std::atomic<int> events_added{0};
};

GstPadProbeReturn inject_results(GstPad* /*pad*/, GstPadProbeInfo* info, gpointer data) {
  auto* injector = static_cast<EventInjector*>(data);
  GstBuffer* buffer = gst_buffer_make_writable(gst_pad_probe_info_get_buffer(info));
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  if (!injector->subscribed) {
    ivs::test::add_entries(buffer, {guitar()});
  } else if (injector->events_added < 2) {
    ivs::test::add_entries(buffer, {injector->events_added == 0 ? event_start() : event_end()});
    ++injector->events_added;
  }
  return GST_PAD_PROBE_OK;
}

// Event payloads from `sub` (topic -> payload) until `count` arrived or the bound expires;
// classifications on the way mark the subscription as up.
std::vector<std::pair<std::string, std::string>> receive_events(zmq::socket_t& sub,
                                                                EventInjector& injector,
                                                                size_t count) {
  std::vector<std::pair<std::string, std::string>> events;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(sub, std::back_inserter(frames)) || frames.size() != 2) continue;
    const std::string topic = frames[0].to_string();
    if (g_str_has_prefix(topic.c_str(), "classification/")) injector.subscribed = true;
    if (g_str_has_prefix(topic.c_str(), "event/"))
      events.emplace_back(topic, frames[1].to_string());
  }
  return events;
}

// The real path: a live video pipeline whose buffers carry event entries in InternVLResultMeta
// (attached by a pad probe), published by internvlpublish to a JSON-lines file and a ZeroMQ
// socket at once; both carry the events on topic event/<sensor_id>, valid against schema 1.1.
TEST(InternVLPublishTest, pipeline_publishes_events_to_zeromq_and_json_lines) {
  const fs::path dir = ivs::test::scratch_dir("publish_event_pipeline");
  const fs::path file = dir / "results.jsonl";
  GstElement* pipeline =
      publish_pipeline("videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=30/1",
                       "endpoint=bind:tcp://127.0.0.1:* sensor-id=door file-path=" + file.string());
  ASSERT_NE(pipeline, nullptr);
  GstElement* pub = gst_bin_get_by_name(GST_BIN(pipeline), "pub");
  EventInjector injector;
  GstPad* pad = gst_element_get_static_pad(pub, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, inject_results, &injector, nullptr);
  gst_object_unref(pad);
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  gchar* bound = nullptr;
  g_object_get(pub, "bound-endpoint", &bound, nullptr);
  ASSERT_NE(bound, nullptr);

  zmq::context_t context;
  zmq::socket_t sub = subscribe_all(context, bound);
  g_free(bound);
  const auto events = receive_events(sub, injector, 2);

  gst_element_send_event(pipeline, gst_event_new_eos());  // the file is complete at EOS
  expect_eos(pipeline);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pub);
  gst_object_unref(pipeline);

  ASSERT_EQ(events.size(), 2u);
  std::ofstream received(dir / "received.jsonl");
  for (const auto& [topic, payload] : events) {
    EXPECT_EQ(topic, "event/door");
    received << payload << '\n';
  }
  received.close();
  EXPECT_EQ(ivs::sinks::result_from_json(events[0].second).event->state,
            ivs::sinks::EventState::kStart);
  EXPECT_EQ(ivs::sinks::result_from_json(events[1].second).event->state,
            ivs::sinks::EventState::kEnd);
  expect_valid_messages_1_1(dir / "received.jsonl");
  std::vector<std::string> file_events;
  for (const std::string& line : read_lines(file)) {
    if (ivs::sinks::result_from_json(line).kind == ivs::sinks::ResultKind::kEvent)
      file_events.push_back(line);
  }
  EXPECT_EQ(file_events, (std::vector<std::string>{events[0].second, events[1].second}));
  expect_valid_messages_1_1(file);
}

}  // namespace
