// SPDX-License-Identifier: Apache-2.0
// The versioned wire format (sinks/README.md, "Wire format"): the only place FrameResult becomes
// bytes.
#pragma once

#include <string>

#include "sinks/frame_result.h"

namespace ivs::sinks {

/// Current wire-format version, "1.0".
inline constexpr const char* kResultSchemaVersion = "1.0";

/// One JSON object, UTF-8, no newline. `timestamp` as RFC 3339 UTC with milliseconds
/// ("2026-11-28T20:01:00.123Z", truncated to the millisecond); `caption` is null for
/// classifications and `classification` an empty array for captions, whatever the struct
/// holds; `source` is always present ("" when unknown). Invalid UTF-8 in strings is replaced
/// by U+FFFD; non-finite numbers are written as 0 and confidences clamped to [0, 1]. Never throws
/// for a well-formed FrameResult; thread-safe (pure function).
std::string result_to_json(const FrameResult& result);

/// Parses a message back (for subscribers and tests). As strict as the JSON Schema
/// (sinks/schema/internvl-result-1.0.schema.json): unknown keys, wrong types, out-of-range
/// values and kind-inconsistent classification/caption fields are rejected. Throws
/// std::invalid_argument naming the field when the text is not a valid message of a supported
/// version (only "1.0" today).
FrameResult result_from_json(const std::string& text);

/// The ZeroMQ topic frame: "<prefix><kind>/<sensor_id>", e.g. "classification/cam01".
std::string result_topic(const FrameResult& result, const std::string& prefix = "");

}  // namespace ivs::sinks
