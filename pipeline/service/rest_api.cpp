// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/rest_api.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "pipeline/service/alerts_config.h"
#include "pipeline/service/events_api.h"
#include "pipeline/service/status_page.h"

namespace ivs::service {
namespace {

using sinks::HttpRequest;
using sinks::HttpResponse;
using Json = nlohmann::json;

constexpr const char* kApiPrefix = "/api/v1/streams";
constexpr const char* kEventsPrefix = "/api/v1/events";
constexpr const char* kSearchPath = "/api/v1/search";
constexpr std::chrono::seconds kLoopWait{10};
constexpr size_t kStatusPageEvents = 20;  // the newest, on the status page

HttpResponse json_response(int status, const Json& body) {
  // Replace, not throw, on invalid UTF-8 (a label file in another encoding, a GStreamer message).
  return {status,
          "application/json",
          body.dump(2, ' ', false, Json::error_handler_t::replace) + "\n",
          {}};
}

Json to_json(const std::vector<pipeline::ClassificationRecord>& records) {
  Json out = Json::array();
  for (const auto& record : records) {
    out.push_back({{"label", record.label},
                   {"label_id", record.label_id},
                   {"confidence", record.confidence}});
  }
  return out;
}

Json to_json(const StreamStatus& s) {
  Json body{{"id", s.id},
            {"uri", s.uri},
            {"state", stream_state_name(s.state)},
            {"live", s.live},
            {"decode", s.decode},
            {"decoder", s.decoder},
            {"decode_frames", pipeline::decode_frames_name(s.decode_frames)},
            {"decoding", pipeline::decode_frames_name(s.decoding)},
            {"gop_seconds", s.gop_seconds ? Json(*s.gop_seconds) : Json(nullptr)},
            {"frames", s.frames},
            {"frames_received", s.frames_received},
            {"frames_decoded", s.frames_decoded},
            {"frames_dropped", s.frames_dropped},
            {"fps", s.fps},
            {"restarts", s.restarts},
            {"last_error", s.last_error},
            {"labels", s.labels},
            {"labels_file", s.labels_file},
            {"latest",
             {{"classification", to_json(s.latest_labels)},
              {"clip_classification", to_json(s.latest_clip_labels)},
              {"caption", s.latest_caption}}}};
  if (s.state == StreamState::kBackoff) body["restart_in_seconds"] = s.restart_in_seconds;
  return body;
}

// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |=
        static_cast<unsigned char>(given[i] ^ expected[i % std::max<size_t>(1, expected.size())]);
  }
  return difference == 0;
}

// The JSON body, or an error response naming what is wrong with it.
std::optional<Json> parse_json_body(const HttpRequest& request, HttpResponse& error) {
  try {
    return Json::parse(request.body);
  } catch (const Json::parse_error& e) {
    error = error_response(400, std::string("request body is not valid JSON: ") + e.what());
    return std::nullopt;
  }
}

// A DNS-rebinding page reaches a loopback server under its own host name; a client of ours
// names the loopback address.
std::optional<HttpResponse> refuse_host(const HttpRequest& request,
                                        const std::vector<std::string>& allowed) {
  if (allowed.empty()) return std::nullopt;
  const std::string host = config::ascii_lower(request.header("host"));
  if (std::find(allowed.begin(), allowed.end(), host) != allowed.end()) return std::nullopt;
  return error_response(421, "Host '" + host +
                                 "' is not this server: on a loopback address (http.listen) "
                                 "requests must name one of " +
                                 config::join(allowed));
}

// POST and PUT carry a body; requiring a media type a browser cannot send cross-site without
// a (never granted) CORS preflight stops forged requests from web pages.
std::optional<HttpResponse> refuse_content_type(const HttpRequest& request) {
  if (request.method != "POST" && request.method != "PUT") return std::nullopt;
  std::string type = config::ascii_lower(request.header("content-type"));
  type = type.substr(0, type.find(';'));
  type.erase(type.find_last_not_of(" \t") + 1);
  if (type == "application/json" || type == "application/yaml") return std::nullopt;
  return error_response(415, "Content-Type '" + type +
                                 "' refused: send the body as application/json "
                                 "(alert rules may also be application/yaml)");
}

}  // namespace

std::vector<std::string> loopback_hosts(uint16_t port) {
  const std::string suffix = ":" + std::to_string(port);
  return {"127.0.0.1" + suffix, "localhost" + suffix, "[::1]" + suffix};
}

HttpResponse error_response(int status, const std::string& message) {
  return json_response(status, Json{{"error", message}, {"status", status}});
}

bool run_on_loop(GMainContext* context, std::function<void()> work,
                 std::chrono::milliseconds timeout) {
  struct Job {
    std::function<void()> work;
    std::mutex lock;
    std::condition_variable finished;
    bool done = false;
  };
  auto job = std::make_shared<Job>();
  job->work = std::move(work);
  // An idle source, never g_main_context_invoke: invoke runs the job right here when this
  // thread can acquire the context, i.e. whenever the loop is not running (starting, shutting
  // down), and the job would race the main thread. A source only runs inside the loop.
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(
      source,
      [](gpointer data) -> gboolean {
        auto& running = *static_cast<std::shared_ptr<Job>*>(data);
        try {
          running->work();
        } catch (const std::exception& e) {
          g_warning("REST request failed on the main loop: %s", e.what());
        }
        std::lock_guard<std::mutex> guard(running->lock);
        running->done = true;
        running->finished.notify_all();
        return G_SOURCE_REMOVE;
      },
      new std::shared_ptr<Job>(job),
      [](gpointer data) { delete static_cast<std::shared_ptr<Job>*>(data); });
  g_source_attach(source, context);
  g_source_unref(source);
  std::unique_lock<std::mutex> guard(job->lock);
  return job->finished.wait_for(guard, timeout, [&] { return job->done; });
}

RestApi::RestApi(Supervisor& supervisor, GMainContext* loop,
                 std::shared_ptr<pipeline::MetricsHub> metrics, const ServiceHealth& health,
                 RestAccess access, std::shared_ptr<EventLog> events,
                 std::shared_ptr<SearchApi> search)
    : supervisor_(supervisor),
      loop_(loop),
      metrics_(std::move(metrics)),
      health_(health),
      access_(std::move(access)),
      events_(std::move(events)),
      search_(std::move(search)) {}

HttpResponse RestApi::on_loop(const std::function<HttpResponse()>& work) {
  if (health_.stopping) return error_response(503, "the service is shutting down");
  auto response = std::make_shared<HttpResponse>(
      error_response(500, "the request failed; see the service log"));
  const ServiceHealth* health = &health_;
  const bool answered = run_on_loop(
      loop_,
      [response, work, health] {
        // Checked again on the loop: a request queued just before SIGTERM must not start a
        // stream after the drain began.
        *response = health->stopping ? error_response(503, "the service is shutting down") : work();
      },
      kLoopWait);
  if (!answered) {
    return error_response(
        503,
        "the service did not answer within 10 s (busy starting a stream?); the request "
        "may still be applied: check GET /api/v1/streams before retrying");
  }
  return *response;
}

HttpResponse RestApi::handle(const HttpRequest& request) {
  if (auto refused = refuse_host(request, access_.allowed_hosts)) return *refused;
  const std::string& path = request.path;
  const bool read_only = request.method == "GET" || request.method == "HEAD";
  if (path == "/health/live") {
    if (!read_only) return error_response(405, "use GET");
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    const double since_tick = static_cast<double>(now - health_.last_tick_ns) / 1e9;
    if (health_.last_tick_ns != 0 && since_tick > 30.0) {
      return error_response(503,
                            "the main loop has not run for " + std::to_string(since_tick) + " s");
    }
    return json_response(200, Json{{"status", "live"}});
  }
  if (path == "/health/ready") {
    if (!read_only) return error_response(405, "use GET");
    if (health_.stopping) return error_response(503, "shutting down");
    if (!health_.ready) return error_response(503, "starting: the model is loading");
    return json_response(200, Json{{"status", "ready"}});
  }
  if (path == "/metrics") {
    if (!read_only) return error_response(405, "use GET");
    return sinks::metrics_response(*metrics_->metrics().registry());
  }
  if (path == "/" || path == "/index.html") {
    if (!read_only) return error_response(405, "use GET");
    return status_page(request);
  }
  if (path == kSearchPath || path.rfind(kThumbnailsPath, 0) == 0) {
    if (!read_only) return error_response(405, "use GET");
    return search_request(request);
  }
  if (path == kApiPrefix || path.rfind(std::string(kApiPrefix) + "/", 0) == 0) {
    if (!read_only && !access_.auth_token.empty()) {
      const std::string given = request.header("authorization");
      const std::string prefix = "Bearer ";
      if (given.rfind(prefix, 0) != 0 ||
          !same_secret(given.substr(prefix.size()), access_.auth_token)) {
        HttpResponse denied = error_response(
            401, "this call needs 'Authorization: Bearer <token>' (http.auth_token)");
        denied.headers.emplace_back("WWW-Authenticate", "Bearer");
        return denied;
      }
    }
    if (auto refused = refuse_content_type(request)) return *refused;
    return streams_request(request);
  }
  if (path == kEventsPrefix || path.rfind(std::string(kEventsPrefix) + "/", 0) == 0) {
    if (!read_only) return error_response(405, "use GET");
    return events_request(request);
  }
  return error_response(
      404, "no such path: " + path + " (try /api/v1/streams, /health/ready, /metrics or /)");
}

HttpResponse RestApi::streams_request(const HttpRequest& request) {
  std::string rest = request.path.substr(std::string(kApiPrefix).size());
  if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
  const std::string& method = request.method;

  if (id.empty()) {
    if (method == "GET" || method == "HEAD") {
      return on_loop([this] {
        Json list = Json::array();
        for (const auto& status : supervisor_.statuses()) list.push_back(to_json(status));
        return json_response(200, Json{{"streams", list}});
      });
    }
    if (method == "POST") {
      HttpResponse error;
      const auto body = parse_json_body(request, error);
      if (!body) return error;
      if (!body->is_object())
        return error_response(400, "expected a JSON object with at least 'id' and 'uri'");
      return on_loop([this, text = request.body] {
        try {
          const StreamConfig stream =
              parse_stream_config(text, supervisor_.config(), "request body", StreamSource::kRest);
          supervisor_.add(stream);
          return json_response(201, to_json(*supervisor_.status(stream.id)));
        } catch (const ConfigError& e) {
          const bool conflict =
              std::string(e.what()).find("already exists") != std::string::npos ||
              std::string(e.what()).find("another shard") != std::string::npos ||
              std::string(e.what()).find("limits.max_streams") != std::string::npos;
          return error_response(conflict ? 409 : 400, e.what());
        }
      });
    }
    return error_response(405, "use GET or POST on " + std::string(kApiPrefix));
  }
  if (sub.empty()) {
    if (method == "GET" || method == "HEAD") {
      return on_loop([this, id] {
        const auto status = supervisor_.status(id);
        return status ? json_response(200, to_json(*status))
                      : error_response(404, "no stream '" + id + "'");
      });
    }
    if (method == "DELETE") {
      return on_loop([this, id] {
        return supervisor_.remove(id) ? json_response(200, Json{{"removed", id}})
                                      : error_response(404, "no stream '" + id + "'");
      });
    }
    return error_response(405, "use GET or DELETE on a stream");
  }
  if (sub == "labels") {
    if (method != "PUT") return error_response(405, "use PUT with {\"labels\": [...]}");
    HttpResponse error;
    const auto body = parse_json_body(request, error);
    if (!body) return error;
    std::vector<std::string> labels;
    try {
      if (!body->is_object() || !body->contains("labels") || body->size() != 1) {
        return error_response(
            400,
            "expected {\"labels\": [\"a\", \"b\"]} (label files are named in the config file, "
            "not over REST)");
      }
      labels = body->at("labels").get<std::vector<std::string>>();
      check_labels(labels, supervisor_.config().limits, "labels");
    } catch (const Json::exception& e) {
      return error_response(400, std::string("labels must be a list of strings: ") + e.what());
    } catch (const ConfigError& e) {
      return error_response(400, e.what());
    }
    return on_loop([this, id, labels] {
      try {
        if (!supervisor_.set_labels(id, labels))
          return error_response(404, "no stream '" + id + "'");
        return json_response(200, to_json(*supervisor_.status(id)));
      } catch (const ConfigError& e) {
        return error_response(409, e.what());
      }
    });
  }
  if (sub == "alerts") return alerts_request(request, id);
  if (sub == "latest.jpg") {
    if (method != "GET" && method != "HEAD") return error_response(405, "use GET");
    if (!search_) return error_response(404, "search is off: no stream pictures without it");
    return search_->latest(id);
  }
  return error_response(404, "no such path: " + request.path);
}

HttpResponse RestApi::alerts_request(const HttpRequest& request, const std::string& id) {
  if (request.method == "GET" || request.method == "HEAD") {
    return on_loop([this, id] {
      const auto rules = supervisor_.alerts(id);
      if (!rules) return error_response(404, "no stream '" + id + "'");
      return json_response(200, Json{{"stream", id}, {"alerts", alert_rules_json(*rules)}});
    });
  }
  if (request.method != "PUT") return error_response(405, "use GET, or PUT with a list of rules");
  std::vector<pipeline::AlertRule> rules;
  try {
    rules = parse_alert_rules_body(request.body, "request body");
  } catch (const ConfigError& e) {
    return error_response(400, e.what());
  }
  return on_loop([this, id, rules] {
    try {
      if (!supervisor_.set_alerts(id, rules)) return error_response(404, "no stream '" + id + "'");
      return json_response(200, Json{{"stream", id}, {"alerts", alert_rules_json(rules)}});
    } catch (const ConfigError& e) {
      return error_response(409, e.what());
    }
  });
}

HttpResponse RestApi::events_request(const HttpRequest& request) {
  if (request.path == kEventsPrefix) return events_response(*events_, request.query);
  return event_file_response(*events_, request.path.substr(std::string(kEventsPrefix).size() + 1));
}

HttpResponse RestApi::search_request(const HttpRequest& request) {
  if (!search_) {
    return error_response(
        404, "search is off: add a `search:` section to the config (configs/README.md, Search)");
  }
  if (request.path == kSearchPath) return search_->search(request.query);
  return search_->thumbnail(request.path.substr(std::string(kThumbnailsPath).size()));
}

// The search and the pictures' look-ups run here, on the HTTP thread; only the streams'
// statuses come from the loop.
HttpResponse RestApi::status_page(const HttpRequest& request) {
  auto recent = events_->recent("", std::nullopt, kStatusPageEvents);
  auto streams = std::make_shared<std::vector<StreamStatus>>();
  const HttpResponse got = on_loop([this, streams] {
    *streams = supervisor_.statuses();
    return HttpResponse{};
  });
  if (got.status != 200) return got;
  SearchView search;
  search.enabled = search_ != nullptr;
  if (search_) {
    if (request.query.count("q") != 0) {
      search.query = request.query;
      search.outcome = search_->run(request.query);
    }
    for (const auto& s : *streams) {
      if (const auto id = search_->latest_id(s.id)) search.latest[s.id] = *id;
    }
  }
  return HttpResponse{
      200, "text/html; charset=utf-8", render_status_page(*streams, recent, search), {}};
}

}  // namespace ivs::service
