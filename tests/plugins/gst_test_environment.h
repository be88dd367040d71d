// SPDX-License-Identifier: Apache-2.0
// Shared by the element tests: GStreamer is initialised and the internvl elements are
// registered statically once per process (by a global test environment), plus builders for
// buffers carrying InternVLResultMeta.
#pragma once

#include <gst/gst.h>

#include <string>
#include <utility>
#include <vector>

#include "pipeline/engine/result_records.h"

namespace ivs::test {

/// A classification entry with the given (label, confidence) pairs, best first.
pipeline::ResultEntry classification_entry(
    const std::vector<std::pair<std::string, double>>& labels);

/// A caption entry with `text`.
pipeline::ResultEntry caption_entry(const std::string& text);

/// An alert event entry as internvlalert attaches it: rule "person" of event "cam01-person-1",
/// started at 1 s (frame 30); a start decided at 1.5 s (frame 45), an end at 3 s (frame 90)
/// with a clip.
pipeline::ResultEntry event_entry(pipeline::AlertState state);

/// An ERROR message's text as the tests report it: "message | debug details".
std::string error_text(GstMessage* error);

/// Parses `description` (gst-launch syntax), plays it to EOS (at most `timeout_seconds`) and
/// stops it; returns "" at EOS, else the error's message (or "timeout", "parse: ...").
std::string run_to_eos(const std::string& description, int timeout_seconds = 300);

/// Appends `entries` to the buffer's InternVLResultMeta (adding the meta). `buffer` must be writable.
void add_entries(GstBuffer* buffer, const std::vector<pipeline::ResultEntry>& entries);

}  // namespace ivs::test
