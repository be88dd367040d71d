// SPDX-License-Identifier: Apache-2.0
#include "pipeline/event_context.h"

#include <utility>

#include "pipeline/context_lookup.h"

namespace ivs::pipeline {

std::shared_ptr<EventChannel> acquire_event_channel(GstElement* element) {
  std::shared_ptr<EventChannel> channel;
  if (find_shared_context(element, kEventsContextType, [&](const GstContext* context) {
        channel = std::static_pointer_cast<EventChannel>(
            shared_object_in_context(context, kEventsContextType));
        return channel != nullptr;
      })) {
    return channel;
  }
  channel = std::make_shared<EventChannel>();
  announce_context(element, event_context_new(channel));
  return channel;
}

GstContext* event_context_new(std::shared_ptr<EventChannel> channel) {
  return shared_object_context_new(kEventsContextType, std::move(channel));
}

bool handle_event_context_query(GstElement* element, GstQuery* query) {
  return answer_context_query(element, query, kEventsContextType);
}

}  // namespace ivs::pipeline
