// SPDX-License-Identifier: Apache-2.0
// The C++ payload of InternVLResultMeta: typed records shaped like GStreamer's analytics
// relation meta (1.24+: classification Mtd, VLM caption Mtd), so a later move is a rename.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ivs::pipeline {

/// "No time": GStreamer's GST_CLOCK_TIME_NONE, spelt without GStreamer so that the engine builds
/// where GStreamer is absent (INTERNVL_WITH_GSTREAMER=OFF). Times are GstClockTime nanoseconds.
inline constexpr uint64_t kNoClockTime = ~uint64_t{0};

struct ClassificationRecord {
  std::string label;        // "playing guitar"
  int64_t label_id = 0;     // index in the element's label set
  double confidence = 0.0;  // softmax probability over the label set
};

struct CaptionRecord {
  std::string text;
  std::string prompt;  // "English caption:"
  int64_t num_generated_tokens = 0;
  int64_t num_input_tokens = 0;
};

/// Which frames a result describes (stream time and frame numbers).
struct SegmentRecord {
  uint64_t first_pts = kNoClockTime;  // GstClockTime
  uint64_t last_pts = kNoClockTime;
  uint64_t first_frame = 0;
  uint64_t last_frame = 0;
};

struct TimingRecord {
  double queue_seconds = 0.0;      // waiting for a batch
  double inference_seconds = 0.0;  // the batch's model time
  double latency_seconds = 0.0;    // frame arrival to result
  int64_t batch_size = 0;
};

/// One start or end of an alert (internvlalert): a rule's probability crossed its on-threshold
/// for min-on seconds (start) or stayed below its off-threshold for min-off seconds (end).
enum class AlertState { kStart, kEnd };
struct EventRecord {
  std::string id;         // unique in the process: "<stream>-<rule>-<n>"; names its files
  std::string stream_id;  // the stream the rule watches
  std::string rule;       // rule name
  std::string prompt;
  AlertState state = AlertState::kStart;
  uint64_t start_pts = kNoClockTime;  // stream time (ns) the probability first stayed above on
  uint64_t end_pts = kNoClockTime;    // on kEnd: stream time it first stayed below off
  uint64_t pts = kNoClockTime;        // stream time of the sample that decided this start or end
  double probability = 0.0;           // of that sample (smoothed as the rule says)
  double peak_probability = 0.0;      // highest since the start
  uint64_t start_frame = 0;           // frame number of the first sample above on
  uint64_t frame = 0;                 // frame number of the deciding sample
  std::string snapshot_path;          // JPEG of the deciding frame of the start; empty: none
  std::string clip_path;              // the clip internvlrecord writes; empty: none
};

enum class ResultType { kClassification, kClipClassification, kCaption, kEvent };

/// One result attached to a frame by one element.
struct ResultEntry {
  ResultType type = ResultType::kClassification;
  std::string element;     // name of the element that produced it ("internvlclassify0")
  std::string model_name;  // "InternVL-14B-224px"
  std::string mode;        // "InternVL-C", "InternVL-G" or "caption"
  std::vector<ClassificationRecord> classification;  // best first
  std::optional<CaptionRecord> caption;
  std::optional<EventRecord> event;  // kEvent
  // kClassification: the sampled frame's image embedding (the mode's, L2-normalised), shared
  // rather than copied, so alerts and search reuse it without a second inference.
  std::shared_ptr<const std::vector<float>> embedding;
  SegmentRecord segment;
  TimingRecord timing;
};

/// Everything attached to one buffer; entries in the order they were added.
struct ResultRecords {
  std::vector<ResultEntry> entries;
};

}  // namespace ivs::pipeline
