// SPDX-License-Identifier: Apache-2.0
// The service internvl-streamd as one object, its composition root: the config, the metrics hub,
// the engine, the result sinks and the contexts that share them with every stream's pipeline,
// the supervisor, the HTTP server with the REST API, and the order in which they start and stop.
// main.cpp parses the command line, handles the signals and runs the GLib main loop around it.
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <glib.h>

#include "pipeline/metrics_context.h"
#include "pipeline/service/rest_api.h"
#include "pipeline/service/search_api.h"
#include "pipeline/service/service_config.h"
#include "pipeline/service/supervisor.h"
#include "pipeline/sink_pool.h"
#include "sinks/http/http_server.h"

namespace ivs::pipeline {
class Engine;
}

namespace ivs::service {

/// Why the service cannot start, worded for the operator; main prints it after
/// "internvl-streamd: " and exits 1.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Threading: everything but the HTTP handler runs on the thread of the GLib main context passed
/// to start(), the one the supervisor's bus watches are attached to.
class Service {
 public:
  /// Loads the config and checks what must hold before anything starts: the model directory
  /// exists, the internvl elements are registered. Throws StartupError.
  explicit Service(const std::string& config_path);
  /// Releases whatever start() got to; a service that ran is stopped with stop() first.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Serves HTTP (liveness and /metrics at once, the REST API once ready), loads the model,
  /// opens the outputs and starts this shard's configured streams. `loop` is the context the
  /// main loop runs. Throws StartupError naming the part that failed.
  void start(GMainContext* loop);

  /// The main loop's periodic call (every 250 ms): liveness, then the supervisor's tick.
  void tick();

  /// SIGTERM / SIGINT: refuses changes and sends end of stream to every stream. False when the
  /// shutdown had begun already.
  bool begin_shutdown();

  /// After the main loop stopped: waits for the streams' drains (each bounded by
  /// supervision.shutdown_timeout_seconds), drains the engine, then closes HTTP and the outputs.
  /// Bounded as a whole: past shutdown_timeout_seconds + 10 s it logs and ends the process
  /// (_exit, status 1) instead of waiting on a thread that hangs.
  void stop();

 private:
  sinks::HttpResponse handle(const sinks::HttpRequest& request);
  void set_api(std::shared_ptr<RestApi> api);
  void start_http();
  void load_engine();
  void open_outputs();
  void open_search();
  void update_search_metrics();
  void share_contexts();
  void release_contexts();

  ServiceConfig config_;
  ServiceHealth health_;
  std::shared_ptr<pipeline::MetricsHub> metrics_;
  std::mutex api_lock_;
  std::shared_ptr<RestApi> api_;  // guarded by api_lock_; null until ready and after stop()
  std::unique_ptr<sinks::HttpServer> http_;
  std::shared_ptr<pipeline::Engine> engine_;
  // The sinks stay open from start to exit: bind errors show at start-up, and stream restarts
  // never rebind the socket (subscribers stay connected).
  std::shared_ptr<pipeline::SinkPool> pool_;
  std::shared_ptr<sinks::ZmqPublisher> zmq_;
  std::shared_ptr<sinks::JsonLinesWriter> jsonl_;
  std::shared_ptr<EventLog> events_;  // recent alert events of every stream, for REST
  // With search on: the process's one writer of search.index.dir, opened before any stream so
  // every internvlindex shares it (open_shared_index) with the service's retention options.
  std::shared_ptr<search::SearchIndex> index_;
  std::shared_ptr<SearchApi> search_api_;
  int64_t search_metrics_ns_ = 0;  // steady clock of the last gauge update
  SharedContexts shared_;          // owns its GstContext references
  std::unique_ptr<Supervisor> supervisor_;
};

}  // namespace ivs::service
