// SPDX-License-Identifier: Apache-2.0
// One result as it leaves the pipeline: the in-memory form of the wire format (sinks/README.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ivs::sinks {

enum class ResultKind { kClassification, kCaption, kEvent };

/// "classification", "caption", "event".
const char* result_kind_name(ResultKind kind);

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
  double latency_seconds = 0.0;            // frame arrival to result
  double queue_seconds = 0.0;              // waiting for a batch
  int64_t batch_size = 0;                  // the inference batch this result came from
};

}  // namespace ivs::sinks
