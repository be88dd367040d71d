// SPDX-License-Identifier: Apache-2.0
// The REST dispatch (pipeline/service/rest_api.h RestApi::handle: Host and token checks, paths,
// methods, Content-Type, query parameters and bodies) against a real supervisor whose stream
// pipelines are stand-ins (appsrc ! queue ! fakesink, as in the REST unit tests), so an accepted
// POST really starts a stream and a DELETE really tears it down. Each input starts from a fresh
// supervisor running one configured stream, "cam". Search is off (it needs the model's text
// encoder).
//
// An input is up to kMaxRequests requests, separated by a line "%%", each as text the way the
// HTTP server hands it over after parsing:
//   METHOD TARGET\n
//   Name: value\n          (any number of headers; names are lower-cased as the server does)
//   \n
//   BODY
// TARGET's query (after '?') is split on '&' and '='; its values are used as they are (the
// server has percent-decoded them already, so any byte may appear).
//
// Findings besides crashes and sanitizer reports: a status outside 100-599, a JSON response
// that does not parse, and a supervisor that does not stop within a minute.
#include <gst/gst.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/config/yaml_reader.h"
#include "pipeline/metrics_context.h"
#include "pipeline/service/rest_api.h"
#include "pipeline/service/supervisor.h"
#include "tests/pipeline/service/stand_in_pipeline.h"

namespace {

using ivs::service::RestApi;
using ivs::service::Supervisor;

constexpr uint16_t kPort = 8080;  // the port the Host header must name
constexpr const char* kToken = "fuzz-token";
constexpr size_t kMaxRequests = 8;
constexpr const char* kSeparator = "\n%%\n";

// The service's main loop, on its own thread as in internvl-streamd.
struct MainLoop {
  GMainContext* context = g_main_context_new();
  GMainLoop* loop = g_main_loop_new(context, FALSE);
  std::thread thread{[this] { g_main_loop_run(loop); }};
};

MainLoop& main_loop() {
  static MainLoop* running = new MainLoop();  // runs until the process exits
  return *running;
}

const ivs::service::ServiceConfig& service_config() {
  static const ivs::service::ServiceConfig config = ivs::service::parse_service_config(
      "model: {path: /models/m}\n"
      "tasks:\n"
      "  classify: {labels: [a cat, a dog]}\n"
      "limits: {max_streams: 3, max_labels: 8, max_label_bytes: 64}\n"
      "streams:\n"
      "  - {id: cam, uri: \"rtsp://10.0.0.5/s1\"}\n",
      "fuzz service", "/nonexistent/internvl-fuzz");
  return config;
}

ivs::sinks::HttpRequest parse_request(const std::string& text) {
  ivs::sinks::HttpRequest request;
  const size_t head_end = text.find("\n\n");
  const std::string head = text.substr(0, head_end);
  if (head_end != std::string::npos) request.body = text.substr(head_end + 2);
  size_t line_end = head.find('\n');
  const std::string first = head.substr(0, line_end);
  const size_t space = first.find(' ');
  request.method = first.substr(0, space);
  const std::string target = space == std::string::npos ? "" : first.substr(space + 1);
  const size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) {
    const std::string query = target.substr(question + 1);
    for (size_t start = 0; start <= query.size();) {
      const size_t amp = std::min(query.find('&', start), query.size());
      const std::string pair = query.substr(start, amp - start);
      const size_t equals = pair.find('=');
      request.query.emplace(pair.substr(0, equals),
                            equals == std::string::npos ? "" : pair.substr(equals + 1));
      start = amp + 1;
    }
  }
  while (line_end != std::string::npos) {
    const size_t next = head.find('\n', line_end + 1);
    const std::string line = head.substr(line_end + 1, next - line_end - 1);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = ivs::config::ascii_lower(line.substr(0, colon));
      const size_t value = line.find_first_not_of(' ', colon + 1);
      request.headers.emplace(std::move(name),
                              value == std::string::npos ? "" : line.substr(value));
    }
    line_end = next;
  }
  return request;
}

void check(const ivs::sinks::HttpResponse& response) {
  if (response.status < 100 || response.status > 599) std::abort();
  if (response.content_type.rfind("application/json", 0) == 0 &&
      !nlohmann::json::accept(response.body)) {
    std::abort();
  }
}

// The requests of one input against a fresh supervisor, so that inputs do not depend on each
// other.
void handle(const std::string& input) {
  MainLoop& loop = main_loop();
  auto metrics = std::make_shared<ivs::pipeline::MetricsHub>();
  ivs::service::SupervisorEnv env;
  env.build_pipeline = [](const ivs::service::StreamConfig& stream,
                          const ivs::service::SharedContexts&,
                          const std::shared_ptr<ivs::service::StreamTelemetry>&) {
    return ivs::service::stand_in_pipeline(stream);
  };
  auto supervisor =
      std::make_unique<Supervisor>(service_config(), ivs::service::SharedContexts{}, metrics, env);
  ivs::service::ServiceHealth health;
  health.ready = true;
  ivs::service::RestAccess access{kToken, ivs::service::loopback_hosts(kPort)};
  RestApi api(*supervisor, loop.context, metrics, health, access,
              std::make_shared<ivs::service::EventLog>("", 0));
  if (!ivs::service::run_on_loop(
          loop.context, [&supervisor] { supervisor->start_configured(); },
          std::chrono::minutes(1))) {
    std::abort();
  }
  size_t start = 0;
  for (size_t i = 0; i < kMaxRequests && start <= input.size(); ++i) {
    const size_t end = std::min(input.find(kSeparator, start), input.size());
    check(api.handle(parse_request(input.substr(start, end - start))));
    start = end + std::string(kSeparator).size();
  }
  // The supervisor lives on the loop's thread; its streams' teardowns are waited for there.
  if (!ivs::service::run_on_loop(
          loop.context, [&supervisor] { supervisor.reset(); }, std::chrono::minutes(1))) {
    std::abort();
  }
}

}  // namespace

// The service's messages and warnings (a stream started, a request refused) are expected and
// would slow the fuzzer down; a GLib critical is a programming error, so a finding.
void log_quietly(const gchar*, GLogLevelFlags level, const gchar* message, gpointer) {
  if ((level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) != 0) {
    std::fprintf(stderr, "GLib critical: %s\n", message);
    std::abort();
  }
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  g_log_set_default_handler(&log_quietly, nullptr);
  gst_init(argc, argv);
  // GLib and GStreamer register each type once per process and keep it: warm-up requests of
  // each kind that builds or renders something, so that those one-time allocations are not
  // taken for leaks of the first input that needs them.
  const std::string host = "Host: 127.0.0.1:" + std::to_string(kPort) + "\n";
  const std::string mutation =
      host + "Content-Type: application/json\nAuthorization: Bearer " + kToken + "\n\n";
  handle("POST /api/v1/streams\n" + mutation + R"({"id": "b", "uri": "rtsp://10.0.0.1/s"})" +
         kSeparator + "PUT /api/v1/streams/b/labels\n" + mutation + R"({"labels": ["x"]})" +
         kSeparator + "DELETE /api/v1/streams/b\n" + mutation + kSeparator + "GET /metrics\n" +
         host + kSeparator + "GET /\n" + host + kSeparator + "GET /api/v1/events?limit=1\n" + host);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  handle(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
