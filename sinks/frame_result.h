// SPDX-License-Identifier: Apache-2.0
// One result as it leaves the pipeline: the in-memory form of the wire format (sinks/README.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ivs::sinks {

enum class ResultKind { kClassification, kCaption, kEvent, kEmbedding };

/// "classification", "caption", "event", "embedding".
const char* result_kind_name(ResultKind kind);

/// Whether an event message reports that an alert began or ended.
enum class EventState { kStart, kEnd };

/// "start", "end".
const char* event_state_name(EventState state);

struct LabelScore {
  std::string label;        // "playing guitar"
  int64_t label_id = 0;     // index in the element's label set
  double confidence = 0.0;  // softmax probability over the label set
};

struct CaptionRecord {
  std::string text;    // "a red panda sitting on a wooden platform"
  std::string prompt;  // "English caption:"
  int64_t num_generated_tokens = 0;
  int64_t num_input_tokens = 0;  // prompt tokens incl. BOS
};

/// One start or end of an alert rule (kind event). Its own type rather than the pipeline's
/// record: sinks/ knows nothing of GStreamer times or the elements that make events.
struct EventInfo {
  std::string id;      // "cam01-person-3": unique in the producing process; names its files
  std::string rule;    // "person"
  std::string prompt;  // "a person at the door"
  EventState state = EventState::kStart;
  double start_seconds = 0.0;     // stream time the rule's probability first stayed above on
  double end_seconds = 0.0;       // kEnd only: stream time it first stayed below off
  double probability = 0.0;       // of the sample that decided this start or end, in [0, 1]
  double peak_probability = 0.0;  // highest since the start, in [0, 1]
  int64_t start_frame_id = 0;     // frame number of the first sample above on
  int64_t frame_id = 0;           // frame number of the deciding sample
  std::string snapshot_path;      // JPEG of the start's deciding frame; empty: none
  std::string clip_path;          // kEnd only: the event's clip; empty: none
};

/// Plain value type; copyable; no invariants beyond the field comments.
struct FrameResult {
  ResultKind kind = ResultKind::kClassification;
  std::string sensor_id;                            // "cam01": the stream's name
  std::string source;                               // "rtsp://10.0.0.5/stream1"; may be empty
  std::chrono::system_clock::time_point timestamp;  // wall clock when the result was made
  double segment_start_seconds = 0.0;  // stream time (PTS) of the first frame described
  double segment_end_seconds = 0.0;    // stream time of the last frame described
  int64_t start_frame_id = 0;
  int64_t end_frame_id = 0;
  std::string model_name;                  // "InternVL-14B-224px"
  std::string model_mode;                  // "InternVL-C", "InternVL-G", or "caption"
  std::vector<LabelScore> classification;  // kind == kClassification
  std::optional<CaptionRecord> caption;    // kind == kCaption
  std::optional<EventInfo> event;          // kind == kEvent
  std::vector<float> embedding;            // kind == kEmbedding: the image embedding [dim]
  double latency_seconds = 0.0;            // frame arrival to result
  double queue_seconds = 0.0;              // waiting for a batch
  int64_t batch_size = 0;                  // the inference batch this result came from
};

}  // namespace ivs::sinks
