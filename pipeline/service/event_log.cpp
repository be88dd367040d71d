// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/event_log.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

namespace ivs::service {
namespace {

namespace fs = std::filesystem;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string string_field(const GstStructure* s, const char* name) {
  const gchar* value = gst_structure_get_string(s, name);
  return value != nullptr ? value : "";
}

uint64_t time_field(const GstStructure* s, const char* name) {
  guint64 value = GST_CLOCK_TIME_NONE;
  gst_structure_get_uint64(s, name, &value);
  return value;
}

// internvlalert's `internvl-alert` message (gstinternvlalert.cpp documents its fields).
pipeline::AlertEvent event_from(const GstStructure* s) {
  pipeline::AlertEvent event;
  event.id = string_field(s, "id");
  event.stream_id = string_field(s, "stream-id");
  event.rule = string_field(s, "rule");
  event.prompt = string_field(s, "prompt");
  event.state =
      string_field(s, "state") == "end" ? pipeline::AlertState::kEnd : pipeline::AlertState::kStart;
  event.start_pts = time_field(s, "start-time");
  event.end_pts = time_field(s, "end-time");
  event.pts = time_field(s, "time");
  gst_structure_get_double(s, "probability", &event.probability);
  gst_structure_get_double(s, "peak-probability", &event.peak_probability);
  event.snapshot_path = string_field(s, "snapshot");
  event.clip_path = string_field(s, "clip");
  return event;
}

GstBusSyncReply on_sync_message(GstBus* /*bus*/, GstMessage* message, gpointer log_pointer) {
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT)
    (*static_cast<std::shared_ptr<EventLog>*>(log_pointer))->handle(message);
  return GST_BUS_PASS;
}

void release_log(gpointer log_pointer) {
  delete static_cast<std::shared_ptr<EventLog>*>(log_pointer);
}

}  // namespace

EventLog::EventLog(std::string recordings_dir, uint64_t max_clip_bytes, size_t capacity,
                   std::function<double()> now)
    : recordings_dir_(recordings_dir.empty()
                          ? ""
                          : fs::path(std::move(recordings_dir)).lexically_normal().string()),
      capacity_(std::max<size_t>(1, capacity)),
      now_(now ? std::move(now) : std::function<double()>(&unix_now)),
      budget_(max_clip_bytes) {}

void EventLog::add(const pipeline::AlertEvent& event) {
  const double received = now_();
  std::lock_guard<std::mutex> guard(lock_);
  events_.push_back(LoggedEvent{next_seq_++, event, received, ""});
  if (events_.size() > capacity_) events_.pop_front();
}

void EventLog::note_clip(const std::string& event_id, const std::string& path, uint64_t bytes) {
  std::vector<std::string> doomed;
  {
    std::lock_guard<std::mutex> guard(lock_);
    for (auto& logged : events_) {
      if (logged.event.id == event_id) logged.clip = path;
    }
    doomed = budget_.add(path, bytes);
    for (auto& logged : events_) {
      if (std::find(doomed.begin(), doomed.end(), logged.clip) != doomed.end()) logged.clip.clear();
    }
  }
  for (const auto& path_to_delete : doomed) {
    std::error_code error;
    if (!fs::remove(path_to_delete, error) && error) {
      g_warning("could not delete the clip %s (recording.max_disk_gb): %s", path_to_delete.c_str(),
                error.message().c_str());
    }
  }
}

std::vector<LoggedEvent> EventLog::recent(const std::string& stream, std::optional<uint64_t> since,
                                          size_t limit) const {
  std::lock_guard<std::mutex> guard(lock_);
  std::vector<LoggedEvent> out;
  auto wanted = [&](const LoggedEvent& e) {
    return (stream.empty() || e.event.stream_id == stream) && (!since || e.seq > *since);
  };
  if (since) {
    for (auto it = events_.begin(); it != events_.end() && out.size() < limit; ++it)
      if (wanted(*it)) out.push_back(*it);
  } else {
    for (auto it = events_.rbegin(); it != events_.rend() && out.size() < limit; ++it)
      if (wanted(*it)) out.push_back(*it);
    std::reverse(out.begin(), out.end());
  }
  return out;
}

uint64_t EventLog::last_seq() const {
  std::lock_guard<std::mutex> guard(lock_);
  return next_seq_ - 1;
}

std::optional<std::string> EventLog::snapshot_of(const std::string& event_id) const {
  std::string path;
  {
    std::lock_guard<std::mutex> guard(lock_);
    for (const auto& logged : events_) {
      if (logged.event.id == event_id && !logged.event.snapshot_path.empty())
        path = logged.event.snapshot_path;
    }
  }
  return served(path);
}

std::optional<std::string> EventLog::clip_of(const std::string& event_id) const {
  std::string path;
  {
    std::lock_guard<std::mutex> guard(lock_);
    for (const auto& logged : events_) {
      if (logged.event.id == event_id && !logged.clip.empty()) path = logged.clip;
    }
  }
  return served(path);
}

// Only regular files inside recordings_dir: the paths come from our own elements, configured
// with that folder, and this holds even if a message claimed otherwise.
std::optional<std::string> EventLog::served(const std::string& path) const {
  if (path.empty() || recordings_dir_.empty()) return std::nullopt;
  const fs::path normal = fs::path(path).lexically_normal();
  const fs::path relative = normal.lexically_relative(recordings_dir_);
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  std::error_code error;
  if (!fs::is_regular_file(normal, error)) return std::nullopt;
  return normal.string();
}

bool EventLog::handle(GstMessage* message) {
  const GstStructure* s = gst_message_get_structure(message);
  if (s == nullptr) return false;
  if (gst_structure_has_name(s, "internvl-alert")) {
    add(event_from(s));
    return true;
  }
  if (gst_structure_has_name(s, "internvl-recording")) {
    guint64 bytes = 0;
    gst_structure_get_uint64(s, "bytes", &bytes);
    note_clip(string_field(s, "event-id"), string_field(s, "path"), bytes);
    return true;
  }
  return false;
}

void EventLog::watch(GstElement* pipeline, const std::shared_ptr<EventLog>& log) {
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, &on_sync_message, new std::shared_ptr<EventLog>(log), &release_log);
  gst_object_unref(bus);
}

}  // namespace ivs::service
