// SPDX-License-Identifier: Apache-2.0
// The service's HTTP surface on one port (README.md "Run the service", configs/README.md "REST"):
//   GET    /api/v1/streams                 every stream's status (JSON)
//   GET    /api/v1/streams/{id}            one stream
//   POST   /api/v1/streams                 add a stream (body: a `streams` entry as JSON)
//   DELETE /api/v1/streams/{id}            remove a stream (its accepted results are published)
//   PUT    /api/v1/streams/{id}/labels     replace the label set: {"labels": [...]}
//   GET    /api/v1/streams/{id}/alerts     the alert rules in force: {"stream": id, "alerts": [...]}
//   PUT    /api/v1/streams/{id}/alerts     replace them (JSON or YAML: a list, or {"alerts": [...]})
//   GET    /api/v1/events                  recent alert events; /api/v1/events/{id}/snapshot.jpg
//                                          and /clip.mp4 their files (events_api.h)
//   GET    /api/v1/search?q=&k=&stream=&from=&to=   moments found by text (search_api.h), with
//          /api/v1/thumbnails/{id}.jpg and /api/v1/streams/{id}/latest.jpg; 404 without search
//   GET    /health/live, /health/ready     liveness (main loop turning) and readiness (model loaded,
//                                          not shutting down)
//   GET    /metrics                        Prometheus text format
//   GET    /                               a status page (HTML, refreshes itself; ?q=&k=&stream=
//                                          searches, as its search box does)
// Errors are JSON {"error": "...", "status": N}. With an auth token configured, POST, PUT and
// DELETE need "Authorization: Bearer <token>". POST and PUT bodies need Content-Type
// application/json (or application/yaml), else 415: a browser can send a cross-site form or
// text/plain POST without asking, but not those (nor any DELETE) without a CORS preflight, which
// is never granted. On loopback, the Host header must name the loopback address and port (else
// 421), so a web page whose DNS name is rebound to 127.0.0.1 cannot read or change anything.
// Request bodies never reach the server's environment or files: ${VAR} is not expanded in them
// and labels_file / templates_file are refused (label sets come inline), and so is an alert
// rule's negatives_file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>

#include "pipeline/metrics_context.h"
#include "pipeline/service/event_log.h"
#include "pipeline/service/search_api.h"
#include "pipeline/service/supervisor.h"
#include "sinks/http/http_server.h"

namespace ivs::service {

/// What the health endpoints read without going through the main loop.
struct ServiceHealth {
  std::atomic<bool> ready{false};        // model loaded, streams started
  std::atomic<bool> stopping{false};     // shutdown began: mutations refused, not ready
  std::atomic<int64_t> last_tick_ns{0};  // steady clock of the main loop's last tick
};

/// Who may call: the bearer token for mutations (empty: none needed) and the Host header values
/// accepted (empty: any; the service lists the loopback names with the port on a loopback
/// listen address).
struct RestAccess {
  std::string auth_token;
  std::vector<std::string> allowed_hosts;  // lower-case, e.g. "127.0.0.1:8080"
};

/// The Host header values a loopback server on `port` answers to: 127.0.0.1, localhost and
/// [::1], each with the port.
std::vector<std::string> loopback_hosts(uint16_t port);

class RestApi {
 public:
  /// `supervisor` is only touched on `loop`'s thread (each request waits for it there);
  /// `events` and `search` (null: search is off) are used from the HTTP threads.
  RestApi(Supervisor& supervisor, GMainContext* loop, std::shared_ptr<pipeline::MetricsHub> metrics,
          const ServiceHealth& health, RestAccess access, std::shared_ptr<EventLog> events,
          std::shared_ptr<SearchApi> search = nullptr);

  /// The HTTP server's handler. Thread-safe.
  sinks::HttpResponse handle(const sinks::HttpRequest& request);

 private:
  sinks::HttpResponse on_loop(const std::function<sinks::HttpResponse()>& work);
  sinks::HttpResponse streams_request(const sinks::HttpRequest& request);
  sinks::HttpResponse alerts_request(const sinks::HttpRequest& request, const std::string& id);
  sinks::HttpResponse events_request(const sinks::HttpRequest& request);
  sinks::HttpResponse search_request(const sinks::HttpRequest& request);
  sinks::HttpResponse status_page(const sinks::HttpRequest& request);

  Supervisor& supervisor_;
  GMainContext* loop_;
  std::shared_ptr<pipeline::MetricsHub> metrics_;
  const ServiceHealth& health_;
  RestAccess access_;
  std::shared_ptr<EventLog> events_;
  std::shared_ptr<SearchApi> search_;
};

/// The JSON error every endpoint answers with: {"error": message, "status": status}.
sinks::HttpResponse error_response(int status, const std::string& message);

/// Runs `work` on the thread that owns `context` and waits at most `timeout` for it. False when
/// it did not run in time (it may still run later: capture by value).
bool run_on_loop(GMainContext* context, std::function<void()> work,
                 std::chrono::milliseconds timeout);

}  // namespace ivs::service
