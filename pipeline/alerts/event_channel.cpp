// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/event_channel.h"

#include <algorithm>
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

void EventChannel::note_clip(const std::string& event_id, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (clips_.emplace(event_id, path).second) clip_order_.push_back(event_id);
  while (clip_order_.size() > kMaxClipNotes) {
    clips_.erase(clip_order_.front());
    clip_order_.pop_front();
  }
}

std::string EventChannel::clip_of(const std::string& event_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = clips_.find(event_id);
  if (it == clips_.end()) return "";
  std::string path = std::move(it->second);
  clips_.erase(it);
  clip_order_.erase(std::find(clip_order_.begin(), clip_order_.end(), event_id));
  return path;
}

void EventChannel::publisher_started(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++publishers_[stream_id];
}

void EventChannel::publisher_finished(const std::string& stream_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = publishers_.find(stream_id);
    if (it == publishers_.end()) return;
    if (--it->second <= 0) {
      publishers_.erase(it);
      progress_.erase(stream_id);
    }
  }
  publishers_changed_.notify_all();
}

bool EventChannel::wait_for_publishers(const std::string& stream_id,
                                       std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return publishers_changed_.wait_for(lock, timeout,
                                      [&] { return publishers_.count(stream_id) == 0; });
}

void EventChannel::note_progress(const std::string& stream_id, uint64_t pts) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t& progress = progress_[stream_id];
    if (pts <= progress) return;
    progress = pts;
  }
  publishers_changed_.notify_all();
}

bool EventChannel::wait_for_progress(const std::string& stream_id, uint64_t pts,
                                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return publishers_changed_.wait_for(lock, timeout, [&] {
    if (publishers_.count(stream_id) == 0) return true;
    auto it = progress_.find(stream_id);
    return it != progress_.end() && it->second >= pts;
  });
}

}  // namespace ivs::pipeline
