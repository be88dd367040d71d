// SPDX-License-Identifier: Apache-2.0
#include "sinks/result_json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/sinks/sample_results.h"

namespace {

using ivs::sinks::FrameResult;
using ivs::sinks::result_from_json;
using ivs::sinks::result_to_json;
using ivs::sinks::result_topic;
using ivs::sinks::ResultKind;
using nlohmann::json;

// Every field of an event, comparable and printable at once.
auto event_fields(const ivs::sinks::EventInfo& e) {
  return std::tie(e.id, e.rule, e.prompt, e.state, e.start_seconds, e.end_seconds, e.probability,
                  e.peak_probability, e.start_frame_id, e.frame_id, e.snapshot_path, e.clip_path);
}

void expect_same(const FrameResult& a, const FrameResult& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.sensor_id, b.sensor_id);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.segment_start_seconds, b.segment_start_seconds);
  EXPECT_EQ(a.segment_end_seconds, b.segment_end_seconds);
  EXPECT_EQ(a.start_frame_id, b.start_frame_id);
  EXPECT_EQ(a.end_frame_id, b.end_frame_id);
  EXPECT_EQ(a.model_name, b.model_name);
  EXPECT_EQ(a.model_mode, b.model_mode);
  ASSERT_EQ(a.classification.size(), b.classification.size());
  for (size_t i = 0; i < a.classification.size(); ++i) {
    EXPECT_EQ(a.classification[i].label, b.classification[i].label);
    EXPECT_EQ(a.classification[i].label_id, b.classification[i].label_id);
    EXPECT_EQ(a.classification[i].confidence, b.classification[i].confidence);
  }
  ASSERT_EQ(a.caption.has_value(), b.caption.has_value());
  if (a.caption) {
    EXPECT_EQ(a.caption->text, b.caption->text);
    EXPECT_EQ(a.caption->prompt, b.caption->prompt);
    EXPECT_EQ(a.caption->num_generated_tokens, b.caption->num_generated_tokens);
    EXPECT_EQ(a.caption->num_input_tokens, b.caption->num_input_tokens);
  }
  ASSERT_EQ(a.event.has_value(), b.event.has_value());
  if (a.event) {
    EXPECT_EQ(event_fields(*a.event), event_fields(*b.event));
  }
  EXPECT_EQ(a.embedding, b.embedding);
  EXPECT_EQ(a.latency_seconds, b.latency_seconds);
  EXPECT_EQ(a.queue_seconds, b.queue_seconds);
  EXPECT_EQ(a.batch_size, b.batch_size);
}

TEST(ResultJsonTest, writes_golden_text_for_design_example) {
  const std::string expected =
      R"({"version":"1.0","kind":"classification","sensor_id":"cam01",)"
      R"("source":"rtsp://10.0.0.5/stream1","timestamp":"2026-11-28T20:01:00.123Z",)"
      R"("segment":{"start_time":12.0,"end_time":13.4},"start_frame_id":360,"end_frame_id":402,)"
      R"("model":{"name":"InternVL-14B-224px","mode":"InternVL-C"},)"
      R"("classification":[{"label":"playing guitar","label_id":3,"confidence":0.91}],)"
      R"("caption":null,"metrics":{"latency_seconds":0.042,"queue_seconds":0.003,"batch_size":8}})";
  EXPECT_EQ(result_to_json(ivs::test::sample_classification()), expected);
}

TEST(ResultJsonTest, caption_object_has_design_fields) {
  const json message = json::parse(result_to_json(ivs::test::sample_caption()));
  EXPECT_EQ(message["kind"], "caption");
  EXPECT_EQ(message["classification"], json::array());
  EXPECT_EQ(message["caption"], (json{{"text", "a red panda sitting on a wooden platform"},
                                      {"prompt", "English caption:"},
                                      {"num_generated_tokens", 9},
                                      {"num_input_tokens", 5}}));
}

TEST(ResultJsonTest, round_trips_every_kind) {
  for (const FrameResult& result : {ivs::test::sample_classification(), ivs::test::sample_caption(),
                                    ivs::test::sample_event(), ivs::test::sample_unicode()}) {
    SCOPED_TRACE(result_to_json(result));
    expect_same(result_from_json(result_to_json(result)), result);
  }
}

TEST(ResultJsonTest, preserves_chinese_labels_unescaped) {
  const std::string text = result_to_json(ivs::test::sample_unicode());
  EXPECT_NE(text.find("\"label\":\"弹吉他\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"sensor_id\":\"摄像头-01\""), std::string::npos) << text;
  EXPECT_EQ(result_from_json(text).classification[1].label, "跳舞");
}

TEST(ResultJsonTest, replaces_invalid_utf8_instead_of_throwing) {
  FrameResult result = ivs::test::sample_classification();
  result.classification[0].label = "guitar\xff\xfe";
  result.source = "rtsp://\xc3";  // truncated two-byte sequence
  std::string text;
  ASSERT_NO_THROW(text = result_to_json(result));
  const FrameResult back = result_from_json(text);
  EXPECT_EQ(back.classification[0].label, "guitar\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(back.source, "rtsp://\xEF\xBF\xBD");
}

TEST(ResultJsonTest, formats_timestamp_as_utc_milliseconds) {
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  using std::chrono::system_clock;
  const struct {
    system_clock::duration since_epoch;
    const char* expected;
  } cases[] = {
      {milliseconds(0), "1970-01-01T00:00:00.000Z"},
      {nanoseconds(1234999999), "1970-01-01T00:00:01.234Z"},  // truncated, not rounded
      {milliseconds(-1), "1969-12-31T23:59:59.999Z"},
      {milliseconds(951782400000LL), "2000-02-29T00:00:00.000Z"},
      {milliseconds(1795896060123LL), "2026-11-28T20:01:00.123Z"},
  };
  for (const auto& c : cases) {
    FrameResult result = ivs::test::sample_classification();
    result.timestamp = system_clock::time_point(c.since_epoch);
    const std::string text = result_to_json(result);
    EXPECT_EQ(json::parse(text)["timestamp"], c.expected);
    EXPECT_EQ(result_from_json(text).timestamp,
              system_clock::time_point(std::chrono::floor<milliseconds>(c.since_epoch)));
  }
}

TEST(ResultJsonTest, sanitises_non_finite_numbers_and_clamps_confidence) {
  FrameResult result = ivs::test::sample_classification();
  result.latency_seconds = std::numeric_limits<double>::quiet_NaN();
  result.segment_end_seconds = std::numeric_limits<double>::infinity();
  result.classification = {{"a", 0, 1.0000001}, {"b", 1, -1e-9}};
  const FrameResult back = result_from_json(result_to_json(result));
  EXPECT_EQ(back.latency_seconds, 0.0);
  EXPECT_EQ(back.segment_end_seconds, 0.0);
  EXPECT_EQ(back.classification[0].confidence, 1.0);
  EXPECT_EQ(back.classification[1].confidence, 0.0);
}

TEST(ResultJsonTest, kind_decides_which_of_caption_and_classification_is_written) {
  FrameResult classification = ivs::test::sample_classification();
  classification.caption = ivs::sinks::CaptionRecord{"stray", "p", 1, 1};
  EXPECT_TRUE(json::parse(result_to_json(classification))["caption"].is_null());
  FrameResult caption = ivs::test::sample_caption();
  caption.classification = {{"stray", 0, 0.5}};
  EXPECT_EQ(json::parse(result_to_json(caption))["classification"], json::array());
}

TEST(ResultJsonTest, topic_is_prefix_kind_and_sensor) {
  EXPECT_EQ(result_topic(ivs::test::sample_classification()), "classification/cam01");
  EXPECT_EQ(result_topic(ivs::test::sample_caption(), "site1/"), "site1/caption/cam01");
  EXPECT_EQ(result_topic(ivs::test::sample_event()), "event/cam01");
  EXPECT_EQ(result_topic(ivs::test::sample_embedding()), "embedding/cam01");
}

// Valid on their own, out of place in the message a case puts them in.
json stray_caption() {
  return {{"text", "t"}, {"prompt", "p"}, {"num_generated_tokens", 1}, {"num_input_tokens", 1}};
}
json stray_label() { return {{"label", "a"}, {"label_id", 0}, {"confidence", 1}}; }

struct BadMessage {
  const char* name;
  std::function<void(json&)> mutate;
  const char* field;  // must appear in the error message
};

// Each case mutates `good` in one way; the parser must reject it, naming the field.
void expect_rejected(const json& good, const std::vector<BadMessage>& cases) {
  for (const BadMessage& c : cases) {
    json message = good;
    c.mutate(message);
    try {
      result_from_json(message.dump());
      ADD_FAILURE() << c.name << ": accepted " << message.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(c.field), std::string::npos)
          << c.name << ": " << e.what();
    }
  }
}

TEST(ResultJsonTest, rejects_invalid_messages_naming_the_field) {
  const std::vector<BadMessage> cases = {
      {"missing version", [](json& m) { m.erase("version"); }, "'version'"},
      {"future version", [](json& m) { m["version"] = "2.0"; }, "'version'"},
      {"unknown kind", [](json& m) { m["kind"] = "detection"; }, "'kind'"},
      {"unknown key", [](json& m) { m["extra"] = 1; }, "'extra'"},
      {"unknown nested key", [](json& m) { m["segment"]["duration"] = 1.4; }, "'segment.duration'"},
      {"empty sensor", [](json& m) { m["sensor_id"] = ""; }, "'sensor_id'"},
      {"source not string", [](json& m) { m["source"] = nullptr; }, "'source'"},
      {"timestamp offset", [](json& m) { m["timestamp"] = "2026-11-28T20:01:00.123+01:00"; },
       "'timestamp'"},
      {"timestamp no millis", [](json& m) { m["timestamp"] = "2026-11-28T20:01:00Z"; },
       "'timestamp'"},
      {"timestamp bad date", [](json& m) { m["timestamp"] = "2026-02-30T20:01:00.123Z"; },
       "'timestamp'"},
      // Found by tests/fuzz/result_json_fuzz: beyond a time_point's 64-bit nanoseconds.
      {"timestamp year 4052", [](json& m) { m["timestamp"] = "4052-11-28T20:01:00.123Z"; },
       "between the years 1678 and 2261"},
      {"timestamp year 1600", [](json& m) { m["timestamp"] = "1600-01-01T00:00:00.000Z"; },
       "between the years 1678 and 2261"},
      {"segment string", [](json& m) { m["segment"]["start_time"] = "12"; },
       "'segment.start_time'"},
      {"negative segment", [](json& m) { m["segment"]["end_time"] = -1; }, "'segment.end_time'"},
      {"fractional frame id", [](json& m) { m["start_frame_id"] = 1.5; }, "'start_frame_id'"},
      {"huge frame id", [](json& m) { m["end_frame_id"] = 18446744073709551615ULL; },
       "'end_frame_id'"},
      {"model missing", [](json& m) { m.erase("model"); }, "'model'"},
      {"model mode", [](json& m) { m["model"]["mode"] = "c"; }, "'model.mode'"},
      {"confidence above 1", [](json& m) { m["classification"][0]["confidence"] = 1.5; },
       "'classification[0].confidence'"},
      {"label id negative", [](json& m) { m["classification"][0]["label_id"] = -1; },
       "'classification[0].label_id'"},
      {"classification object", [](json& m) { m["classification"] = json::object(); },
       "'classification'"},
      {"empty classification", [](json& m) { m["classification"] = json::array(); },
       "'classification'"},
      {"caption on classification", [](json& m) { m["caption"] = stray_caption(); }, "'caption'"},
      {"caption kind without caption", [](json& m) { m["kind"] = "caption"; }, "'caption'"},
      {"metrics batch", [](json& m) { m["metrics"]["batch_size"] = true; }, "'metrics.batch_size'"},
      {"negative latency", [](json& m) { m["metrics"]["latency_seconds"] = -0.1; },
       "'metrics.latency_seconds'"},
  };
  expect_rejected(json::parse(result_to_json(ivs::test::sample_classification())), cases);
}

TEST(ResultJsonTest, rejects_text_that_is_not_a_json_object) {
  for (const char* text : {"", "not json", "[1,2]", "null", "{\"version\":\"1.0\""}) {
    EXPECT_THROW(result_from_json(text), std::invalid_argument) << text;
  }
}

TEST(ResultJsonTest, caption_message_rejects_missing_caption_token_count) {
  json message = json::parse(result_to_json(ivs::test::sample_caption()));
  message["caption"].erase("num_input_tokens");
  try {
    result_from_json(message.dump());
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'caption.num_input_tokens'"), std::string::npos)
        << e.what();
  }
}

TEST(ResultJsonTest, writes_golden_text_for_event_start_and_end) {
  const std::string start =
      R"({"version":"1.1","kind":"event","sensor_id":"cam01","source":"",)"
      R"("timestamp":"2026-11-28T20:01:00.123Z","segment":{"start_time":12.0,"end_time":12.5},)"
      R"("start_frame_id":360,"end_frame_id":375,)"
      R"("model":{"name":"InternVL-14B-224px","mode":"InternVL-C"},"classification":[],)"
      R"("caption":null,"event":{"id":"cam01-person-1","rule":"person",)"
      R"("prompt":"a person at the door","state":"start","start_time":12.0,)"
      R"("probability":0.84,"peak_probability":0.88,"start_frame_id":360,"frame_id":375,)"
      R"("snapshot_path":"/var/lib/internvl/snapshots/cam01-person-1.jpg"},)"
      R"("metrics":{"latency_seconds":0.042,"queue_seconds":0.003,"batch_size":8}})";
  EXPECT_EQ(result_to_json(ivs::test::sample_event()), start);
  const json end = json::parse(result_to_json(ivs::test::sample_event_end()))["event"];
  EXPECT_EQ(end["state"], "end");
  EXPECT_EQ(end["end_time"], 20.25);
  EXPECT_EQ(end["clip_path"], "/var/lib/internvl/clips/cam01-person-1.mp4");
}

TEST(ResultJsonTest, message_carries_the_oldest_version_that_describes_it) {
  EXPECT_STREQ(ivs::sinks::result_version(ivs::test::sample_classification()), "1.0");
  EXPECT_STREQ(ivs::sinks::result_version(ivs::test::sample_caption()), "1.0");
  EXPECT_STREQ(ivs::sinks::result_version(ivs::test::sample_event()), "1.1");
  // A stray event record on another kind changes neither the version nor the bytes.
  for (FrameResult result : {ivs::test::sample_classification(), ivs::test::sample_caption()}) {
    const std::string before = result_to_json(result);
    result.event = ivs::test::sample_event().event;
    EXPECT_EQ(result_to_json(result), before);
    EXPECT_FALSE(json::parse(before).contains("event")) << before;
  }
}

TEST(ResultJsonTest, event_messages_round_trip) {
  FrameResult empty_clip = ivs::test::sample_event_end();
  empty_clip.event->clip_path.clear();
  empty_clip.event->snapshot_path.clear();
  FrameResult unicode = ivs::test::sample_event();
  unicode.sensor_id = "摄像头-01";
  unicode.event->prompt = "门口有人";
  for (const FrameResult& result :
       {ivs::test::sample_event(), ivs::test::sample_event_end(), empty_clip, unicode}) {
    SCOPED_TRACE(result_to_json(result));
    expect_same(result_from_json(result_to_json(result)), result);
  }
}

TEST(ResultJsonTest, start_event_omits_the_end_and_clamps_probabilities) {
  FrameResult result = ivs::test::sample_event();
  result.event->end_seconds = 99.0;
  result.event->clip_path = "stray.mp4";
  result.event->probability = 1.0000001;
  result.event->peak_probability = std::numeric_limits<double>::quiet_NaN();
  const std::string text = result_to_json(result);
  const json event = json::parse(text)["event"];
  EXPECT_FALSE(event.contains("end_time")) << text;
  EXPECT_FALSE(event.contains("clip_path")) << text;
  const FrameResult back = result_from_json(text);
  EXPECT_EQ(back.event->end_seconds, 0.0);
  EXPECT_EQ(back.event->clip_path, "");
  EXPECT_EQ(back.event->probability, 1.0);
  EXPECT_EQ(back.event->peak_probability, 0.0);
}

TEST(ResultJsonTest, accepts_a_version_1_1_message_of_every_kind) {
  for (const FrameResult& result :
       {ivs::test::sample_classification(), ivs::test::sample_caption()}) {
    json message = json::parse(result_to_json(result));
    message["version"] = "1.1";
    SCOPED_TRACE(message.dump());
    expect_same(result_from_json(message.dump()), result);
  }
}

TEST(ResultJsonTest, rejects_invalid_event_messages_naming_the_field) {
  const std::vector<BadMessage> cases = {
      {"event as 1.0", [](json& m) { m["version"] = "1.0"; }, "'event'"},
      {"event kind in 1.0",
       [](json& m) {
         m["version"] = "1.0";
         m.erase("event");
       },
       "'version'"},
      {"event missing", [](json& m) { m.erase("event"); }, "'event'"},
      {"event null", [](json& m) { m["event"] = nullptr; }, "'event'"},
      {"event on classification",
       [](json& m) {
         m["kind"] = "classification";
         m["classification"] = json::array({stray_label()});
       },
       "'event'"},
      {"unknown event key", [](json& m) { m["event"]["extra"] = 1; }, "'event.extra'"},
      {"state", [](json& m) { m["event"]["state"] = "paused"; }, "'event.state'"},
      {"empty id", [](json& m) { m["event"]["id"] = ""; }, "'event.id'"},
      {"empty rule", [](json& m) { m["event"]["rule"] = ""; }, "'event.rule'"},
      {"prompt missing", [](json& m) { m["event"].erase("prompt"); }, "'event.prompt'"},
      {"start time negative", [](json& m) { m["event"]["start_time"] = -1; }, "'event.start_time'"},
      {"end time on start", [](json& m) { m["event"]["end_time"] = 1.0; }, "'event.end_time'"},
      {"clip on start", [](json& m) { m["event"]["clip_path"] = ""; }, "'event.clip_path'"},
      {"end without end time",
       [](json& m) {
         m["event"]["state"] = "end";
         m["event"]["clip_path"] = "";
       },
       "'event.end_time'"},
      {"end without clip",
       [](json& m) {
         m["event"]["state"] = "end";
         m["event"]["end_time"] = 20.0;
       },
       "'event.clip_path'"},
      {"probability above 1", [](json& m) { m["event"]["probability"] = 1.5; },
       "'event.probability'"},
      {"peak negative", [](json& m) { m["event"]["peak_probability"] = -0.1; },
       "'event.peak_probability'"},
      {"frame id negative", [](json& m) { m["event"]["frame_id"] = -1; }, "'event.frame_id'"},
      {"start frame fractional", [](json& m) { m["event"]["start_frame_id"] = 1.5; },
       "'event.start_frame_id'"},
      {"snapshot not string", [](json& m) { m["event"]["snapshot_path"] = nullptr; },
       "'event.snapshot_path'"},
      {"labels on event", [](json& m) { m["classification"] = json::array({stray_label()}); },
       "'classification'"},
      {"caption on event", [](json& m) { m["caption"] = stray_caption(); }, "'caption'"},
      {"caption mode on event", [](json& m) { m["model"]["mode"] = "caption"; }, "'model.mode'"},
  };
  expect_rejected(json::parse(result_to_json(ivs::test::sample_event())), cases);
  // What result_to_json writes for a producer bug, kind event without an event: never valid.
  FrameResult no_event = ivs::test::sample_event();
  no_event.event.reset();
  EXPECT_THROW(result_from_json(result_to_json(no_event)), std::invalid_argument);
}

TEST(ResultJsonTest, writes_golden_text_for_an_embedding) {
  const std::string expected =
      R"({"version":"1.1","kind":"embedding","sensor_id":"cam01",)"
      R"("source":"rtsp://10.0.0.5/stream1","timestamp":"2026-11-28T20:01:00.123Z",)"
      R"("segment":{"start_time":12.0,"end_time":12.0},"start_frame_id":360,"end_frame_id":360,)"
      R"("model":{"name":"InternVL-14B-224px","mode":"InternVL-C"},"classification":[],)"
      R"("caption":null,"embedding":{"dim":4,"vector":[0.5,-0.5,0.5,-0.5]},)"
      R"("metrics":{"latency_seconds":0.042,"queue_seconds":0.003,"batch_size":8}})";
  EXPECT_EQ(result_to_json(ivs::test::sample_embedding()), expected);
  EXPECT_STREQ(ivs::sinks::result_version(ivs::test::sample_embedding()), "1.1");
  expect_same(result_from_json(expected), ivs::test::sample_embedding());
}

TEST(ResultJsonTest, embedding_values_are_rounded_to_six_decimals) {
  FrameResult result = ivs::test::sample_embedding();
  result.embedding = {0.123456789f, -0.987654321f, std::numeric_limits<float>::quiet_NaN(),
                      0.0000004f};
  const std::string text = result_to_json(result);
  EXPECT_NE(text.find("[0.123457,-0.987654,0.0,0.0]"), std::string::npos) << text;
  const FrameResult back = result_from_json(text);
  ASSERT_EQ(back.embedding.size(), 4u);
  EXPECT_NEAR(back.embedding[0], 0.123456789f, 5e-7);
  EXPECT_NEAR(back.embedding[1], -0.987654321f, 5e-7);
  // A stray vector on another kind changes neither the version nor the bytes.
  FrameResult classification = ivs::test::sample_classification();
  const std::string before = result_to_json(classification);
  classification.embedding = {1.0f};
  EXPECT_EQ(result_to_json(classification), before);
}

TEST(ResultJsonTest, rejects_invalid_embedding_messages_naming_the_field) {
  const std::vector<BadMessage> cases = {
      {"embedding as 1.0", [](json& m) { m["version"] = "1.0"; }, "'embedding'"},
      {"embedding kind in 1.0",
       [](json& m) {
         m["version"] = "1.0";
         m.erase("embedding");
       },
       "'version'"},
      {"embedding missing", [](json& m) { m.erase("embedding"); }, "'embedding'"},
      {"embedding null", [](json& m) { m["embedding"] = nullptr; }, "'embedding'"},
      {"unknown key", [](json& m) { m["embedding"]["norm"] = 1; }, "'embedding.norm'"},
      {"dim zero", [](json& m) { m["embedding"]["dim"] = 0; }, "'embedding.dim'"},
      {"dim mismatch", [](json& m) { m["embedding"]["dim"] = 5; }, "'embedding.vector'"},
      {"value out of range", [](json& m) { m["embedding"]["vector"][1] = -1.5; },
       "'embedding.vector'"},
      {"value not a number", [](json& m) { m["embedding"]["vector"][1] = "x"; },
       "'embedding.vector'"},
      {"embedding on classification",
       [](json& m) {
         m["kind"] = "classification";
         m["classification"] = json::array({stray_label()});
       },
       "'embedding'"},
      {"labels on embedding", [](json& m) { m["classification"] = json::array({stray_label()}); },
       "'classification'"},
      {"caption mode", [](json& m) { m["model"]["mode"] = "caption"; }, "'model.mode'"},
  };
  expect_rejected(json::parse(result_to_json(ivs::test::sample_embedding())), cases);
}

}  // namespace
