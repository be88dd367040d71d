// SPDX-License-Identifier: Apache-2.0
// The pipeline's alert-event channel (pipeline/alerts/event_channel.h), shared between elements
// through a GstContext of type "internvl.events", found and announced like the metrics hub: the
// first element that asks creates it, the others (in any branch) find it, and an application
// (the service) may set one on the pipeline to see every stream's events.
#pragma once

#include <gst/gst.h>

#include <memory>

#include "pipeline/alerts/event_channel.h"

namespace ivs::pipeline {

inline constexpr const char* kEventsContextType = "internvl.events";

/// The pipeline's channel: found through the "internvl.events" context or created and announced.
/// Call from a state change (start()).
std::shared_ptr<EventChannel> acquire_event_channel(GstElement* element);

/// A context holding `channel` (transfer full), for an application to set on a pipeline.
GstContext* event_context_new(std::shared_ptr<EventChannel> channel);

/// Answers a context query for "internvl.events" with the element's own context.
bool handle_event_context_query(GstElement* element, GstQuery* query);

}  // namespace ivs::pipeline
