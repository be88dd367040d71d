// SPDX-License-Identifier: Apache-2.0
// The "internvl-sampling" query: how internvlkeyframes, in front of a decoder, learns how often
// the InternVL elements behind the decoder sample frames. It is a custom query sent downstream
// from the keyframes element's source pad; decoders, queues and converters forward it (it is
// not serialized, so a queue answers it at once). Each InternVL element that samples frames
// adds its need and forwards it, so a chain of classify and caption is summed up in one query.
#pragma once

#include <gst/gst.h>

#include "pipeline/keyframe_filter.h"

namespace ivs::pipeline {

/// A new, empty query (no consumer yet). Unref it after use.
GstQuery* new_sampling_query();

/// Whether `query` is the sampling query.
bool is_sampling_query(GstQuery* query);

/// Adds one consumer's need to `query`: time-based sampling at `selection_fps` (> 0), or,
/// when it is 0, frame counting (`interval`) or every frame, both of which need every frame.
void add_sampling_need(GstQuery* query, double selection_fps);

/// What the consumers that answered `query` need.
SamplingNeed read_sampling_need(GstQuery* query);

/// What a consumer's sink pad does with the query: adds its need, forwards it downstream
/// (more consumers may follow) and answers TRUE whatever they say.
gboolean answer_sampling_query(GstPad* sinkpad, GstObject* parent, GstQuery* query,
                               double selection_fps);

}  // namespace ivs::pipeline
