// SPDX-License-Identifier: Apache-2.0
// The versioned wire format (sinks/README.md, "Wire format"): the only place FrameResult becomes
// bytes.
#pragma once

#include <chrono>
#include <optional>
#include <ctime>
#include <string>

#include "sinks/frame_result.h"

namespace ivs::sinks {

/// Wire-format versions. 1.1 adds kind event (with its `event` object) and kind embedding (with
/// its `embedding` object) and changes nothing else.
inline constexpr const char* kResultVersion10 = "1.0";
inline constexpr const char* kResultVersion11 = "1.1";

/// The version a message of `result` carries: the oldest that describes it, so consumers of
/// 1.0 keep reading classifications and captions unchanged. "1.1" for kinds event and
/// embedding, else "1.0".
const char* result_version(const FrameResult& result);

/// One JSON object, UTF-8, no newline, of version result_version(). `timestamp` as RFC 3339 UTC
/// with milliseconds ("2026-11-28T20:01:00.123Z", truncated to the millisecond); `caption` is
/// null for classifications and events and `classification` an empty array for captions and
/// events, whatever the struct holds; `event` is written for kind event only (null when the
/// struct has none), and its `end_time` and `clip_path` only when its state is end; `embedding`
/// ({"dim": n, "vector": [n numbers rounded to 6 decimals]}) for kind embedding only; `source` is
/// always present ("" when unknown). Invalid UTF-8 in strings is replaced by U+FFFD; non-finite
/// numbers are written as 0 and confidences and probabilities clamped to [0, 1]. Never throws
/// for a well-formed FrameResult; thread-safe (pure function).
std::string result_to_json(const FrameResult& result);

/// Parses a message back (for subscribers and tests). As strict as the JSON Schema
/// (sinks/schema/internvl-result-1.1.schema.json, which also accepts every 1.0 message):
/// unknown keys, wrong types, out-of-range values and kind-inconsistent classification, caption
/// and event fields are rejected; a message of kind event must be version "1.1" with an `event`
/// object, one of kind embedding version "1.1" with an `embedding` object whose vector has dim
/// values in [-1, 1], and a 1.0 message carries neither. Throws std::invalid_argument naming the
/// field when the text is not a valid message of a supported version ("1.0", "1.1").
FrameResult result_from_json(const std::string& text);

/// The wire format's time text: RFC 3339 UTC with milliseconds, truncated
/// ("2026-11-28T20:01:00.123Z"). Also the time text of search answers (CLI and REST), which
/// sinks/index/query_params.h parses back. Thread-safe.
std::string format_timestamp(std::chrono::system_clock::time_point when);

/// timegm for a UTC calendar time, or nullopt when a field is out of range (Feb 30, hour 24):
/// timegm itself would quietly normalise it to another date.
std::optional<std::time_t> checked_timegm(std::tm tm);

/// The ZeroMQ topic frame: "<prefix><kind>/<sensor_id>", e.g. "classification/cam01".
std::string result_topic(const FrameResult& result, const std::string& prefix = "");

}  // namespace ivs::sinks
