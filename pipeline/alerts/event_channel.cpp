// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/event_channel.h"

#include <utility>
#include <vector>

namespace ivs::pipeline {

const char* alert_state_name(AlertState state) {
  return state == AlertState::kStart ? "start" : "end";
}

uint64_t EventChannel::subscribe(const std::string& stream_id, Listener listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t id = next_id_++;
  subscriptions_[id] = Subscription{stream_id, std::move(listener)};
  return id;
}

void EventChannel::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  subscriptions_.erase(id);
}

void EventChannel::publish(const AlertEvent& event) {
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, subscription] : subscriptions_) {
      if (subscription.stream_id == event.stream_id) listeners.push_back(subscription.listener);
    }
  }
  // Outside the lock: a listener may subscribe or unsubscribe.
  for (const auto& listener : listeners) listener(event);
}

}  // namespace ivs::pipeline
