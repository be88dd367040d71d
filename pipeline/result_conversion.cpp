// SPDX-License-Identifier: Apache-2.0
#include "pipeline/result_conversion.h"

#include <gst/gst.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ivs::pipeline {
namespace {

constexpr const char* kModeContrastive = "InternVL-C";
constexpr const char* kModeGenerative = "InternVL-G";
constexpr const char* kModeCaption = "caption";

bool is_classification(ResultType type) {
  return type == ResultType::kClassification || type == ResultType::kClipClassification;
}

double pts_seconds(GstClockTime pts) {
  if (!GST_CLOCK_TIME_IS_VALID(pts)) return 0.0;
  return static_cast<double>(pts) / static_cast<double>(GST_SECOND);
}

// Frame numbers are uint64 in the pipeline and int64 on the wire; 2^63 frames never happen, but
// a wrapped negative id would fail the schema.
int64_t frame_id(uint64_t frame) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min(frame, kMax));
}

// The schema's minimum is 0; NaN stays NaN for result_to_json to write as 0.
double non_negative(double value) { return value < 0.0 ? 0.0 : value; }
int64_t non_negative(int64_t value) { return std::max<int64_t>(value, 0); }

void fill_common(const ResultEntry& entry, const StreamInfo& stream,
                 std::chrono::system_clock::time_point now, sinks::FrameResult& out) {
  out.sensor_id = stream.sensor_id;
  out.source = stream.source;
  out.timestamp = now;
  out.segment_start_seconds = pts_seconds(entry.segment.first_pts);
  out.segment_end_seconds = pts_seconds(entry.segment.last_pts);
  out.start_frame_id = frame_id(entry.segment.first_frame);
  out.end_frame_id = frame_id(entry.segment.last_frame);
  out.model_name = entry.model_name;
  out.latency_seconds = non_negative(entry.timing.latency_seconds);
  out.queue_seconds = non_negative(entry.timing.queue_seconds);
  out.batch_size = non_negative(entry.timing.batch_size);
}

bool is_embedding_mode(const std::string& mode) {
  return mode == kModeContrastive || mode == kModeGenerative;
}

ConversionSkip check_classification(const ResultEntry& entry) {
  if (!is_embedding_mode(entry.mode)) return ConversionSkip::kUnknownMode;
  if (entry.classification.empty()) return ConversionSkip::kEmptyClassification;
  for (const ClassificationRecord& record : entry.classification) {
    if (record.label_id < 0) return ConversionSkip::kNegativeLabelId;
  }
  return ConversionSkip::kNone;
}

ConversionSkip check_event(const ResultEntry& entry) {
  if (!entry.event) return ConversionSkip::kMissingEvent;
  if (entry.event->id.empty() || entry.event->rule.empty()) return ConversionSkip::kIncompleteEvent;
  return is_embedding_mode(entry.mode) ? ConversionSkip::kNone : ConversionSkip::kUnknownMode;
}

// The event's own times replace the entry's segment: a start or end describes the stretch from
// the start to the moment it was decided, which the alert element knows and the entry need not.
void fill_event(const EventRecord& record, sinks::FrameResult& out) {
  const bool ended = record.state == AlertState::kEnd;
  sinks::EventInfo& event = out.event.emplace();
  event.id = record.id;
  event.rule = record.rule;
  event.prompt = record.prompt;
  event.state = ended ? sinks::EventState::kEnd : sinks::EventState::kStart;
  event.start_seconds = pts_seconds(record.start_pts);
  event.end_seconds = ended ? pts_seconds(record.end_pts) : 0.0;
  event.probability = record.probability;
  event.peak_probability = record.peak_probability;
  event.start_frame_id = frame_id(record.start_frame);
  event.frame_id = frame_id(record.frame);
  event.snapshot_path = record.snapshot_path;
  event.clip_path = ended ? record.clip_path : std::string();
  out.segment_start_seconds = event.start_seconds;
  out.segment_end_seconds = ended ? event.end_seconds : pts_seconds(record.pts);
  out.start_frame_id = event.start_frame_id;
  out.end_frame_id = event.frame_id;
}

}  // namespace

const char* conversion_skip_name(ConversionSkip skip) {
  switch (skip) {
    case ConversionSkip::kNone:
      return "none";
    case ConversionSkip::kEmptyClassification:
      return "empty_classification";
    case ConversionSkip::kMissingCaption:
      return "missing_caption";
    case ConversionSkip::kUnknownMode:
      return "unknown_mode";
    case ConversionSkip::kNegativeLabelId:
      return "negative_label_id";
    case ConversionSkip::kMissingModelName:
      return "missing_model_name";
    case ConversionSkip::kMissingSensorId:
      return "missing_sensor_id";
    case ConversionSkip::kMissingEvent:
      return "missing_event";
    case ConversionSkip::kIncompleteEvent:
      return "incomplete_event";
  }
  return "unknown";
}

ConversionSkip check_convertible(const ResultEntry& entry, const StreamInfo& stream) {
  if (stream.sensor_id.empty()) return ConversionSkip::kMissingSensorId;
  if (entry.model_name.empty()) return ConversionSkip::kMissingModelName;
  if (is_classification(entry.type)) return check_classification(entry);
  if (entry.type == ResultType::kEvent) return check_event(entry);
  return entry.caption.has_value() ? ConversionSkip::kNone : ConversionSkip::kMissingCaption;
}

std::optional<sinks::FrameResult> to_frame_result(const ResultEntry& entry,
                                                  const StreamInfo& stream,
                                                  std::chrono::system_clock::time_point now) {
  if (check_convertible(entry, stream) != ConversionSkip::kNone) return std::nullopt;
  sinks::FrameResult out;
  fill_common(entry, stream, now, out);
  if (is_classification(entry.type)) {
    out.kind = sinks::ResultKind::kClassification;
    out.model_mode = entry.mode;
    out.classification.reserve(entry.classification.size());
    for (const ClassificationRecord& record : entry.classification) {
      out.classification.push_back({record.label, record.label_id, record.confidence});
    }
    return out;
  }
  if (entry.type == ResultType::kEvent) {
    out.kind = sinks::ResultKind::kEvent;
    out.model_mode = entry.mode;
    fill_event(*entry.event, out);
    return out;
  }
  // Caption entries carry mode "caption" whatever the element wrote: the wire mode names the
  // task, and the schema knows no other mode for captions.
  out.kind = sinks::ResultKind::kCaption;
  out.model_mode = kModeCaption;
  const CaptionRecord& caption = *entry.caption;
  out.caption =
      sinks::CaptionRecord{caption.text, caption.prompt, non_negative(caption.num_generated_tokens),
                           non_negative(caption.num_input_tokens)};
  return out;
}

std::optional<sinks::FrameResult> to_embedding_result(const ResultEntry& entry,
                                                      const StreamInfo& stream,
                                                      std::chrono::system_clock::time_point now) {
  if (entry.type != ResultType::kClassification || !entry.embedding || entry.embedding->empty())
    return std::nullopt;
  // An empty label list (a threshold above every label) still leaves a good embedding.
  const ConversionSkip skip = check_convertible(entry, stream);
  if (skip != ConversionSkip::kNone && skip != ConversionSkip::kEmptyClassification)
    return std::nullopt;
  sinks::FrameResult out;
  fill_common(entry, stream, now, out);
  out.kind = sinks::ResultKind::kEmbedding;
  out.model_mode = entry.mode;
  out.embedding = *entry.embedding;
  return out;
}

}  // namespace ivs::pipeline
