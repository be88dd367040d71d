// SPDX-License-Identifier: Apache-2.0
// The REST API's view of the event log (configs/README.md, "Alerts"):
//   GET /api/v1/events?stream=&since=&limit=   recent starts and ends, oldest first
//   GET /api/v1/events/{id}/snapshot.jpg       the JPEG of the frame that started the event
//   GET /api/v1/events/{id}/clip.mp4           its MP4 clip, once complete
// `since` is an event's `seq` (per process, from 1): the events after it; without it the newest.
// `limit`: kDefaultEventLimit, at most kMaxEventLimit. Files are served only for events in the
// log and only from recordings_dir (EventLog::snapshot_of, clip_of).
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/service/event_log.h"
#include "sinks/http/http_server.h"

namespace ivs::service {

inline constexpr size_t kDefaultEventLimit = 100;
inline constexpr size_t kMaxEventLimit = EventLog::kDefaultCapacity;

/// One logged event as JSON: seq, id, stream, rule, prompt, state, start_time, end_time, time
/// (stream time in seconds; null when unknown), probability, peak_probability, received_at (Unix
/// seconds), snapshot_url and clip_url (null until there is a file to serve).
nlohmann::json event_json(const LoggedEvent& logged, const EventLog& log);

/// GET /api/v1/events with its query; 400 naming a bad parameter.
sinks::HttpResponse events_response(const EventLog& log,
                                    const std::map<std::string, std::string>& query);

/// GET /api/v1/events/{rest}: "{id}/snapshot.jpg" or "{id}/clip.mp4"; 404 for anything else.
sinks::HttpResponse event_file_response(const EventLog& log, const std::string& rest);

/// The URL of an event's snapshot (for the status page and event_json).
std::string snapshot_url(const std::string& event_id);

}  // namespace ivs::service
