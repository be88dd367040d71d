// SPDX-License-Identifier: Apache-2.0
// The GStreamer context-sharing lookup used for our shared objects (the engine, the metrics hub),
// done the way GStreamer's GL and CUDA helpers do it.
#pragma once

#include <functional>
#include <memory>

#include <gst/gst.h>

namespace ivs::pipeline {

/// Looks for a context of `type` that `accepts` (called on every candidate; it may record what
/// it sees): the element's own context, then a GST_QUERY_CONTEXT to the peers downstream and
/// upstream (an accepted answer is set on the element), then a NEED_CONTEXT message that the bin
/// (from its cache) or the application's sync bus handler may answer by setting a context on the
/// element. Returns true when an accepted context was found. Call from the element's thread that
/// is changing state (start()); takes no element locks.
bool find_shared_context(GstElement* element, const char* type,
                         const std::function<bool(const GstContext*)>& accepts);

/// Sets `context` on the element and posts HAVE_CONTEXT so the pipeline caches it and elements
/// added later receive it. Takes ownership of `context`.
void announce_context(GstElement* element, GstContext* context);

/// Answers a GST_QUERY_CONTEXT for `type` with the element's own context of that type, so that
/// peers asking find what this element already holds. False when the query is of another kind or
/// type, or the element holds no such context.
bool answer_context_query(GstElement* element, GstQuery* query, const char* type);

/// A new persistent context of `type` holding a reference to `object` (any C++ object shared
/// through GStreamer: the metrics hub, the sink pool). Transfer full.
GstContext* shared_object_context_new(const char* type, std::shared_ptr<void> object);

/// The object a shared_object_context_new() context of `type` holds; null when `context` is
/// null, of another type or holds nothing. The caller knows the object's C++ type from `type`.
std::shared_ptr<void> shared_object_in_context(const GstContext* context, const char* type);

}  // namespace ivs::pipeline
