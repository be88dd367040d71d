// SPDX-License-Identifier: Apache-2.0
#include "pipeline/result_conversion.h"

#include <gst/gst.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sinks/result_json.h"
#include "tests/common/test_paths.h"

namespace {

using ivs::pipeline::AlertState;
using ivs::pipeline::CaptionRecord;
using ivs::pipeline::check_convertible;
using ivs::pipeline::conversion_skip_name;
using ivs::pipeline::ConversionSkip;
using ivs::pipeline::EventRecord;
using ivs::pipeline::ResultEntry;
using ivs::pipeline::ResultType;
using ivs::pipeline::StreamInfo;
using ivs::pipeline::to_embedding_result;
using ivs::pipeline::to_frame_result;
using ivs::sinks::FrameResult;
using ivs::sinks::ResultKind;
using nlohmann::json;
using std::chrono::system_clock;

const StreamInfo kStream{"cam01", "rtsp://10.0.0.5/stream1"};

system_clock::time_point fixed_now() {
  // 2026-11-28T20:01:00.123Z
  return system_clock::time_point(std::chrono::milliseconds(1'795'896'060'123));
}

ResultEntry classification_entry() {
  ResultEntry entry;
  entry.type = ResultType::kClassification;
  entry.element = "internvlclassify0";
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "InternVL-C";
  entry.classification = {{"playing guitar", 3, 0.91}, {"singing", 7, 0.05}};
  entry.segment = {12 * GST_SECOND, 13 * GST_SECOND + 400 * GST_MSECOND, 360, 402};
  entry.timing = {0.003, 0.030, 0.042, 8};
  return entry;
}

ResultEntry caption_entry() {
  ResultEntry entry;
  entry.type = ResultType::kCaption;
  entry.element = "internvlcaption0";
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "InternVL-G";  // whatever the element wrote, the wire mode is "caption"
  entry.caption = CaptionRecord{"a man playing a guitar", "English caption:", 7, 5};
  entry.segment = {2 * GST_SECOND, 2 * GST_SECOND, 60, 60};
  entry.timing = {0.010, 0.500, 0.650, 2};
  return entry;
}

// A sampled frame's classification with its embedding (dim 4, unit length).
ResultEntry sampled_entry() {
  ResultEntry entry = classification_entry();
  entry.segment = {12 * GST_SECOND, 12 * GST_SECOND, 360, 360};
  entry.embedding =
      std::make_shared<const std::vector<float>>(std::vector<float>{0.5f, 0.5f, -0.5f, -0.5f});
  return entry;
}

// The start of an alert as internvlalert attaches it; event_end_entry() is its end.
ResultEntry event_start_entry() {
  ResultEntry entry = classification_entry();  // the same model and mode, without labels
  entry.type = ResultType::kEvent;
  entry.element = "internvlalert0";
  entry.classification.clear();
  EventRecord& event = entry.event.emplace();
  event.id = "cam01-person-1";
  event.stream_id = "cam01";
  event.rule = "person";
  event.prompt = "a person at the door";
  event.state = AlertState::kStart;
  event.start_pts = 12 * GST_SECOND;
  event.pts = 12 * GST_SECOND + 500 * GST_MSECOND;
  event.probability = 0.84;
  event.peak_probability = 0.88;
  event.start_frame = 360;
  event.frame = 375;
  event.snapshot_path = "/var/lib/internvl/snapshots/cam01-person-1.jpg";
  entry.segment = {event.pts, event.pts, event.frame, event.frame};
  entry.timing = {0.0, 0.0, 0.05, 1};
  return entry;
}

ResultEntry event_end_entry() {
  ResultEntry entry = event_start_entry();
  EventRecord& event = *entry.event;
  event.state = AlertState::kEnd;
  event.end_pts = 20 * GST_SECOND + 250 * GST_MSECOND;
  event.pts = 21 * GST_SECOND;
  event.probability = 0.12;
  event.peak_probability = 0.97;
  event.frame = 630;
  event.clip_path = "/var/lib/internvl/clips/cam01-person-1.mp4";
  entry.segment = {event.pts, event.pts, event.frame, event.frame};
  return entry;
}

TEST(ResultConversionTest, classification_maps_every_field) {
  const std::optional<FrameResult> result =
      to_frame_result(classification_entry(), kStream, fixed_now());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->kind, ResultKind::kClassification);
  EXPECT_EQ(result->sensor_id, "cam01");
  EXPECT_EQ(result->source, "rtsp://10.0.0.5/stream1");
  EXPECT_EQ(result->timestamp, fixed_now());
  EXPECT_DOUBLE_EQ(result->segment_start_seconds, 12.0);
  EXPECT_DOUBLE_EQ(result->segment_end_seconds, 13.4);
  EXPECT_EQ(result->start_frame_id, 360);
  EXPECT_EQ(result->end_frame_id, 402);
  EXPECT_EQ(result->model_name, "InternVL-14B-224px");
  EXPECT_EQ(result->model_mode, "InternVL-C");
  ASSERT_EQ(result->classification.size(), 2u);
  EXPECT_EQ(result->classification[0].label, "playing guitar");
  EXPECT_EQ(result->classification[0].label_id, 3);
  EXPECT_DOUBLE_EQ(result->classification[0].confidence, 0.91);
  EXPECT_EQ(result->classification[1].label, "singing");
  EXPECT_FALSE(result->caption.has_value());
  EXPECT_DOUBLE_EQ(result->latency_seconds, 0.042);
  EXPECT_DOUBLE_EQ(result->queue_seconds, 0.003);
  EXPECT_EQ(result->batch_size, 8);
}

TEST(ResultConversionTest, clip_classification_keeps_the_generative_mode) {
  ResultEntry entry = classification_entry();
  entry.type = ResultType::kClipClassification;
  entry.mode = "InternVL-G";
  const std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->kind, ResultKind::kClassification);
  EXPECT_EQ(result->model_mode, "InternVL-G");
}

TEST(ResultConversionTest, caption_maps_every_field) {
  const std::optional<FrameResult> result = to_frame_result(caption_entry(), kStream, fixed_now());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->kind, ResultKind::kCaption);
  EXPECT_EQ(result->model_mode, "caption");
  EXPECT_TRUE(result->classification.empty());
  ASSERT_TRUE(result->caption.has_value());
  EXPECT_EQ(result->caption->text, "a man playing a guitar");
  EXPECT_EQ(result->caption->prompt, "English caption:");
  EXPECT_EQ(result->caption->num_generated_tokens, 7);
  EXPECT_EQ(result->caption->num_input_tokens, 5);
  EXPECT_DOUBLE_EQ(result->segment_start_seconds, 2.0);
  EXPECT_EQ(result->start_frame_id, 60);
  EXPECT_DOUBLE_EQ(result->latency_seconds, 0.650);
  EXPECT_EQ(result->batch_size, 2);
}

TEST(ResultConversionTest, missing_pts_becomes_zero_seconds) {
  ResultEntry entry = classification_entry();
  entry.segment.first_pts = GST_CLOCK_TIME_NONE;
  entry.segment.last_pts = GST_CLOCK_TIME_NONE;
  const std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->segment_start_seconds, 0.0);
  EXPECT_EQ(result->segment_end_seconds, 0.0);
}

TEST(ResultConversionTest, out_of_range_numbers_are_clamped_to_the_schema) {
  ResultEntry entry = caption_entry();
  entry.segment.last_frame = std::numeric_limits<uint64_t>::max();
  entry.timing = {-0.5, 0.1, -1.0, -3};
  entry.caption->num_generated_tokens = -1;
  const std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->end_frame_id, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(result->queue_seconds, 0.0);
  EXPECT_EQ(result->latency_seconds, 0.0);
  EXPECT_EQ(result->batch_size, 0);
  EXPECT_EQ(result->caption->num_generated_tokens, 0);
}

// `entry` is not converted, for the reason `expected` named `name`.
void expect_skipped(const char* name, const ResultEntry& entry, const StreamInfo& stream,
                    ConversionSkip expected) {
  SCOPED_TRACE(name);
  EXPECT_EQ(check_convertible(entry, stream), expected);
  EXPECT_STREQ(conversion_skip_name(expected), name);
  EXPECT_FALSE(to_frame_result(entry, stream, fixed_now()).has_value());
}

TEST(ResultConversionTest, entries_the_schema_would_reject_are_skipped_with_a_reason) {
  struct Case {
    const char* name;
    ResultEntry entry;
    StreamInfo stream;
    ConversionSkip expected;
  };
  ResultEntry no_labels = classification_entry();
  no_labels.classification.clear();
  ResultEntry no_caption = caption_entry();
  no_caption.caption.reset();
  ResultEntry bad_mode = classification_entry();
  bad_mode.mode = "caption";
  ResultEntry bad_label_id = classification_entry();
  bad_label_id.classification[1].label_id = -1;
  ResultEntry no_model = caption_entry();
  no_model.model_name.clear();
  const std::vector<Case> cases = {
      {"empty_classification", no_labels, kStream, ConversionSkip::kEmptyClassification},
      {"missing_caption", no_caption, kStream, ConversionSkip::kMissingCaption},
      {"unknown_mode", bad_mode, kStream, ConversionSkip::kUnknownMode},
      {"negative_label_id", bad_label_id, kStream, ConversionSkip::kNegativeLabelId},
      {"missing_model_name", no_model, kStream, ConversionSkip::kMissingModelName},
      {"missing_sensor_id", classification_entry(), StreamInfo{"", "x"},
       ConversionSkip::kMissingSensorId},
  };
  for (const Case& c : cases) expect_skipped(c.name, c.entry, c.stream, c.expected);
  EXPECT_EQ(check_convertible(classification_entry(), kStream), ConversionSkip::kNone);
  EXPECT_EQ(check_convertible(caption_entry(), kStream), ConversionSkip::kNone);
}

// The event tests compare the message, not the struct: the wire is what the conversion is for.
json converted_event(const ResultEntry& entry) {
  const std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
  if (!result) return nullptr;
  EXPECT_EQ(result->kind, ResultKind::kEvent);
  return json::parse(ivs::sinks::result_to_json(*result));
}

TEST(ResultConversionTest, event_start_maps_to_a_segment_ending_at_the_deciding_sample) {
  const json message = converted_event(event_start_entry());
  ASSERT_FALSE(message.is_null());
  EXPECT_EQ(message["version"], "1.1");
  EXPECT_EQ(message["sensor_id"], "cam01");
  EXPECT_EQ(message["timestamp"], "2026-11-28T20:01:00.123Z");
  EXPECT_EQ(message["segment"], (json{{"start_time", 12.0}, {"end_time", 12.5}}));
  EXPECT_EQ(message["start_frame_id"], 360);
  EXPECT_EQ(message["end_frame_id"], 375);  // the deciding sample's, not the entry segment's
  EXPECT_EQ(message["model"], (json{{"name", "InternVL-14B-224px"}, {"mode", "InternVL-C"}}));
  EXPECT_EQ(message["metrics"]["latency_seconds"], 0.05);
  EXPECT_EQ(message["event"],
            (json{{"id", "cam01-person-1"},
                  {"rule", "person"},
                  {"prompt", "a person at the door"},
                  {"state", "start"},
                  {"start_time", 12.0},
                  {"probability", 0.84},
                  {"peak_probability", 0.88},
                  {"start_frame_id", 360},
                  {"frame_id", 375},
                  {"snapshot_path", "/var/lib/internvl/snapshots/cam01-person-1.jpg"}}));
}

TEST(ResultConversionTest, event_end_maps_to_a_segment_from_start_to_end) {
  const json message = converted_event(event_end_entry());
  ASSERT_FALSE(message.is_null());
  // end_pts, not the deciding sample's pts (21 s): the segment is the event itself.
  EXPECT_EQ(message["segment"], (json{{"start_time", 12.0}, {"end_time", 20.25}}));
  EXPECT_EQ(message["start_frame_id"], 360);
  EXPECT_EQ(message["end_frame_id"], 630);
  const json& event = message["event"];
  EXPECT_EQ(event["state"], "end");
  EXPECT_EQ(event["end_time"], 20.25);
  EXPECT_EQ(event["probability"], 0.12);
  EXPECT_EQ(event["peak_probability"], 0.97);
  EXPECT_EQ(event["frame_id"], 630);
  EXPECT_EQ(event["clip_path"], "/var/lib/internvl/clips/cam01-person-1.mp4");
}

TEST(ResultConversionTest, event_entries_the_schema_would_reject_are_skipped_with_a_reason) {
  ResultEntry no_record = event_start_entry();
  no_record.event.reset();
  ResultEntry no_id = event_start_entry();
  no_id.event->id.clear();
  ResultEntry no_rule = event_end_entry();
  no_rule.event->rule.clear();
  ResultEntry caption_mode = event_start_entry();
  caption_mode.mode = "caption";
  ResultEntry no_model = event_end_entry();
  no_model.model_name.clear();
  expect_skipped("missing_event", no_record, kStream, ConversionSkip::kMissingEvent);
  expect_skipped("incomplete_event", no_id, kStream, ConversionSkip::kIncompleteEvent);
  expect_skipped("incomplete_event", no_rule, kStream, ConversionSkip::kIncompleteEvent);
  expect_skipped("unknown_mode", caption_mode, kStream, ConversionSkip::kUnknownMode);
  expect_skipped("missing_model_name", no_model, kStream, ConversionSkip::kMissingModelName);
  EXPECT_EQ(check_convertible(event_start_entry(), kStream), ConversionSkip::kNone);
  EXPECT_EQ(check_convertible(event_end_entry(), StreamInfo{"cam01", ""}), ConversionSkip::kNone);
}

// The converted messages of every entry shape; the CTest pipeline_conversion_schema_valid
// validates them against the JSON Schema with an independent implementation.
std::vector<FrameResult> sample_results() {
  ResultEntry clip = classification_entry();
  clip.type = ResultType::kClipClassification;
  clip.mode = "InternVL-G";
  ResultEntry no_pts = caption_entry();
  no_pts.segment = {GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, 0, 0};
  ResultEntry clamped = classification_entry();
  clamped.timing = {-1.0, 0.0, -1.0, -1};
  clamped.classification[0].confidence = 1.0000001;  // float softmax
  clamped.segment.last_frame = std::numeric_limits<uint64_t>::max();
  std::vector<FrameResult> results;
  for (const ResultEntry& entry :
       {classification_entry(), clip, caption_entry(), no_pts, clamped}) {
    std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
    if (result) results.push_back(*result);
  }
  return results;
}

// Writes `results` as JSON lines to the path in `env` (set by the CTest that feeds the schema
// validator), or to a scratch file named `fallback`; each must parse back.
void write_for_schema_validation(const std::vector<FrameResult>& results, const char* env,
                                 const char* fallback) {
  const char* env_path = std::getenv(env);
  const std::string path = env_path != nullptr
                               ? std::string(env_path)
                               : (ivs::test::scratch_dir("result_conversion") / fallback).string();
  std::ofstream out(path, std::ios::trunc);
  ASSERT_TRUE(out.is_open()) << path;
  for (const FrameResult& result : results) {
    const std::string json = ivs::sinks::result_to_json(result);
    EXPECT_NO_THROW(ivs::sinks::result_from_json(json)) << json;
    out << json << '\n';
  }
  out.close();
  EXPECT_FALSE(out.fail()) << path;
}

TEST(ResultConversionTest, a_sampled_embedding_maps_to_an_embedding_message) {
  const std::optional<FrameResult> result =
      to_embedding_result(sampled_entry(), kStream, fixed_now());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->kind, ResultKind::kEmbedding);
  EXPECT_EQ(result->sensor_id, "cam01");
  EXPECT_EQ(result->model_mode, "InternVL-C");
  EXPECT_EQ(result->embedding, (std::vector<float>{0.5f, 0.5f, -0.5f, -0.5f}));
  EXPECT_DOUBLE_EQ(result->segment_start_seconds, 12.0);
  EXPECT_EQ(result->start_frame_id, 360);
  EXPECT_EQ(result->end_frame_id, 360);
  EXPECT_TRUE(result->classification.empty());
  EXPECT_EQ(result->batch_size, 8);
}

TEST(ResultConversionTest, only_sampled_embeddings_become_embedding_messages) {
  EXPECT_FALSE(to_embedding_result(classification_entry(), kStream, fixed_now()));  // none
  ResultEntry clip = sampled_entry();
  clip.type = ResultType::kClipClassification;
  EXPECT_FALSE(to_embedding_result(clip, kStream, fixed_now()));
  ResultEntry caption = caption_entry();
  caption.embedding = sampled_entry().embedding;
  EXPECT_FALSE(to_embedding_result(caption, kStream, fixed_now()));
  ResultEntry empty = sampled_entry();
  empty.embedding = std::make_shared<const std::vector<float>>();
  EXPECT_FALSE(to_embedding_result(empty, kStream, fixed_now()));
  ResultEntry bad_mode = sampled_entry();
  bad_mode.mode = "caption";
  EXPECT_FALSE(to_embedding_result(bad_mode, kStream, fixed_now()));
  EXPECT_FALSE(to_embedding_result(sampled_entry(), StreamInfo{"", ""}, fixed_now()));
  ResultEntry no_labels = sampled_entry();  // a threshold above every label: still published
  no_labels.classification.clear();
  EXPECT_TRUE(to_embedding_result(no_labels, kStream, fixed_now()));
}

TEST(ResultConversionTest, converted_messages_parse_back_and_are_written_for_schema_validation) {
  const std::vector<FrameResult> results = sample_results();
  ASSERT_EQ(results.size(), 5u);
  write_for_schema_validation(results, "INTERNVL_CONVERSION_SAMPLES", "valid.jsonl");
}

// Version 1.1 messages, validated by the CTest pipeline_conversion_schema_1_1_valid.
TEST(ResultConversionTest, converted_events_parse_back_and_are_written_for_schema_validation) {
  ResultEntry no_pts = event_end_entry();
  no_pts.event->start_pts = GST_CLOCK_TIME_NONE;
  no_pts.event->end_pts = GST_CLOCK_TIME_NONE;
  no_pts.event->clip_path.clear();
  ResultEntry generative = event_start_entry();
  generative.mode = "InternVL-G";
  generative.event->probability = 1.0000001;  // float cosine softmax
  generative.event->snapshot_path.clear();
  std::vector<FrameResult> results;
  for (const ResultEntry& entry : {event_start_entry(), event_end_entry(), no_pts, generative}) {
    std::optional<FrameResult> result = to_frame_result(entry, kStream, fixed_now());
    if (result) results.push_back(*result);
  }
  // Embedding messages are wire format 1.1 too.
  ResultEntry no_labels = sampled_entry();
  no_labels.classification.clear();
  no_labels.mode = "InternVL-G";
  for (const ResultEntry& entry : {sampled_entry(), no_labels}) {
    std::optional<FrameResult> result = to_embedding_result(entry, kStream, fixed_now());
    if (result) results.push_back(*result);
  }
  ASSERT_EQ(results.size(), 6u);
  write_for_schema_validation(results, "INTERNVL_CONVERSION_EVENT_SAMPLES", "events.jsonl");
}

}  // namespace
