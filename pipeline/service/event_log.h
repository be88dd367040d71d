// SPDX-License-Identifier: Apache-2.0
// The recent alert events of every stream, for GET /api/v1/events and the status page: a
// bounded ring filled from the streams' buses, and the clips and snapshots those events name,
// so that the REST API serves only files the service itself recorded. It also keeps the clips
// within recording.max_disk_gb, all streams together.
//
// Fed by a bus sync handler (watch()): the element messages `internvl-alert` (internvlalert)
// and `internvl-recording` (internvlrecord, a clip complete) are read on the thread that posts
// them, so that the last events and clips of a pipeline being torn down (end of a file, a
// restart) are not lost with its bus watch. Thread-safe; nothing in it blocks for long (a clip
// over the disk cap is deleted on the recording's finishing thread, never a streaming thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gst/gst.h>

#include "pipeline/alerts/alert_event.h"
#include "pipeline/alerts/disk_budget.h"

namespace ivs::service {

/// One start or end, as it arrived.
struct LoggedEvent {
  uint64_t seq = 0;  // 1, 2, ... in arrival order, per process: GET /api/v1/events?since=
  pipeline::AlertEvent event;
  double received_unix_seconds = 0.0;  // wall clock when the service got it
  std::string clip;  // the complete clip of event.id; "" until internvlrecord finished it
};

class EventLog {
 public:
  static constexpr size_t kDefaultCapacity = 1000;

  /// `recordings_dir`: the only folder whose files are served (empty: none); `max_clip_bytes`:
  /// the disk cap of the clips completed since the service started (0: none); `now`: the wall
  /// clock in Unix seconds (injected for tests).
  EventLog(std::string recordings_dir, uint64_t max_clip_bytes, size_t capacity = kDefaultCapacity,
           std::function<double()> now = nullptr);

  /// Appends an event; the oldest is forgotten past the capacity.
  void add(const pipeline::AlertEvent& event);

  /// A clip of `event_id` is complete at `path` (`bytes` long). Clips that take the total over
  /// the cap are deleted, oldest first, and no longer served.
  void note_clip(const std::string& event_id, const std::string& path, uint64_t bytes);

  /// Events of `stream` (every stream when empty), oldest first. With `since` (a seq), the first
  /// `limit` after it, so that a client following the last seq misses nothing; without, the
  /// newest `limit`.
  std::vector<LoggedEvent> recent(const std::string& stream, std::optional<uint64_t> since,
                                  size_t limit) const;
  uint64_t last_seq() const;

  /// The snapshot and the complete clip of an event still in the log, when the files are under
  /// recordings_dir and exist; nullopt otherwise.
  std::optional<std::string> snapshot_of(const std::string& event_id) const;
  std::optional<std::string> clip_of(const std::string& event_id) const;

  /// Reads `message` when it is one of the two element messages; returns whether it was.
  bool handle(GstMessage* message);

  /// Feeds `log` from `pipeline`'s bus (a sync handler that keeps `log` alive as long as the
  /// bus). The bus must have no sync handler yet.
  static void watch(GstElement* pipeline, const std::shared_ptr<EventLog>& log);

 private:
  std::optional<std::string> served(const std::string& path) const;

  const std::string recordings_dir_;
  const size_t capacity_;
  const std::function<double()> now_;
  mutable std::mutex lock_;
  std::deque<LoggedEvent> events_;  // oldest first
  uint64_t next_seq_ = 1;
  pipeline::DiskBudget budget_;
};

}  // namespace ivs::service
