// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/supervisor.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "pipeline/scheduling/result_counters.h"
#include "pipeline/service/encoded_branch.h"

namespace ivs::service {

using Clock = std::chrono::steady_clock;

std::function<double()> seeded_unit_random() {
  return [generator = std::mt19937_64(std::random_device{}()),
          uniform = std::uniform_real_distribution<double>(0.0, 1.0)]() mutable {
    return uniform(generator);
  };
}

double backoff_delay_seconds(double initial_seconds, double max_seconds, unsigned failures,
                             double unit_random) {
  const double exponent = std::min<double>(failures > 0 ? failures - 1 : 0, 62);
  const double base = std::min(max_seconds, initial_seconds * std::pow(2.0, exponent));
  return base * (0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0));
}

const char* stream_state_name(StreamState state) {
  switch (state) {
    case StreamState::kStarting:
      return "starting";
    case StreamState::kRunning:
      return "running";
    case StreamState::kBackoff:
      return "backoff";
    case StreamState::kFinished:
      return "finished";
  }
  return "unknown";
}

namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::chrono::milliseconds to_millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// "error from source: Could not open resource for reading. (gstfilesrc.c(...): ... No such file)"
std::string describe_error(GstMessage* message) {
  GError* error = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  std::string text = std::string("error from ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(message)) + ": " +
                     (error != nullptr ? error->message : "unknown");
  if (debug != nullptr) {
    std::string detail = debug;
    const auto colon = detail.rfind(":\n");  // GStreamer's debug text ends with the useful part
    if (colon != std::string::npos) detail = detail.substr(colon + 2);
    if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
    text += " (" + detail + ")";
  }
  // Valid UTF-8 whatever the cut above or the file names inside did (the text goes into JSON).
  gchar* valid = g_utf8_make_valid(text.c_str(), static_cast<gssize>(text.size()));
  text = valid;
  g_free(valid);
  g_clear_error(&error);
  g_free(debug);
  return text;
}

}  // namespace

/// One stream for its whole life in the service, across restarts. Loop thread only.
class Stream {
 public:
  struct Env {
    const ServiceConfig& service;
    const SharedContexts& shared;
    pipeline::MetricsHub& metrics;
    Reaper& reaper;
    const SupervisorEnv& system;
  };

  Stream(StreamConfig config, Env env)
      : config_(std::move(config)), env_(env), telemetry_(std::make_shared<StreamTelemetry>()) {
    telemetry_->frames_metric = &env_.metrics.metrics().frames(config_.id);
    telemetry_->decoded_metric = &env_.metrics.metrics().frames_decoded(config_.id);
    telemetry_->dropped_metric = &env_.metrics.metrics().frames_dropped(
        config_.id, pipeline::drop_reason_label(pipeline::DropReason::kQueueFull));
    env_.metrics.metrics().stream_up(config_.id).Set(0);
    env_.metrics.metrics().stream_restarts(config_.id);  // exported as 0 from the start
  }

  ~Stream() { take_down(false); }

  const StreamConfig& config() const { return config_; }

  void start(bool log = true) {
    frames_at_start_ = telemetry_->frames;
    frames_seen_ = frames_at_start_;
    last_frame_at_ = env_.system.now();
    try {
      pipe_ = env_.system.build_pipeline(config_, env_.shared, telemetry_);
      reported_waiting_ = false;
    } catch (const std::exception& e) {
      fail(e.what());
      return;
    }
    GstBus* bus = gst_element_get_bus(pipe_.pipeline);
    watch_ = gst_bus_add_watch(bus, &Stream::on_bus_message, this);
    gst_object_unref(bus);
    state_ = StreamState::kStarting;
    live_ = uri_is_live(config_.uri);  // the queue was made leaky for these already
    const GstStateChangeReturn result = gst_element_set_state(pipe_.pipeline, GST_STATE_PLAYING);
    if (result == GST_STATE_CHANGE_FAILURE) {
      fail(first_error_on_bus().value_or("the pipeline could not start"));
      return;
    }
    if (result == GST_STATE_CHANGE_NO_PREROLL) mark_live();
    if (!log) return;
    g_message("stream %s: starting %s%s", config_.id.c_str(), redact_uri(config_.uri).c_str(),
              live_ ? " (live)" : "");
  }

  void tick(Clock::time_point now) {
    if (state_ == StreamState::kBackoff) {
      if (now >= next_start_) {
        ++restarts_;
        env_.metrics.metrics().stream_restarts(config_.id).Increment();
        start();
      }
      return;
    }
    update_fps(now);
    if (state_ != StreamState::kStarting && state_ != StreamState::kRunning) return;
    const uint64_t frames = telemetry_->frames;
    if (state_ == StreamState::kStarting && frames > frames_at_start_) {
      state_ = StreamState::kRunning;
      running_since_ = now;
      if (!live_ && source_is_live()) mark_live();  // e.g. a live HTTP stream
      env_.metrics.metrics().stream_up(config_.id).Set(1);
      g_message("stream %s: running%s%s", config_.id.c_str(), decoder().empty() ? "" : ", decoder ",
                decoder().c_str());
    }
    if (state_ == StreamState::kRunning && failures_ > 0 &&
        seconds_between(running_since_, now) >=
            std::max(1.0, env_.service.supervision.backoff_max_seconds)) {
      failures_ = 0;  // healthy for as long as the longest wait: the next failure starts over
    }
    // A frame is dated by the first tick that sees it: all time comes from env_.system.now(), on
    // this thread, and a stall is seconds long while ticks are a quarter of a second apart.
    if (frames != frames_seen_) {
      frames_seen_ = frames;
      last_frame_at_ = now;
    }
    if (waiting_on_inference()) {
      // Back-pressure of a non-live stream on a slow model: no frame passes while the
      // inference elements wait for the engine, yet the stream is alive.
      if (!reported_waiting_) {
        g_message("stream %s: waiting on inference (a slow model slows this file down)",
                  config_.id.c_str());
        reported_waiting_ = true;
      }
      last_frame_at_ = now;
    }
    const double stall = stall_timeout_seconds();
    if (seconds_between(last_frame_at_, now) > stall) {
      char text[96];
      g_snprintf(text, sizeof text, "no frames for %.1f s (stall_timeout_seconds)", stall);
      fail(text);
    }
  }

  // Stops for good (removal, shutdown).
  void retire(bool drain) {
    take_down(drain && state_ == StreamState::kRunning);
    state_ = StreamState::kFinished;
    env_.metrics.metrics().stream_up(config_.id).Set(0);
  }

  void set_labels(const std::vector<std::string>& labels) {
    config_.tasks.classify.labels = labels;
    config_.tasks.classify.element.labels_file.clear();
    if (pipe_.classify != nullptr) apply_labels(pipe_.classify, config_.tasks.classify);
  }

  void set_alerts(const std::vector<pipeline::AlertRule>& rules) {
    config_.alerts = rules;
    if (pipe_.alert != nullptr) {
      apply_alerts(pipe_.alert, rules);
    } else if (pipe_.pipeline != nullptr && !rules.empty()) {
      // Built without internvlalert: only a new pipeline can have it. Down or finished
      // streams get it when they start again.
      g_message("stream %s: rebuilding the pipeline with internvlalert", config_.id.c_str());
      const bool was_running = state_ == StreamState::kRunning;
      take_down(false);
      start(false);
      if (was_running && state_ == StreamState::kStarting) state_ = StreamState::kRunning;
    }
  }

  StreamStatus status(Clock::time_point now) const {
    StreamStatus s;
    s.id = config_.id;
    s.uri = redact_uri(config_.uri);
    s.decode = config_.decode;
    s.state = state_;
    s.live = live_;
    s.frames = telemetry_->frames;
    s.frames_received = telemetry_->frames_received;
    s.frames_decoded = telemetry_->frames_decoded;
    s.frames_dropped = telemetry_->frames_dropped;
    s.decode_frames = config_.decode_frames;
    if (pipe_.pipeline != nullptr) {
      const KeyframesState keyframes = keyframes_state(pipe_.pipeline);
      s.decoding = keyframes.decoding;
      s.gop_seconds = keyframes.gop_seconds;
    }
    s.fps = fps_;
    s.restarts = restarts_;
    s.last_error = last_error_;
    if (state_ == StreamState::kBackoff)
      s.restart_in_seconds = std::max(0.0, seconds_between(now, next_start_));
    if (config_.tasks.classify.enabled) {
      s.labels = config_.tasks.classify.labels;
      s.labels_file = config_.tasks.classify.element.labels_file;
    }
    std::lock_guard<std::mutex> guard(telemetry_->lock);
    s.decoder = telemetry_->decoder;
    s.latest_labels = telemetry_->labels;
    s.latest_clip_labels = telemetry_->clip_labels;
    s.latest_caption = telemetry_->caption;
    return s;
  }

 private:
  static gboolean on_bus_message(GstBus* /*bus*/, GstMessage* message, gpointer self_pointer) {
    auto* self = static_cast<Stream*>(self_pointer);
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_ERROR:
        self->fail(describe_error(message));
        return G_SOURCE_REMOVE;  // fail() removed the watch already; this keeps GLib consistent
      case GST_MESSAGE_EOS:
        return self->on_eos() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
      case GST_MESSAGE_WARNING: {
        GError* error = nullptr;
        gst_message_parse_warning(message, &error, nullptr);
        g_warning("stream %s: warning from %s: %s", self->config_.id.c_str(),
                  GST_OBJECT_NAME(GST_MESSAGE_SRC(message)),
                  error != nullptr ? error->message : "unknown");
        g_clear_error(&error);
        return G_SOURCE_CONTINUE;
      }
      default:
        return G_SOURCE_CONTINUE;
    }
  }

  // Returns whether the bus watch stays.
  bool on_eos() {
    const bool restart = config_.restart_on_eos.value_or(live_);
    if (live_ && restart) {
      fail("the live source ended (end of stream)");
      return false;
    }
    if (restart && telemetry_->frames == frames_at_start_) {  // would loop without pause
      fail("end of stream without a single video frame");
      return false;
    }
    take_down(false);  // everything went through: EOS reached the sink
    if (restart) {     // a file played again: a restart, but not a failure; the stream stays up
      g_debug("stream %s: end of file; playing it again (restart_on_eos)", config_.id.c_str());
      const bool was_running = state_ == StreamState::kRunning;
      ++restarts_;
      env_.metrics.metrics().stream_restarts(config_.id).Increment();
      start(false);
      if (was_running && state_ == StreamState::kStarting) state_ = StreamState::kRunning;
    } else {
      env_.metrics.metrics().stream_up(config_.id).Set(0);
      g_message("stream %s: end of stream; finished", config_.id.c_str());
      state_ = StreamState::kFinished;
    }
    return false;
  }

  void fail(const std::string& reason) {
    take_down(false);
    env_.metrics.metrics().stream_up(config_.id).Set(0);
    ++failures_;
    const double delay = backoff_delay_seconds(env_.service.supervision.backoff_initial_seconds,
                                               env_.service.supervision.backoff_max_seconds,
                                               failures_, env_.system.unit_random());
    next_start_ = env_.system.now() + to_millis(delay);
    state_ = StreamState::kBackoff;
    last_error_ = reason;
    g_warning("stream %s: %s; restarting in %.1f s (failure %u in a row)", config_.id.c_str(),
              reason.c_str(), delay, failures_);
  }

  void take_down(bool drain) {
    if (watch_ != 0) {
      g_source_remove(watch_);
      watch_ = 0;
    }
    if (pipe_.pipeline != nullptr) {
      env_.reaper.retire(pipe_.pipeline, drain,
                         to_millis(env_.service.supervision.shutdown_timeout_seconds));
    }
    pipe_ = StreamPipeline{};
  }

  void mark_live() {
    live_ = true;
    telemetry_->leaky = true;
    gst_util_set_object_arg(G_OBJECT(pipe_.queue), "leaky", "downstream");
  }

  // Whether the source is live: a latency query upstream of the queue (the decoded stream), or
  // of a realtime file's pacing. Not one on the pipeline: that goes to the sink, and a sink that
  // syncs to the clock (a realtime file) answers "live" whatever its source, which made a paced
  // file's end a live source's failure (backoff) instead of a restart.
  bool source_is_live() const {
    GstPad* decoded = liveness_pad(pipe_.pipeline, pipe_.queue);
    GstQuery* query = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(decoded, query)) gst_query_parse_latency(query, &live, nullptr, nullptr);
    gst_query_unref(query);
    gst_object_unref(decoded);
    return live;
  }

  std::optional<std::string> first_error_on_bus() const {
    GstBus* bus = gst_element_get_bus(pipe_.pipeline);
    GstMessage* message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    gst_object_unref(bus);
    if (message == nullptr) return std::nullopt;
    std::string text = describe_error(message);
    gst_message_unref(message);
    return text;
  }

  void update_fps(Clock::time_point now) {
    const uint64_t frames = telemetry_->frames;
    if (fps_at_.has_value()) {
      const double elapsed = seconds_between(*fps_at_, now);
      if (elapsed < 2.0) return;
      fps_ = static_cast<double>(frames - fps_frames_) / elapsed;
    }
    fps_frames_ = frames;
    fps_at_ = now;
  }

  // Whether an inference element's streaming thread is waiting on the engine now (its
  // `inference-wait` property): then the stream is slowed down, not stalled.
  bool waiting_on_inference() const {
    for (GstElement* element : {pipe_.classify, pipe_.caption}) {
      if (element == nullptr ||
          g_object_class_find_property(G_OBJECT_GET_CLASS(element), "inference-wait") == nullptr)
        continue;
      guint64 waited = 0;
      g_object_get(element, "inference-wait", &waited, nullptr);
      if (waited > 0) return true;
    }
    return false;
  }

  double stall_timeout_seconds() const {
    return config_.stall_timeout_seconds > 0 ? config_.stall_timeout_seconds
                                             : env_.service.supervision.stall_timeout_seconds;
  }

  std::string decoder() const {
    std::lock_guard<std::mutex> guard(telemetry_->lock);
    return telemetry_->decoder;
  }

  StreamConfig config_;
  Env env_;
  std::shared_ptr<StreamTelemetry> telemetry_;
  StreamPipeline pipe_{};
  bool reported_waiting_ = false;  // said once per pipeline run: every slow caption waits
  guint watch_ = 0;
  StreamState state_ = StreamState::kStarting;
  bool live_ = false;
  unsigned failures_ = 0;
  uint64_t restarts_ = 0;
  uint64_t frames_at_start_ = 0;
  uint64_t frames_seen_ = 0;  // the count at the last tick
  std::string last_error_;
  Clock::time_point last_frame_at_{};  // or the start, before the first frame
  Clock::time_point running_since_{};
  Clock::time_point next_start_{};
  std::optional<Clock::time_point> fps_at_;  // unset until the first tick
  uint64_t fps_frames_ = 0;
  double fps_ = 0.0;
};

Supervisor::Supervisor(const ServiceConfig& config, SharedContexts shared,
                       std::shared_ptr<pipeline::MetricsHub> metrics, SupervisorEnv env)
    : config_(config),
      shared_(std::move(shared)),
      metrics_(std::move(metrics)),
      env_(std::move(env)) {}

Supervisor::~Supervisor() {
  stop_all(false);
  wait_for_teardowns();
}

size_t Supervisor::start_configured() {
  size_t started = 0;
  for (const auto& stream : config_.streams) {
    if (!stream_in_shard(stream.id, config_.sharding)) {
      g_message("stream %s: belongs to another shard (replicas %u, this is %u); not run here",
                stream.id.c_str(), config_.sharding.replicas, config_.sharding.ordinal);
      continue;
    }
    add(stream);
    ++started;
  }
  return started;
}

void Supervisor::add(const StreamConfig& stream) {
  if (streams_.count(stream.id) != 0)
    throw ConfigError("stream '" + stream.id + "' already exists");
  if (streams_.size() >= config_.limits.max_streams) {
    throw ConfigError("stream '" + stream.id + "' refused: " + std::to_string(streams_.size()) +
                      " streams already run, the most allowed (limits.max_streams)");
  }
  if (!stream_in_shard(stream.id, config_.sharding)) {
    throw ConfigError("stream '" + stream.id + "' belongs to another shard (replicas " +
                      std::to_string(config_.sharding.replicas) + ", this replica is " +
                      std::to_string(config_.sharding.ordinal) + ")");
  }
  auto created =
      std::make_unique<Stream>(stream, Stream::Env{config_, shared_, *metrics_, reaper_, env_});
  Stream& started = *created;
  streams_.emplace(stream.id, std::move(created));
  started.start();
}

bool Supervisor::remove(const std::string& id) {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return false;
  found->second->retire(true);
  streams_.erase(found);
  removed_.insert(id);
  g_message("stream %s: removed", id.c_str());
  return true;
}

bool Supervisor::set_labels(const std::string& id, const std::vector<std::string>& labels) {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return false;
  if (!found->second->config().tasks.classify.enabled) {
    throw ConfigError("stream '" + id + "' does not classify (tasks.classify.enabled is false)");
  }
  found->second->set_labels(labels);
  g_message("stream %s: label set replaced (%zu labels)", id.c_str(), labels.size());
  return true;
}

bool Supervisor::set_alerts(const std::string& id, const std::vector<pipeline::AlertRule>& rules) {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return false;
  if (!rules.empty() && !found->second->config().tasks.classify.enabled) {
    throw ConfigError("stream '" + id +
                      "' does not classify (tasks.classify.enabled is false): alerts score the "
                      "classify element's image embeddings");
  }
  found->second->set_alerts(rules);
  g_message("stream %s: alert rules replaced (%zu rules)", id.c_str(), rules.size());
  return true;
}

std::optional<std::vector<pipeline::AlertRule>> Supervisor::alerts(const std::string& id) const {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return std::nullopt;
  return found->second->config().alerts;
}

std::vector<StreamStatus> Supervisor::statuses() const {
  std::vector<StreamStatus> all;
  const auto now = env_.now();
  for (const auto& [id, stream] : streams_) all.push_back(stream->status(now));
  return all;
}

std::optional<StreamStatus> Supervisor::status(const std::string& id) const {
  const auto found = streams_.find(id);
  if (found == streams_.end()) return std::nullopt;
  return found->second->status(env_.now());
}

void Supervisor::tick() {
  const auto now = env_.now();
  for (auto& [id, stream] : streams_) stream->tick(now);
  reaper_.join_finished();
  if (reaper_.busy() == 0) {
    for (const auto& id : removed_) {
      if (streams_.count(id) == 0) metrics_->metrics().remove_stream(id);
    }
    removed_.clear();
  }
}

void Supervisor::stop_all(bool drain) {
  for (auto& [id, stream] : streams_) stream->retire(drain);
  streams_.clear();
}

void Supervisor::wait_for_teardowns() { reaper_.join_all(); }

std::vector<std::string> Supervisor::teardowns_unfinished() const { return reaper_.unfinished(); }

}  // namespace ivs::service
