// SPDX-License-Identifier: Apache-2.0
// The C++ payload of InternVLResultMeta: typed records shaped like GStreamer's analytics
// relation meta (1.24+: classification Mtd, VLM caption Mtd), so a later move is a rename.
#pragma once

#include <cstdint>
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

enum class ResultType { kClassification, kClipClassification, kCaption };

/// One result attached to a frame by one element.
struct ResultEntry {
  ResultType type = ResultType::kClassification;
  std::string element;     // name of the element that produced it ("internvlclassify0")
  std::string model_name;  // "InternVL-14B-224px"
  std::string mode;        // "InternVL-C", "InternVL-G" or "caption"
  std::vector<ClassificationRecord> classification;  // best first
  std::optional<CaptionRecord> caption;
  SegmentRecord segment;
  TimingRecord timing;
};

/// Everything attached to one buffer; entries in the order they were added.
struct ResultRecords {
  std::vector<ResultEntry> entries;
};

}  // namespace ivs::pipeline
