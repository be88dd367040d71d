// SPDX-License-Identifier: Apache-2.0
// Sharing Engines between elements through a GstContext of type
// "internvl.engine", the way GStreamer shares GL and CUDA contexts: an element
// looks at the context it was given, asks its peers (GST_QUERY_CONTEXT), asks
// the bin and the application (NEED_CONTEXT) and, when nobody has a matching
// engine, creates one and announces it (HAVE_CONTEXT) so that the pipeline
// caches it for every later element. One context holds every engine known to
// the pipeline (several models or devices may be in use at once), so announcing
// a new engine never hides an older one.
//
// An application that owns engines (the service) puts them in a context and
// sets it on the pipeline before starting it:
//   GstContext* context = ivs::pipeline::engine_context_new({engine});
//   gst_element_set_context(pipeline, context);
//   gst_context_unref(context);
#pragma once

#include <memory>
#include <vector>

#include <gst/gst.h>

#include "pipeline/engine/engine.h"

namespace ivs::pipeline {

inline constexpr const char* kEngineContextType = "internvl.engine";

/// A new persistent context holding `engines` (each kept alive while the
/// context lives). Transfer full: the caller owns the returned reference.
GstContext* engine_context_new(const std::vector<std::shared_ptr<Engine>>& engines);

/// Every engine in `context`; empty when it is null or of another type.
std::vector<std::shared_ptr<Engine>> engines_in_context(const GstContext* context);

/// The engine in `context` whose canonical key equals `key`'s
/// (Engine::canonical_key), or null. Elements call this from their set_context
/// vfunc (and must chain up to the parent's set_context, which stores the
/// context for acquire_engine). Throws model::InputError on a bad device or
/// dtype in `key`.
std::shared_ptr<Engine> engine_from_context(const GstContext* context, const EngineKey& key);

/// The engine for `key` for `element`, shared with every element of its
/// pipeline: found through the context dance described above, or created
/// (Engine::create) and announced. Call it from start() or a state change, not
/// with the element's object lock held. Throws what Engine::create throws. Two
/// elements racing through this for the same new key may create two engines;
/// elements of one pipeline start one after another, so in practice they do
/// not.
std::shared_ptr<Engine> acquire_engine(GstElement* element, const EngineKey& key,
                                       const EngineOptions& options);

/// Answers a GST_QUERY_CONTEXT of type "internvl.engine" from `element`'s own
/// context. Elements call it from their pad query functions; returns whether
/// the query was answered.
bool handle_engine_context_query(GstElement* element, GstQuery* query);

}  // namespace ivs::pipeline
