// SPDX-License-Identifier: Apache-2.0
// internvl-streamd: the long-running multi-stream service (README.md, "Run the service").
//   internvl-streamd --config FILE            run
//   internvl-streamd --validate-config FILE   check a config and exit 0 (valid) or 1
// Logs go through GLib (stderr, or the journal under systemd); G_MESSAGES_DEBUG=all adds debug.
#include <glib-unix.h>
#include <malloc.h>
#include <gst/gst.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <CLI/CLI.hpp>

#include "pipeline/engine/engine.h"
#include "pipeline/engine_context.h"
#include "pipeline/metrics_context.h"
#include "pipeline/service/rest_api.h"
#include "pipeline/service/service_config.h"
#include "pipeline/service/supervisor.h"
#include "pipeline/sink_pool.h"
#include "plugins/internvl/register_elements.h"
#include "sinks/http/http_server.h"

namespace {

using namespace ivs;

constexpr guint kTickMilliseconds = 250;
// How long closing the ZeroMQ socket waits for queued messages to reach subscribers.
constexpr std::chrono::milliseconds kZmqCloseLinger{2000};

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int validate(const std::string& path) {
  try {
    const service::ServiceConfig config = service::load_service_config(path);
    size_t here = 0;
    for (const auto& stream : config.streams)
      here += service::stream_in_shard(stream.id, config.sharding) ? 1 : 0;
    std::printf("%s: valid (%zu streams, %zu in this shard; model %s)\n", path.c_str(),
                config.streams.size(), here, config.model.path.c_str());
    return 0;
  } catch (const service::ConfigError& e) {
    std::fprintf(stderr, "invalid config: %s\n", e.what());
    return 1;
  }
}

// The HTTP handler before the REST API exists (model loading) and after.
class Dispatcher {
 public:
  explicit Dispatcher(std::shared_ptr<pipeline::MetricsHub> metrics)
      : metrics_(std::move(metrics)) {}

  void set_api(std::shared_ptr<service::RestApi> api) {
    std::lock_guard<std::mutex> guard(lock_);
    api_ = std::move(api);
  }

  sinks::HttpResponse operator()(const sinks::HttpRequest& request) {
    std::shared_ptr<service::RestApi> api;
    {
      std::lock_guard<std::mutex> guard(lock_);
      api = api_;
    }
    if (api) return api->handle(request);
    if (request.path == "/health/live")
      return {200, "application/json", "{\"status\": \"live\"}\n", {}};
    if (request.path == "/metrics") return sinks::metrics_response(*metrics_->metrics().registry());
    return service::error_response(503, "starting: the model is loading");
  }

 private:
  std::shared_ptr<pipeline::MetricsHub> metrics_;
  std::mutex lock_;
  std::shared_ptr<service::RestApi> api_;
};

struct Running {
  service::Supervisor* supervisor;
  service::ServiceHealth* health;
  GMainLoop* loop;
};

gboolean on_signal(gpointer data) {
  auto* running = static_cast<Running*>(data);
  if (running->health->stopping.exchange(true)) return G_SOURCE_CONTINUE;
  g_message(
      "shutting down: sending end of stream to every stream and publishing what was accepted");
  if (running->supervisor != nullptr) running->supervisor->stop_all(true);
  g_main_loop_quit(running->loop);
  return G_SOURCE_CONTINUE;
}

bool loopback_address(const std::string& listen) {
  return listen.rfind("127.", 0) == 0 || listen.rfind("localhost:", 0) == 0 ||
         listen.rfind("[::1]:", 0) == 0;
}

gboolean on_tick(gpointer data) {
  auto* running = static_cast<Running*>(data);
  running->health->last_tick_ns = steady_now_ns();
  if (!running->health->stopping) running->supervisor->tick();
  return G_SOURCE_CONTINUE;
}

int run(const std::string& config_path) {
  service::ServiceConfig config;
  try {
    config = service::load_service_config(config_path);
  } catch (const service::ConfigError& e) {
    g_printerr("internvl-streamd: invalid config: %s\n", e.what());
    return 1;
  }
  if (!std::filesystem::is_directory(config.model.path)) {
    g_printerr(
        "internvl-streamd: model.path '%s' is not a directory; point it (or INTERNVL_MODEL_DIR) at "
        "an "
        "InternVL checkpoint directory such as InternVL-14B-224px\n",
        config.model.path.c_str());
    return 1;
  }
  if (!gst_internvl_register_static()) {
    g_printerr("internvl-streamd: could not register the internvl GStreamer elements\n");
    return 1;
  }

  // Signals are caught from here on; they act once the loop runs (a SIGTERM while the model
  // loads stops the service as soon as it is up, without starting a frame).
  service::ServiceHealth health;
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  Running running{nullptr, &health, loop};
  const guint term = g_unix_signal_add(SIGTERM, &on_signal, &running);
  const guint interrupt = g_unix_signal_add(SIGINT, &on_signal, &running);
  auto metrics =
      std::make_shared<pipeline::MetricsHub>(pipeline::default_build_info(config.model.device));
  Dispatcher dispatcher(metrics);
  std::unique_ptr<sinks::HttpServer> http;
  try {
    http = std::make_unique<sinks::HttpServer>(
        config.http.listen,
        [&dispatcher](const sinks::HttpRequest& request) { return dispatcher(request); },
        sinks::HttpServerOptions{1 << 20, 8});
  } catch (const std::exception& e) {
    g_printerr("internvl-streamd: http.listen: %s\n", e.what());
    return 1;
  }
  g_message("HTTP (REST, /metrics, /health, status page) on http://%s (port %u)",
            config.http.listen.c_str(), http->port());
  if (config.http.auth_token.empty() && !loopback_address(config.http.listen)) {
    g_warning(
        "http.listen %s is reachable from other hosts and http.auth_token is empty: anyone who can "
        "reach "
        "the port can add, change and remove streams; set a token",
        config.http.listen.c_str());
  }

  std::shared_ptr<pipeline::Engine> engine;
  try {
    pipeline::EngineOptions options;
    options.batch_size = config.model.batch_size;
    options.batch_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(config.model.batch_timeout_seconds));
    options.log = [](pipeline::EngineLogLevel level, const std::string& text) {
      if (level == pipeline::EngineLogLevel::kError ||
          level == pipeline::EngineLogLevel::kWarning) {
        g_warning("engine: %s", text.c_str());
      } else if (level == pipeline::EngineLogLevel::kInfo) {
        g_message("engine: %s", text.c_str());
      }
    };
    engine = pipeline::Engine::create({config.model.path, config.model.device, config.model.dtype},
                                      options);
  } catch (const std::exception& e) {
    g_printerr("internvl-streamd: cannot load the model from '%s': %s\n", config.model.path.c_str(),
               e.what());
    return 1;
  }
  g_message("model %s loaded (%s)", engine->model_name().c_str(), engine->key().describe().c_str());

  // The service keeps its sinks open from start to exit: bind errors show now, and stream
  // restarts never rebind the socket (subscribers stay connected).
  auto pool = std::make_shared<pipeline::SinkPool>();
  std::shared_ptr<sinks::ZmqPublisher> zmq;
  std::shared_ptr<sinks::JsonLinesWriter> jsonl;
  try {
    if (!config.outputs.zmq.endpoint.empty()) {
      sinks::ZmqPublisherOptions options{config.outputs.zmq.endpoint,
                                         config.outputs.zmq.topic_prefix,
                                         config.outputs.zmq.send_hwm, kZmqCloseLinger};
      zmq = pool->zmq(options);
      g_message("publishing results on ZeroMQ %s", zmq->endpoint().c_str());
    }
    if (!config.outputs.jsonl.path.empty()) {
      jsonl = pool->jsonl(config.outputs.jsonl.path);
      g_message("writing results to %s", config.outputs.jsonl.path.c_str());
    }
  } catch (const std::exception& e) {
    g_printerr("internvl-streamd: outputs: %s\n", e.what());
    return 1;
  }
  if (!zmq && !jsonl)
    g_warning("no outputs configured (outputs.zmq, outputs.jsonl): results are not published");

  service::SharedContexts shared;
  shared.engine = pipeline::engine_context_new({engine});
  shared.metrics = pipeline::metrics_context_new(metrics);
  shared.sink_pool = pipeline::sink_pool_context_new(pool);
  shared.model_dir = config.model.path;
  shared.device = config.model.device;
  shared.dtype = config.model.dtype;
  shared.cuda = engine->key().device.rfind("cuda", 0) == 0;
  shared.outputs = config.outputs;
  shared.queue_max_buffers = config.supervision.queue_max_buffers;

  int status = 0;
  {
    service::Supervisor supervisor(config, shared, metrics);
    dispatcher.set_api(std::make_shared<service::RestApi>(supervisor, g_main_loop_get_context(loop),
                                                          metrics, health, config.http.auth_token));
    running.supervisor = &supervisor;
    const size_t started = supervisor.start_configured();
    health.last_tick_ns = steady_now_ns();
    health.ready = true;
    g_message("ready: %zu of %zu configured streams in this shard", started, config.streams.size());
    const guint tick = g_timeout_add(kTickMilliseconds, &on_tick, &running);
    g_main_loop_run(loop);
    g_source_remove(tick);
    supervisor.wait_for_teardowns();
    dispatcher.set_api(nullptr);
    running.supervisor = nullptr;
  }
  engine->shutdown(pipeline::Engine::ShutdownMode::kDrain);
  if (zmq)
    g_message("ZeroMQ: %llu messages published, %llu dropped",
              static_cast<unsigned long long>(zmq->published()),
              static_cast<unsigned long long>(zmq->dropped()));
  gst_context_unref(shared.engine);
  gst_context_unref(shared.metrics);
  gst_context_unref(shared.sink_pool);
  http.reset();
  zmq.reset();
  jsonl.reset();
  // Removed only now: while a handler is installed a second SIGTERM cannot cut the drain short
  // (the loop no longer runs, so it is simply not acted on).
  g_source_remove(term);
  g_source_remove(interrupt);
  g_main_loop_unref(loop);
  g_message("stopped");
  return status;
}

}  // namespace

// glibc gives each thread that allocates concurrently its own heap arena (up to 8 per core) and
// keeps freed memory in it. A service that starts and stops pipelines (streaming threads come and
// go) for weeks then grows RSS without leaking. Measured with the soak test (3 minutes, ~2000
// pipeline restarts): default arenas +90 MiB RSS, 4 arenas +5 to +40 MiB, 2 arenas flat (+3 MiB,
// noise), while the heap actually in use (mallinfo2) stayed level in every run. An explicit
// MALLOC_ARENA_MAX from the environment wins.
void bound_malloc_arenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
}

int main(int argc, char** argv) {
  bound_malloc_arenas();
  CLI::App app{"internvl-streamd: zero-shot video classification and captioning for many streams"};
  std::string config_path;
  std::string validate_path;
  auto* run_option =
      app.add_option("--config", config_path, "Service config (YAML), see configs/README.md");
  auto* validate_option = app.add_option("--validate-config", validate_path,
                                         "Check a config file and exit 0 (valid) or 1");
  run_option->excludes(validate_option);
  app.set_version_flag("--version", std::string("internvl-streamd ") + VERSION);
  CLI11_PARSE(app, argc, argv);
  if (!validate_path.empty()) return validate(validate_path);
  if (config_path.empty()) {
    std::fprintf(
        stderr,
        "internvl-streamd: give --config FILE (or --validate-config FILE); --help for more\n");
    return 2;
  }
  gst_init(&argc, &argv);
  return run(config_path);
}
