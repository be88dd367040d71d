// SPDX-License-Identifier: Apache-2.0
// Runs the service's streams, one GStreamer pipeline each, and keeps them running: a source
// error, the end of a live source or `stall_timeout_seconds` without a frame takes that stream
// down and restarts it after an exponential, jittered, bounded backoff; the other streams never
// notice (each has its own pipeline, bus and teardown thread). internvl_stream_up and
// internvl_stream_restarts_total say what happened.
//
// Threading: every method runs on the thread of the GLib main context the bus watches are
// attached to (the service's main loop); the REST layer gets there with run_on_loop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/metrics_context.h"
#include "pipeline/service/reaper.h"
#include "pipeline/service/service_config.h"
#include "pipeline/service/stream_pipeline.h"

namespace ivs::service {

/// Delay before the next start after `failures` consecutive failures (>= 1):
/// min(max, initial * 2^(failures - 1)), scaled by a factor in [0.5, 1] taken from
/// `unit_random` (in [0, 1)) so that streams that failed together do not retry in lockstep.
double backoff_delay_seconds(double initial_seconds, double max_seconds, unsigned failures,
                             double unit_random);

enum class StreamState {
  kStarting,  // pipeline started, no frame yet
  kRunning,   // frames flowing
  kBackoff,   // down, restarting at next_start
  kFinished,  // a file source ended (and is not restarted)
};
const char* stream_state_name(StreamState state);  // "starting", "running", "backoff", "finished"

struct StreamStatus {
  std::string id;
  std::string uri;  // credentials removed
  std::string decode;
  std::string decoder;  // the video decoder in use, once known
  pipeline::DecodeFrames decode_frames = pipeline::DecodeFrames::kAuto;  // configured
  pipeline::DecodeFrames decoding = pipeline::DecodeFrames::kAll;  // in effect: all or keyframes
  std::optional<double> gop_seconds;  // key-frame spacing measured (H.264/H.265), once known
  StreamState state = StreamState::kStarting;
  bool live = false;
  uint64_t frames = 0;           // through the whole pipeline
  uint64_t frames_received = 0;  // from the source (encoded, before internvlkeyframes)
  uint64_t frames_decoded = 0;   // out of the decoder
  uint64_t frames_dropped = 0;   // by the leaky queue
  double fps = 0.0;              // frames through the pipeline per second, last 2 s or so
  uint64_t restarts = 0;
  std::string last_error;
  double restart_in_seconds = 0.0;  // kBackoff only
  std::vector<std::string> labels;  // the label set (or the labels file)
  std::string labels_file;
  std::vector<pipeline::ClassificationRecord> latest_labels;       // of the latest sampled frame
  std::vector<pipeline::ClassificationRecord> latest_clip_labels;  // of the latest clip window
  std::string latest_caption;
};

/// Numbers uniform in [0, 1) from a generator seeded by std::random_device.
std::function<double()> seeded_unit_random();

/// What the supervisor reads from outside its streams, injected so that stall detection, fps and
/// backoff can be tested in simulated time (LevelDB's Env, Envoy's TimeSource). The defaults are
/// the production ones. The functions are called on the supervisor's thread only.
struct SupervisorEnv {
  /// The time stalls, fps and backoff deadlines are measured in.
  std::function<std::chrono::steady_clock::time_point()> now = &std::chrono::steady_clock::now;
  /// Uniform in [0, 1): the backoff jitter.
  std::function<double()> unit_random = seeded_unit_random();
  /// Builds a stream's pipeline (start and every restart).
  std::function<StreamPipeline(const StreamConfig&, const SharedContexts&,
                               const std::shared_ptr<StreamTelemetry>&)>
      build_pipeline = &build_stream_pipeline;
};

class Stream;

class Supervisor {
 public:
  /// `shared` holds context references the caller keeps alive for the supervisor's lifetime.
  Supervisor(const ServiceConfig& config, SharedContexts shared,
             std::shared_ptr<pipeline::MetricsHub> metrics, SupervisorEnv env = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Starts the configured streams of this shard; returns how many.
  size_t start_configured();

  /// Starts a new stream. Throws ConfigError when the id is taken or belongs to another shard.
  void add(const StreamConfig& stream);
  /// Stops and forgets a stream (its accepted results are still published). False: unknown id.
  /// Its metric series go at the first tick() after no teardown is running any more.
  bool remove(const std::string& id);
  /// Replaces a stream's label set, live (no restart). False: unknown id. Throws ConfigError
  /// when the stream does not classify.
  bool set_labels(const std::string& id, const std::vector<std::string>& labels);
  /// Replaces a stream's alert rules (validated by the caller). A running internvlalert uses
  /// them from its next sample; a running pipeline without one (the stream had no rules) is
  /// rebuilt with it. False: unknown id. Throws ConfigError when the stream does not classify.
  bool set_alerts(const std::string& id, const std::vector<pipeline::AlertRule>& rules);
  /// The rules in force on a stream; nullopt: unknown id.
  std::optional<std::vector<pipeline::AlertRule>> alerts(const std::string& id) const;

  std::vector<StreamStatus> statuses() const;
  std::optional<StreamStatus> status(const std::string& id) const;
  const ServiceConfig& config() const { return config_; }

  /// Stall checks, restarts after backoff, fps; the service calls it every 250 ms.
  void tick();

  /// Takes every stream down; with `drain`, each gets EOS and up to
  /// supervision.shutdown_timeout_seconds to publish what it accepted. Returns at once; the
  /// teardowns run on the reaper's threads (wait_for_teardowns()).
  void stop_all(bool drain);
  void wait_for_teardowns();
  /// Ids of the streams whose teardown has not finished (thread-safe).
  std::vector<std::string> teardowns_unfinished() const;

 private:
  ServiceConfig config_;
  SharedContexts shared_;
  std::shared_ptr<pipeline::MetricsHub> metrics_;
  SupervisorEnv env_;
  Reaper reaper_;
  std::map<std::string, std::unique_ptr<Stream>> streams_;
  // Removed streams whose metric series are still exported: dropped once every teardown has
  // finished (a pipeline being torn down may still record), unless the id was added again.
  std::set<std::string> removed_;
};

}  // namespace ivs::service
