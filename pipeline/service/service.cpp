// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/service.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <utility>

#include "pipeline/config/yaml_reader.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine_context.h"
#include "pipeline/service/open_files_limit.h"
#include "pipeline/service/stop_deadline.h"
#include "plugins/internvl/register_elements.h"
#include "sinks/prometheus/metrics_exposer.h"

namespace ivs::service {
namespace {

// How long closing the ZeroMQ socket waits for queued messages to reach subscribers.
constexpr std::chrono::milliseconds kZmqCloseLinger{2000};
// The whole stop may take supervision.shutdown_timeout_seconds (the streams' drains, in parallel)
// plus this for what follows the drains (pipelines to NULL, the engine's queue, the index flush).
// Past it something hangs (a source stuck in its teardown, an inference that never returns): the
// process exits with kStopOverdueExitStatus instead of waiting forever for a SIGKILL.
constexpr std::chrono::seconds kStopGrace{10};
constexpr int kStopOverdueExitStatus = 1;
// The index gauges are read from its stats (a small SQLite query) at most this often.
constexpr int64_t kSearchMetricsIntervalNs = 1'000'000'000;

// "stream a, b: end of stream, source or output" for the overdue-stop message.
std::string abandoned_streams(const std::vector<std::string>& ids) {
  if (ids.empty()) return "the streams to stop";
  return (ids.size() == 1 ? "stream " : "streams ") + config::join(ids) +
         " to stop (end of stream, source teardown or a blocked output)";
}

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void log_engine(pipeline::EngineLogLevel level, const std::string& text) {
  if (level == pipeline::EngineLogLevel::kError || level == pipeline::EngineLogLevel::kWarning) {
    g_warning("engine: %s", text.c_str());
  } else if (level == pipeline::EngineLogLevel::kInfo) {
    g_message("engine: %s", text.c_str());
  }
}

}  // namespace

Service::Service(const std::string& config_path) {
  try {
    config_ = load_service_config(config_path);
  } catch (const ConfigError& e) {
    throw StartupError(std::string("invalid config: ") + e.what());
  }
  if (!std::filesystem::is_directory(config_.model.engine.model)) {
    throw StartupError("model.path '" + config_.model.engine.model +
                       "' is not a directory; point it (or INTERNVL_MODEL_DIR) at an InternVL "
                       "checkpoint directory such as InternVL-14B-224px");
  }
  if (!gst_internvl_register_static())
    throw StartupError("could not register the internvl GStreamer elements");
}

Service::~Service() {
  set_api(nullptr);
  supervisor_.reset();
  release_contexts();
}

void Service::start(GMainContext* loop) {
  metrics_ = std::make_shared<pipeline::MetricsHub>(
      pipeline::default_build_info(config_.model.engine.key().device));
  start_http();
  load_engine();
  open_outputs();
  open_search();
  events_ = std::make_shared<EventLog>(config_.recording.dir,
                                       static_cast<uint64_t>(config_.recording.max_disk_gb * 1e9));
  share_contexts();
  supervisor_ = std::make_unique<Supervisor>(config_, shared_, metrics_);
  RestAccess access{config_.http.auth_token, {}};
  if (loopback_listen(config_.http.listen)) access.allowed_hosts = loopback_hosts(http_->port());
  set_api(std::make_shared<RestApi>(*supervisor_, loop, metrics_, health_, std::move(access),
                                    events_, search_api_));
  const size_t started = supervisor_->start_configured();
  health_.last_tick_ns = steady_now_ns();
  health_.ready = true;
  g_message("ready: %zu of %zu configured streams in this shard", started, config_.streams.size());
}

void Service::tick() {
  health_.last_tick_ns = steady_now_ns();
  if (!health_.stopping) supervisor_->tick();
  if (index_ && health_.last_tick_ns - search_metrics_ns_ >= kSearchMetricsIntervalNs) {
    search_metrics_ns_ = health_.last_tick_ns;
    update_search_metrics();
  }
}

bool Service::begin_shutdown() {
  if (health_.stopping.exchange(true)) return false;
  g_message(
      "shutting down: sending end of stream to every stream and publishing what was accepted");
  if (supervisor_ != nullptr) supervisor_->stop_all(true);
  return true;
}

void Service::stop() {
  if (supervisor_ == nullptr) return;
  const auto limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double>(config_.supervision.shutdown_timeout_seconds)) +
      kStopGrace;
  // What the stop is waiting on, for the message if it is overdue; the supervisor is read only
  // while the step is the streams' teardowns, which it outlives (the step moves on under lock).
  std::mutex step_lock;
  const char* step = nullptr;  // null: the streams' teardowns
  const auto move_to = [&](const char* next) {
    std::lock_guard<std::mutex> guard(step_lock);
    step = next;
  };
  const StopDeadline deadline(limit, [&, limit] {
    std::string waiting;
    {
      std::lock_guard<std::mutex> guard(step_lock);
      waiting = step != nullptr ? step : abandoned_streams(supervisor_->teardowns_unfinished());
    }
    g_warning(
        "shutting down: not done after %.1f s (supervision.shutdown_timeout_seconds + %lld s); "
        "exiting with status %d without waiting further for %s: results still in flight are lost",
        static_cast<double>(limit.count()) / 1000, static_cast<long long>(kStopGrace.count()),
        kStopOverdueExitStatus, waiting.c_str());
    _exit(kStopOverdueExitStatus);
  });
  supervisor_->wait_for_teardowns();
  move_to("the engine's queue (inference in flight)");
  set_api(nullptr);
  supervisor_.reset();
  engine_->shutdown(pipeline::Engine::ShutdownMode::kDrain);
  move_to("the outputs to close (ZeroMQ, JSON-lines, search index)");
  if (zmq_) {
    g_message("ZeroMQ: %llu messages published, %llu dropped",
              static_cast<unsigned long long>(zmq_->published()),
              static_cast<unsigned long long>(zmq_->dropped()));
  }
  release_contexts();
  http_.reset();
  search_api_.reset();
  if (index_) {
    index_->flush();  // every accepted frame committed before the index closes
    update_search_metrics();
    g_message("search index: %llu frames indexed in this run, %llu in the index",
              static_cast<unsigned long long>(index_->stats().frames_indexed),
              static_cast<unsigned long long>(index_->stats().frames));
    index_.reset();
  }
  zmq_.reset();
  jsonl_.reset();
}

// Before the REST API exists (the model is loading) liveness and /metrics already answer.
sinks::HttpResponse Service::handle(const sinks::HttpRequest& request) {
  std::shared_ptr<RestApi> api;
  {
    std::lock_guard<std::mutex> guard(api_lock_);
    api = api_;
  }
  if (api) return api->handle(request);
  if (request.path == "/health/live")
    return {200, "application/json", "{\"status\": \"live\"}\n", {}};
  if (request.path == "/metrics") return sinks::metrics_response(*metrics_->metrics().registry());
  return error_response(503, "starting: the model is loading");
}

void Service::set_api(std::shared_ptr<RestApi> api) {
  std::lock_guard<std::mutex> guard(api_lock_);
  api_ = std::move(api);
}

void Service::start_http() {
  sinks::HttpServerOptions options = config_.http.server;
  options.threads = 8;  // a slow REST call (a stream starting) must not hold up the probes
  // First thing at start-up: every idle connection holds a descriptor, and streams need theirs.
  const uint64_t open_files = raise_open_files_limit();
  const unsigned connections = http_connections_within(options.max_connections, open_files);
  if (connections < options.max_connections) {
    g_warning(
        "http.max_connections %u lowered to %u: the open-files limit is %llu (RLIMIT_NOFILE, "
        "already raised to its hard limit; LimitNOFILE= under systemd, ulimit -n) and %u are kept "
        "for streams, model and outputs; raise the limit or lower http.max_connections",
        options.max_connections, connections, static_cast<unsigned long long>(open_files),
        kFilesBesideHttp);
    options.max_connections = connections;
  }
  try {
    http_ = std::make_unique<sinks::HttpServer>(
        config_.http.listen, [this](const sinks::HttpRequest& request) { return handle(request); },
        options);
  } catch (const std::exception& e) {
    throw StartupError(std::string("http.listen: ") + e.what());
  }
  g_message("HTTP (REST, /metrics, /health, status page) on http://%s (port %u)",
            config_.http.listen.c_str(), http_->port());
  if (config_.http.auth_token.empty() && !loopback_listen(config_.http.listen)) {
    g_warning(
        "http.listen %s is reachable from other hosts, http.auth_token is empty and "
        "http.allow_unauthenticated is true: anyone who can reach the port can add, change and "
        "remove streams",
        config_.http.listen.c_str());
  }
}

void Service::load_engine() {
  try {
    pipeline::EngineOptions options;
    const plugins::EngineSettings& settings = config_.model.engine;
    options.batch_size = settings.batch_size;
    options.batch_timeout = std::chrono::nanoseconds(settings.batch_timeout_ns);
    options.log = &log_engine;
    engine_ = pipeline::Engine::create(settings.key(), options);
  } catch (const std::exception& e) {
    throw StartupError("cannot load the model from '" + config_.model.engine.model +
                       "': " + e.what());
  }
  g_message("model %s loaded (%s)", engine_->model_name().c_str(),
            engine_->key().describe().c_str());
}

void Service::open_outputs() {
  pool_ = std::make_shared<pipeline::SinkPool>();
  const OutputsConfig& outputs = config_.outputs;
  try {
    if (!outputs.zmq.endpoint.empty()) {
      zmq_ = pool_->zmq(
          {outputs.zmq.endpoint, outputs.zmq.topic_prefix, outputs.zmq.send_hwm, kZmqCloseLinger});
      g_message("publishing results on ZeroMQ %s", zmq_->endpoint().c_str());
    }
    if (!outputs.jsonl.path.empty()) {
      jsonl_ = pool_->jsonl(outputs.jsonl.path);
      // A full disk shows in internvl_publish_errors_total{sink="jsonl"}, and here in the log.
      jsonl_->set_log([](const std::string& message) { g_warning("%s", message.c_str()); });
      g_message("writing results to %s", outputs.jsonl.path.c_str());
    }
  } catch (const std::exception& e) {
    throw StartupError(std::string("outputs: ") + e.what());
  }
  if (!zmq_ && !jsonl_)
    g_warning("no outputs configured (outputs.zmq, outputs.jsonl): results are not published");
}

void Service::open_search() {
  const SearchConfig& search = config_.search;
  if (!search.enabled) return;
  search::SearchIndexOptions options = search.index;
  // The index's lines name themselves ("search index: rebuilding ...").
  options.log = [](const std::string& text) { g_message("%s", text.c_str()); };
  if (engine_->vision_only()) {
    throw StartupError("search needs a model with a text tower to embed queries; '" +
                       config_.model.engine.model + "' is vision-only: turn search off");
  }
  try {
    index_ = search::open_shared_index(options);
  } catch (const std::exception& e) {
    throw StartupError("search.data_dir '" + options.dir.string() + "': " + e.what());
  }
  std::shared_ptr<pipeline::Engine> engine = engine_;
  search_api_ = std::make_shared<SearchApi>(
      index_, [engine](const std::string& text) { return engine->embed_query(text); },
      &metrics_->metrics().search_query_duration());
  const search::SearchIndexStats stats = index_->stats();
  g_message("search index %s: %llu frames (%s), retention %.1f h, %.1f GB", options.dir.c_str(),
            static_cast<unsigned long long>(stats.frames),
            stats.structure.empty() ? "empty" : stats.structure.c_str(), options.retention_hours,
            options.max_disk_gb);
  update_search_metrics();
}

void Service::update_search_metrics() {
  const search::SearchIndexStats stats = index_->stats();
  sinks::Metrics& metrics = metrics_->metrics();
  metrics.search_index_frames().Set(static_cast<double>(stats.frames));
  metrics.search_index_disk_bytes().Set(static_cast<double>(stats.disk_bytes));
}

void Service::share_contexts() {
  shared_.engine = pipeline::engine_context_new({engine_});
  shared_.metrics = pipeline::metrics_context_new(metrics_);
  shared_.sink_pool = pipeline::sink_pool_context_new(pool_);
  shared_.model = config_.model.engine;
  shared_.cuda = engine_->key().device.rfind("cuda", 0) == 0;
  shared_.outputs = config_.outputs;
  shared_.queue_max_buffers = config_.supervision.queue_max_buffers;
  shared_.recording = config_.recording;
  shared_.search = config_.search;
  shared_.events = events_;
}

void Service::release_contexts() {
  for (GstContext** context : {&shared_.engine, &shared_.metrics, &shared_.sink_pool}) {
    if (*context != nullptr) gst_context_unref(*context);
    *context = nullptr;
  }
}

}  // namespace ivs::service
