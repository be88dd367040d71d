// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/events_api.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "pipeline/service/rest_api.h"

namespace ivs::service {
namespace {

using Json = nlohmann::json;
constexpr const char* kEventsPath = "/api/v1/events/";

Json seconds_or_null(uint64_t ns) {
  if (ns == pipeline::kNoClockTime) return nullptr;
  return static_cast<double>(ns) / 1e9;
}

// Event ids are made of these (internvlalert's file_safe); anything else is no event of ours.
bool plausible_event_id(const std::string& id) {
  return !id.empty() && id.size() <= 512 && id.find_first_not_of('.') != std::string::npos &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == '.';
         });
}

// A non-negative integer query value, or a 400 naming the parameter.
std::optional<uint64_t> unsigned_parameter(const std::map<std::string, std::string>& query,
                                           const std::string& name, sinks::HttpResponse& error) {
  const auto found = query.find(name);
  if (found == query.end()) return std::nullopt;
  const std::string& text = found->second;
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    error = error_response(400, name + " must be a non-negative integer; got '" + text + "'");
    return std::nullopt;
  }
  return std::stoull(text);
}

sinks::HttpResponse file_response(const std::string& path, const char* content_type) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return error_response(404, "the file is gone (deleted by recording.max_disk_gb?)");
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return {200, content_type, bytes.str(), {{"Cache-Control", "max-age=3600"}}};
}

}  // namespace

std::string snapshot_url(const std::string& event_id) {
  return kEventsPath + event_id + "/snapshot.jpg";
}

Json event_json(const LoggedEvent& logged, const EventLog& log) {
  const pipeline::AlertEvent& e = logged.event;
  Json clip = nullptr;
  if (!logged.clip.empty() && log.clip_of(e.id)) clip = kEventsPath + e.id + "/clip.mp4";
  Json snapshot = nullptr;
  if (!e.snapshot_path.empty() && log.snapshot_of(e.id)) snapshot = snapshot_url(e.id);
  return {{"seq", logged.seq},
          {"id", e.id},
          {"stream", e.stream_id},
          {"rule", e.rule},
          {"prompt", e.prompt},
          {"state", pipeline::alert_state_name(e.state)},
          {"start_time", seconds_or_null(e.start_pts)},
          {"end_time", seconds_or_null(e.end_pts)},
          {"time", seconds_or_null(e.pts)},
          {"probability", e.probability},
          {"peak_probability", e.peak_probability},
          {"received_at", logged.received_unix_seconds},
          {"snapshot_url", snapshot},
          {"clip_url", clip}};
}

sinks::HttpResponse events_response(const EventLog& log,
                                    const std::map<std::string, std::string>& query) {
  for (const auto& [key, value] : query) {
    if (key != "stream" && key != "since" && key != "limit")
      return error_response(400, "unknown parameter '" + key + "' (stream, since, limit)");
  }
  sinks::HttpResponse error{0, "", "", {}};
  const auto since = unsigned_parameter(query, "since", error);
  const auto limit = unsigned_parameter(query, "limit", error);
  if (error.status != 0) return error;
  if (limit && (*limit == 0 || *limit > kMaxEventLimit)) {
    return error_response(400, "limit must be 1 to " + std::to_string(kMaxEventLimit));
  }
  const auto stream = query.find("stream");
  Json list = Json::array();
  for (const auto& logged : log.recent(stream == query.end() ? "" : stream->second, since,
                                       limit.value_or(kDefaultEventLimit))) {
    list.push_back(event_json(logged, log));
  }
  // `next`: what to pass as `since` for the events after these.
  const uint64_t next =
      list.empty() ? since.value_or(log.last_seq()) : list.back()["seq"].get<uint64_t>();
  return {
      200,
      "application/json",
      Json{{"events", list}, {"next", next}}.dump(2, ' ', false, Json::error_handler_t::replace) +
          "\n",
      {}};
}

sinks::HttpResponse event_file_response(const EventLog& log, const std::string& rest) {
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string file = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!plausible_event_id(id) || (file != "snapshot.jpg" && file != "clip.mp4")) {
    return error_response(404, "no such path: " + std::string(kEventsPath) + rest +
                                   " (use /api/v1/events/{id}/snapshot.jpg or clip.mp4)");
  }
  if (file == "snapshot.jpg") {
    const auto path = log.snapshot_of(id);
    if (!path)
      return error_response(404, "no snapshot of event '" + id +
                                     "' (not a recent event, "
                                     "or recordings_dir is not set)");
    return file_response(*path, "image/jpeg");
  }
  const auto path = log.clip_of(id);
  if (!path) {
    return error_response(404, "no clip of event '" + id +
                                   "': not a recent event, not complete yet (it ends "
                                   "post_roll_seconds after the event), or not H.264/H.265");
  }
  return file_response(*path, "video/mp4");
}

}  // namespace ivs::service
