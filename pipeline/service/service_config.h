// SPDX-License-Identifier: Apache-2.0
// The configuration of internvl-streamd, parsed from YAML (yaml-cpp) into typed structs. Every
// key is documented with its default in configs/README.md. Unknown keys are errors naming their
// path ("streams[1].decod"), so a typo never silently falls back to a default. Scalars may use
// ${VAR} or ${VAR:-default} (environment), e.g. the shard ordinal of a Kubernetes pod or a token
// kept out of the file.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/alerts/alert_rule.h"
#include "pipeline/alerts/clip_planner.h"
#include "pipeline/config/yaml_reader.h"
#include "pipeline/keyframe_filter.h"
#include "plugins/internvl/element_settings.h"
#include "sinks/http/http_server.h"
#include "sinks/index/search_index.h"

namespace ivs::service {

/// A configuration the service cannot run: the message names the file, the key path, the line
/// and what is expected ("cam.yaml: streams[0].decode (line 12): expected one of auto, gpu,
/// cpu; got 'gpux'").
using config::ConfigError;

/// The engine the service loads and every element's key to it. `engine.model` is the checkpoint
/// directory (required; absolute, made so relative to the config file); device is auto, cpu or
/// cuda (one process per GPU: CUDA_VISIBLE_DEVICES). metrics_address and stream_id are unused:
/// the service serves the metrics and names each stream.
struct ModelConfig {
  plugins::EngineSettings engine;
};

/// internvlclassify's properties in snake_case (README.md, "Use from gst-launch"). The labels are
/// a list here (the service reports and replaces them as one) and joined with ';' only when set
/// on the element: `element.labels` is unused, and so is `element.engine` (ModelConfig's applies).
/// element.labels_file is absolute (made so relative to the config file).
struct ClassifyConfig {
  bool enabled = true;
  std::vector<std::string> labels;
  plugins::ClassifySettings element;
};

/// internvlcaption's properties in snake_case; `element.engine` is unused (ModelConfig's applies).
struct CaptionConfig {
  bool enabled = false;
  plugins::CaptionElementSettings element;
};

struct TasksConfig {
  ClassifyConfig classify;
  CaptionConfig caption;
};

struct StreamConfig {
  std::string id;   // [A-Za-z0-9_.-]+: metric label, topic, REST path
  std::string uri;  // rtsp://, file:// (a bare absolute path becomes file://), http://, ...
  std::string decode = "auto";  // auto | gpu | cpu: which decoder
  // Which frames reach the decoder (internvlkeyframes' mode): auto | all | keyframes.
  pipeline::DecodeFrames decode_frames = pipeline::DecodeFrames::kAuto;
  bool realtime = false;               // pace a file source at its frame rate (as a camera would)
  std::optional<bool> restart_on_eos;  // unset: restart live sources, finish files
  double stall_timeout_seconds = 0.0;  // 0: supervision.stall_timeout_seconds
  TasksConfig tasks;                   // the service's tasks with this stream's overrides
  // The service's `alerts` unless the stream has its own list (which may be empty: none).
  std::vector<pipeline::AlertRule> alerts;
};

/// Where alert clips and snapshots go (configs/README.md, "Alerts"): clips to
/// <dir>/<stream id>/<event id>.mp4, snapshots beside them as <event id>.jpg.
struct RecordingConfig {
  std::string dir;  // top-level `recordings_dir`; empty: no clips, no snapshots
  // `recording:` pre_roll_seconds, post_roll_seconds, max_duration_seconds (internvlrecord's
  // pre-roll, post-roll, max-duration).
  pipeline::ClipLimits limits;
  // Clips this process recorded, all streams together; the oldest are deleted past it. 0: no cap.
  double max_disk_gb = 10.0;
};

/// The `search:` section (configs/README.md, "Search"): every sampled frame of every classifying
/// stream goes into one index (internvlindex after internvlclassify), searched over REST and on
/// the status page. Off unless the section is present: an index writes to disk continuously, so
/// a deployment opts in (`search: {}` takes every default) rather than finding a folder filled.
struct SearchConfig {
  bool enabled = false;  // true once a `search:` section is present, unless it says false
  // index.dir: `data_dir` (absolute, made so relative to the config file); default
  // <recordings_dir>/search, or <config dir>/search without recordings_dir.
  // index.retention_hours, index.max_disk_gb: `retention_hours`, `max_disk_gb` (defaults: the
  // index library's, 72 h and 10 GB).
  search::SearchIndexOptions index;
  // internvlindex's properties: `thumbnails` (key of the same name); location and stream_id
  // are unused (index.dir and the stream's id apply).
  plugins::IndexElementSettings element;
};

struct ZmqOutputConfig {
  std::string endpoint;  // empty: no ZeroMQ
  std::string topic_prefix;
  int send_hwm = 1000;
};

struct JsonlOutputConfig {
  std::string path;  // empty: no file
};

struct OutputsConfig {
  ZmqOutputConfig zmq;
  JsonlOutputConfig jsonl;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:8080";
  std::string auth_token;  // non-empty: mutating REST calls need "Authorization: Bearer <token>"
  // A listen address beyond loopback without auth_token is refused unless this is true (anyone
  // who reaches the port could add streams, i.e. make the service open URLs of their choice).
  bool allow_unauthenticated = false;
  // max_connections, max_connections_per_ip, connection_timeout_seconds,
  // request_timeout_seconds (keys of those names; defaults in HttpServerOptions).
  // max_body_bytes and threads are the service's own.
  sinks::HttpServerOptions server;
};

/// The `limits:` section (configs/README.md, "Limits"): what a config file or a REST caller may
/// create, so that a hostile or mistaken request cannot exhaust memory or open local files.
struct LimitsConfig {
  unsigned max_streams = 64;       // streams at once (config file and REST together)
  unsigned max_labels = 1000;      // labels per stream (inline lists)
  unsigned max_label_bytes = 256;  // bytes of one label (UTF-8)
  // Stream URI schemes accepted; "file" (and absolute paths) only when listed.
  std::vector<std::string> allowed_uri_schemes = {"rtsp", "rtsps", "http", "https"};
};

struct SupervisionConfig {
  double stall_timeout_seconds = 10.0;
  double backoff_initial_seconds = 1.0;
  double backoff_max_seconds = 60.0;
  double shutdown_timeout_seconds = 10.0;
  unsigned queue_max_buffers = 8;  // frames held between decode and inference
};

struct ShardingConfig {
  unsigned replicas = 1;
  unsigned ordinal = 0;
};

struct ServiceConfig {
  std::string origin;    // the file it came from (for messages)
  std::string base_dir;  // relative paths are resolved against it
  ModelConfig model;
  TasksConfig tasks;
  std::vector<pipeline::AlertRule> alerts;  // every stream's, unless it has its own
  RecordingConfig recording;
  SearchConfig search;
  std::vector<StreamConfig> streams;
  OutputsConfig outputs;
  HttpConfig http;
  SupervisionConfig supervision;
  ShardingConfig sharding;
  LimitsConfig limits;
};

/// Reads and checks `path`. Throws ConfigError (unreadable file, malformed YAML, unknown key,
/// wrong type or value, duplicate stream id, missing labels or label file). The model
/// directory is not opened here: the service checks it when it loads the model.
ServiceConfig load_service_config(const std::string& path);

/// The same from text; `origin` names it in messages, `base_dir` resolves relative paths.
ServiceConfig parse_service_config(const std::string& yaml, const std::string& origin,
                                   const std::string& base_dir);

/// Where a stream definition comes from. REST bodies are untrusted: ${VAR} is left as written
/// (no reading the server's environment) and labels_file / templates_file are refused (no
/// reading the server's files).
enum class StreamSource { kConfigFile, kRest };

/// One stream given as JSON or YAML text (the REST body of POST /api/v1/streams): the keys of
/// a `streams` entry, with the service's tasks as defaults. Throws ConfigError.
StreamConfig parse_stream_config(const std::string& text, const ServiceConfig& service,
                                 const std::string& origin, StreamSource source);

/// Checks a label set for internvlclassify (non-empty labels, no ';', which the element uses
/// as its separator; no NUL bytes, valid UTF-8; within limits.max_labels and
/// limits.max_label_bytes). Throws ConfigError naming `where` and the limit's key.
void check_labels(const std::vector<std::string>& labels, const LimitsConfig& limits,
                  const std::string& where);

/// Whether an http.listen address ("127.0.0.1:8080", "localhost:0", "[::1]:80") is loopback.
bool loopback_listen(const std::string& listen);

/// Whether this replica runs stream `id`: FNV-1a 64 of the id, modulo replicas, equals ordinal.
bool stream_in_shard(const std::string& id, const ShardingConfig& sharding);

using config::expand_environment;

}  // namespace ivs::service
