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

/// Appends `entries` to the buffer's InternVLResultMeta (adding the meta). `buffer` must be writable.
void add_entries(GstBuffer* buffer, const std::vector<pipeline::ResultEntry>& entries);

}  // namespace ivs::test
