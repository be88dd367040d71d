// SPDX-License-Identifier: Apache-2.0
// Turns the entries of an InternVLResultMeta into sinks::FrameResult, the in-memory form of the
// wire format (sinks/README.md). The one place pipeline records meet the wire schema's rules.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "pipeline/engine/result_records.h"
#include "sinks/frame_result.h"

namespace ivs::pipeline {

/// The stream a result belongs to.
struct StreamInfo {
  std::string sensor_id;  // "cam01": the stream's name; must not be empty
  std::string source;     // "rtsp://10.0.0.5/stream1"; may be empty
};

/// Why an entry cannot become a message the schema accepts.
enum class ConversionSkip {
  kNone,                 // publishable
  kEmptyClassification,  // a classification without labels (all below threshold)
  kMissingCaption,       // a caption entry without its caption record
  kUnknownMode,          // a classification or event whose mode is not InternVL-C / InternVL-G
  kNegativeLabelId,      // a label id below 0 (label ids index the label set)
  kMissingModelName,
  kMissingSensorId,
  kMissingEvent,     // an event entry without its event record
  kIncompleteEvent,  // an event record without id or rule
};

/// Short snake_case name for logs and metric labels, e.g. "empty_classification".
const char* conversion_skip_name(ConversionSkip skip);

/// kNone when to_frame_result() would return a message, else the first reason it would not.
ConversionSkip check_convertible(const ResultEntry& entry, const StreamInfo& stream);

/// The message for one entry, or std::nullopt when check_convertible() is not kNone: such an
/// entry would fail the schema (e.g. a classification with an empty label list, which happens
/// when a threshold filters out every label), so the publisher skips it and counts it under
/// conversion_skip_name(). Mapping: kClassification and kClipClassification -> kind
/// classification with the entry's mode, kCaption -> kind caption with mode "caption";
/// segment times are the PTS in seconds (0 when GST_CLOCK_TIME_NONE); frame ids are the
/// segment's frame numbers; metrics from the timing record (inference_seconds is not on the
/// wire). kEvent -> kind event (wire format 1.1) with the entry's mode (the embedding's that
/// scored the rule) and the event record; its segment is the event's own, not the entry's:
/// start_pts to end_pts on an end, to the deciding sample's pts on a start, with start_frame
/// and frame as frame ids; the record's stream_id is not on the wire (sensor_id is the
/// stream's, as for every kind). Negative times, token counts and batch sizes are written as 0;
/// `now` becomes the timestamp. Pure function; thread-safe.
std::optional<sinks::FrameResult> to_frame_result(const ResultEntry& entry,
                                                  const StreamInfo& stream,
                                                  std::chrono::system_clock::time_point now);

/// The embedding message (kind embedding, wire format 1.1) of a sampled frame: the image
/// embedding a kClassification entry carries, with the entry's ids, times, model and mode, as
/// to_frame_result() fills them. std::nullopt when the entry is not a kClassification with an
/// embedding, or would not convert (check_convertible(); its labels do not matter here). Pure
/// function; thread-safe.
std::optional<sinks::FrameResult> to_embedding_result(const ResultEntry& entry,
                                                      const StreamInfo& stream,
                                                      std::chrono::system_clock::time_point now);

}  // namespace ivs::pipeline
