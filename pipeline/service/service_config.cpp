// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/service_config.h"

#include <glib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "pipeline/alerts/alert_rules_yaml.h"
#include "pipeline/config/yaml_reader.h"
#include "pipeline/service/alerts_config.h"
#include "pipeline/service/search_config.h"
#include "sinks/zmq/endpoint.h"

namespace ivs::service {
namespace {

namespace fs = std::filesystem;

using config::ascii_lower;
using config::join;
using config::MapReader;
using config::Place;
using config::read_bool;
using config::read_choice;
using config::read_enum;
using config::read_integer;
using config::read_number;
using config::read_seconds_as_ns;
using config::read_string;
using config::read_string_list;
using config::scalar_text;

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

void refuse_file_over_rest(const Place& at) {
  if (!at.trusted)
    at.fail(
        "files cannot be named over REST (they would be read on the server); give the labels "
        "inline");
}

void require_file(const std::string& path, const Place& at) {
  std::error_code error;
  if (!fs::is_regular_file(path, error))
    at.fail("file '" + path + "' does not exist or is not a regular file");
}

void parse_classify(const YAML::Node& node, const Place& at, const std::string& base_dir,
                    const LimitsConfig& limits, ClassifyConfig& config) {
  MapReader map(node, at);
  plugins::ClassifySettings& c = config.element;
  map.optional("enabled", [&](auto& v, auto& p) { config.enabled = read_bool(v, p); });
  map.optional("mode", [&](auto& v, auto& p) {
    c.mode = read_enum<plugins::Mode>(v, p, plugins::mode_names());
  });
  map.optional("labels", [&](auto& v, auto& p) {
    config.labels = read_string_list(v, p);
    check_labels(config.labels, limits, p.describe());
    c.labels_file.clear();  // the nearer setting wins over an inherited file
  });
  map.optional("labels_file", [&](auto& v, auto& p) {
    refuse_file_over_rest(p);
    c.labels_file = resolve_path(read_string(v, p), base_dir);
    require_file(c.labels_file, p);
  });
  map.optional("prompt_template", [&](auto& v, auto& p) {
    c.prompt_template = read_string(v, p);
    if (c.prompt_template.find("{}") == std::string::npos)
      p.fail("the template needs '{}' where the label goes");
    c.templates_file.clear();
  });
  map.optional("templates_file", [&](auto& v, auto& p) {
    refuse_file_over_rest(p);
    c.templates_file = resolve_path(read_string(v, p), base_dir);
    require_file(c.templates_file, p);
  });
  map.optional("interval",
               [&](auto& v, auto& p) { c.interval = read_integer(v, p, 0, UINT32_MAX); });
  map.optional("selection_fps",
               [&](auto& v, auto& p) { c.selection_fps = read_number(v, p, 0, 1000); });
  map.optional("clip_frames",
               [&](auto& v, auto& p) { c.clip_frames = read_integer(v, p, 0, 1024); });
  map.optional("top_k", [&](auto& v, auto& p) { c.top_k = read_integer(v, p, 1, 1000); });
  map.optional("threshold", [&](auto& v, auto& p) { c.threshold = read_number(v, p, 0, 1); });
  map.optional("max_latency_seconds",
               [&](auto& v, auto& p) { c.max_latency_ns = read_seconds_as_ns(v, p, 0, 3600); });
  map.optional("leaky", [&](auto& v, auto& p) {
    c.leaky = read_enum<plugins::Leaky>(v, p, plugins::leaky_names());
  });
  map.done();
}

void parse_caption(const YAML::Node& node, const Place& at, CaptionConfig& config) {
  MapReader map(node, at);
  plugins::CaptionElementSettings& e = config.element;
  pipeline::CaptionSettings& c = e.caption;
  map.optional("enabled", [&](auto& v, auto& p) { config.enabled = read_bool(v, p); });
  map.optional("prompt", [&](auto& v, auto& p) { c.prompt = read_string(v, p); });
  map.optional("num_beams", [&](auto& v, auto& p) { c.num_beams = read_integer(v, p, 1, 64); });
  map.optional("min_new_tokens",
               [&](auto& v, auto& p) { c.min_new_tokens = read_integer(v, p, 0, 1024); });
  map.optional("max_new_tokens",
               [&](auto& v, auto& p) { c.max_new_tokens = read_integer(v, p, 1, 1024); });
  map.optional("interval",
               [&](auto& v, auto& p) { e.interval = read_integer(v, p, 0, UINT32_MAX); });
  map.optional("selection_fps",
               [&](auto& v, auto& p) { e.selection_fps = read_number(v, p, 0, 1000); });
  map.done();
  if (c.min_new_tokens > c.max_new_tokens) at.fail("min_new_tokens is larger than max_new_tokens");
}

void parse_tasks(const YAML::Node& node, const Place& at, const std::string& base_dir,
                 const LimitsConfig& limits, TasksConfig& tasks) {
  MapReader map(node, at);
  map.optional("classify",
               [&](auto& v, auto& p) { parse_classify(v, p, base_dir, limits, tasks.classify); });
  map.optional("caption", [&](auto& v, auto& p) { parse_caption(v, p, tasks.caption); });
  map.done();
}

// What every task set must satisfy once defaults and overrides are merged.
void check_tasks(const TasksConfig& tasks, const Place& at) {
  const ClassifyConfig& c = tasks.classify;
  if (c.enabled && c.labels.empty() && c.element.labels_file.empty()) {
    at.fail("tasks.classify is enabled but has no labels: give 'labels: [...]' or 'labels_file'");
  }
}

// Checked here, before anything opens the URI: a refused one (file:///etc/passwd over REST)
// must not even be probed.
std::string normalise_uri(const std::string& given, const LimitsConfig& limits, const Place& at) {
  const std::string uri = !given.empty() && given.front() == '/' ? "file://" + given : given;
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) {
    at.fail(
        "expected a URI such as rtsp://host/path or file:///videos/a.mp4 (or an absolute path); "
        "got '" +
        uri + "'");
  }
  const std::string scheme = ascii_lower(uri.substr(0, scheme_end));
  const auto& allowed = limits.allowed_uri_schemes;
  if (std::find(allowed.begin(), allowed.end(), scheme) == allowed.end()) {
    at.fail("URI scheme '" + scheme + "' is not allowed (limits.allowed_uri_schemes: " +
            join(allowed) + "); the operator can add it to limits.allowed_uri_schemes");
  }
  return uri;
}

// "." and ".." would name the recordings folder's parent or itself.
bool valid_stream_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && id.find_first_not_of('.') != std::string::npos &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == '.';
         });
}

StreamConfig parse_stream(const YAML::Node& node, const Place& at, const ServiceConfig& service) {
  StreamConfig stream;
  stream.tasks = service.tasks;
  stream.alerts = service.alerts;
  MapReader map(node, at);
  if (!node.IsMap()) at.fail("expected a mapping with at least 'id' and 'uri'");
  map.required("id", [&](auto& v, auto& p) {
    stream.id = read_string(v, p);
    if (!valid_stream_id(stream.id)) {
      p.fail("stream id '" + stream.id +
             "' must be 1-128 characters of A-Z a-z 0-9 _ - . (not only dots)");
    }
  });
  map.required("uri", [&](auto& v, auto& p) {
    stream.uri = normalise_uri(read_string(v, p), service.limits, p);
  });
  map.optional("decode", [&](auto& v, auto& p) {
    stream.decode = read_choice(v, p, {"auto", "gpu", "cpu"});
  });
  map.optional("decode_frames", [&](auto& v, auto& p) {
    stream.decode_frames = read_enum<pipeline::DecodeFrames>(v, p, pipeline::decode_frames_names());
  });
  map.optional("realtime", [&](auto& v, auto& p) { stream.realtime = read_bool(v, p); });
  map.optional("restart_on_eos",
               [&](auto& v, auto& p) { stream.restart_on_eos = read_bool(v, p); });
  map.optional("stall_timeout_seconds", [&](auto& v, auto& p) {
    stream.stall_timeout_seconds = read_number(v, p, 0.1, 86400);
  });
  map.optional("tasks", [&](auto& v, auto& p) {
    parse_tasks(v, p, service.base_dir, service.limits, stream.tasks);
  });
  map.optional("alerts", [&](auto& v, auto& p) {
    stream.alerts = pipeline::read_alert_rules(v, p, service.base_dir);
  });
  map.done();
  check_tasks(stream.tasks, at);
  check_stream_alerts(stream, at);
  check_stream_search(stream, service, at);
  if (!stream.tasks.classify.enabled && !stream.tasks.caption.enabled) {
    at.fail("stream '" + stream.id + "' has neither classify nor caption enabled");
  }
  return stream;
}

std::string read_listen_address(const YAML::Node& node, const Place& at) {
  const std::string text = read_string(node, at);
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() ||
      text.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      text.size() - colon - 1 > 5 || std::stoul(text.substr(colon + 1)) > 65535) {
    at.fail("expected host:port such as 127.0.0.1:8080 (port 0 picks a free port); got '" + text +
            "'");
  }
  return text;
}

void parse_limits(const YAML::Node& node, const Place& at, LimitsConfig& limits) {
  MapReader map(node, at);
  map.optional("max_streams",
               [&](auto& v, auto& p) { limits.max_streams = read_integer(v, p, 1, 100000); });
  map.optional("max_labels",
               [&](auto& v, auto& p) { limits.max_labels = read_integer(v, p, 1, 1000000); });
  map.optional("max_label_bytes",
               [&](auto& v, auto& p) { limits.max_label_bytes = read_integer(v, p, 1, 65536); });
  map.optional("allowed_uri_schemes", [&](auto& v, auto& p) {
    limits.allowed_uri_schemes = read_string_list(v, p);
    for (auto& scheme : limits.allowed_uri_schemes) scheme = ascii_lower(scheme);
  });
  map.done();
}

// Secure by default: an API others can reach needs a token, or an explicit opt-out.
void check_http_security(const HttpConfig& http, const Place& top) {
  if (http.auth_token.empty() && !http.allow_unauthenticated && !loopback_listen(http.listen)) {
    top.fail("http.listen " + http.listen +
             " is reachable from other hosts but http.auth_token is empty: anyone could add, "
             "change and remove streams. Set http.auth_token, or http.allow_unauthenticated: "
             "true if the network is trusted");
  }
}

YAML::Node load_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": not valid YAML at line " + std::to_string(e.mark.line + 1) +
                      ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace

void check_labels(const std::vector<std::string>& labels, const LimitsConfig& limits,
                  const std::string& where) {
  if (labels.empty()) throw ConfigError(where + ": the label list is empty");
  if (labels.size() > limits.max_labels) {
    throw ConfigError(where + ": " + std::to_string(labels.size()) + " labels exceed " +
                      std::to_string(limits.max_labels) + " (limits.max_labels)");
  }
  std::set<std::string> seen;
  for (const auto& label : labels) {
    if (label.size() > limits.max_label_bytes) {
      throw ConfigError(where + ": a label of " + std::to_string(label.size()) + " bytes exceeds " +
                        std::to_string(limits.max_label_bytes) + " (limits.max_label_bytes)");
    }
    if (label.find('\0') != std::string::npos)
      throw ConfigError(where + ": a label contains a NUL byte");
    // glib: RFC 3629 (no overlong forms, surrogates or code points past U+10FFFF).
    if (!g_utf8_validate_len(label.data(), label.size(), nullptr))
      throw ConfigError(where + ": a label is not valid UTF-8");
    if (label.find_first_not_of(" \t") == std::string::npos)
      throw ConfigError(where + ": a label is empty");
    if (label.find(';') != std::string::npos) {
      throw ConfigError(where + ": label '" + label +
                        "' contains ';' (the element's separator); use labels_file");
    }
    if (!seen.insert(label).second)
      throw ConfigError(where + ": label '" + label + "' appears twice");
  }
}

bool loopback_listen(const std::string& listen) {
  return listen.rfind("127.", 0) == 0 || listen.rfind("localhost:", 0) == 0 ||
         listen.rfind("[::1]:", 0) == 0;
}

bool stream_in_shard(const std::string& id, const ShardingConfig& sharding) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64: stable across builds and languages
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return sharding.replicas <= 1 || hash % sharding.replicas == sharding.ordinal;
}

ServiceConfig parse_service_config(const std::string& yaml, const std::string& origin,
                                   const std::string& base_dir) {
  ServiceConfig config;
  config.origin = origin;
  config.base_dir = base_dir;
  const YAML::Node root = load_yaml(yaml, origin);
  const Place top{&config.origin, "", -1};
  if (!root.IsMap())
    top.fail("expected a mapping with 'model', 'tasks', 'streams', ... (see configs/README.md)");
  MapReader map(root, top);
  // Read first: tasks and streams are checked against the limits wherever they are in the file.
  map.optional("limits", [&](auto& node, auto& at) { parse_limits(node, at, config.limits); });
  map.required("model", [&](auto& node, auto& at) {
    MapReader model(node, at);
    plugins::EngineSettings& engine = config.model.engine;
    model.required("path", [&](auto& v, auto& p) {
      engine.model = resolve_path(read_string(v, p), base_dir);
      if (engine.model.empty()) p.fail("the model path is empty");
    });
    // One process per GPU (README.md, "Run the service"): pick the GPU with CUDA_VISIBLE_DEVICES,
    // not cuda:N.
    model.optional("device", [&](auto& v, auto& p) {
      engine.device = read_enum<plugins::Device>(v, p, plugins::device_names());
    });
    model.optional("dtype", [&](auto& v, auto& p) {
      engine.dtype = read_enum<plugins::Dtype>(v, p, plugins::dtype_names());
    });
    model.optional("batch_size",
                   [&](auto& v, auto& p) { engine.batch_size = read_integer(v, p, 1, 1024); });
    model.optional("batch_timeout_seconds", [&](auto& v, auto& p) {
      engine.batch_timeout_ns = read_seconds_as_ns(v, p, 0, 10);
    });
    model.done();
  });
  map.optional("tasks", [&](auto& node, auto& at) {
    parse_tasks(node, at, base_dir, config.limits, config.tasks);
  });
  map.optional("supervision", [&](auto& node, auto& at) {
    MapReader s(node, at);
    SupervisionConfig& c = config.supervision;
    s.optional("stall_timeout_seconds",
               [&](auto& v, auto& p) { c.stall_timeout_seconds = read_number(v, p, 0.1, 86400); });
    s.optional("backoff_initial_seconds", [&](auto& v, auto& p) {
      c.backoff_initial_seconds = read_number(v, p, 0.01, 3600);
    });
    s.optional("backoff_max_seconds",
               [&](auto& v, auto& p) { c.backoff_max_seconds = read_number(v, p, 0.01, 86400); });
    s.optional("shutdown_timeout_seconds",
               [&](auto& v, auto& p) { c.shutdown_timeout_seconds = read_number(v, p, 0, 3600); });
    s.optional("queue_max_buffers",
               [&](auto& v, auto& p) { c.queue_max_buffers = read_integer(v, p, 1, 1000); });
    s.done();
    if (c.backoff_max_seconds < c.backoff_initial_seconds)
      at.fail("backoff_max_seconds is below backoff_initial_seconds");
  });
  map.optional("alerts", [&](auto& node, auto& at) {
    config.alerts = pipeline::read_alert_rules(node, at, base_dir);
  });
  map.optional("recordings_dir", [&](auto& v, auto& p) {
    config.recording.dir = resolve_path(read_string(v, p), base_dir);
  });
  map.optional("recording",
               [&](auto& node, auto& at) { parse_recording(node, at, config.recording); });
  map.optional("search",
               [&](auto& node, auto& at) { parse_search(node, at, base_dir, config.search); });
  // Streams inherit `tasks` and `alerts` (and are checked against `search`), so they are read
  // after them whatever the order in the file.
  map.optional("streams", [&](auto& node, auto& at) {
    if (!node.IsSequence()) at.fail("expected a list of streams (- id: ...\\n  uri: ...)");
    if (node.size() > config.limits.max_streams) {
      at.fail(std::to_string(node.size()) + " streams exceed " +
              std::to_string(config.limits.max_streams) + " (limits.max_streams)");
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < node.size(); ++i) {
      StreamConfig stream = parse_stream(node[i], at.item(i, node[i]), config);
      if (!ids.insert(stream.id).second)
        at.item(i, node[i]).fail("duplicate stream id '" + stream.id + "'");
      config.streams.push_back(std::move(stream));
    }
  });
  map.optional("outputs", [&](auto& node, auto& at) {
    MapReader outputs(node, at);
    outputs.optional("zmq", [&](auto& zmq_node, auto& zmq_at) {
      MapReader zmq(zmq_node, zmq_at);
      ZmqOutputConfig& c = config.outputs.zmq;
      zmq.required("endpoint", [&](auto& v, auto& p) {
        c.endpoint = read_string(v, p);
        try {
          sinks::ZmqEndpoint::parse(c.endpoint);
        } catch (const std::exception& e) {
          p.fail(e.what());
        }
      });
      zmq.optional("topic_prefix", [&](auto& v, auto& p) { c.topic_prefix = read_string(v, p); });
      zmq.optional("send_hwm",
                   [&](auto& v, auto& p) { c.send_hwm = read_integer(v, p, 1, 10000000); });
      zmq.done();
    });
    outputs.optional("jsonl", [&](auto& jsonl_node, auto& jsonl_at) {
      MapReader jsonl(jsonl_node, jsonl_at);
      jsonl.required("path", [&](auto& v, auto& p) {
        config.outputs.jsonl.path = resolve_path(read_string(v, p), base_dir);
        if (config.outputs.jsonl.path.empty()) p.fail("the path is empty");
      });
      jsonl.done();
    });
    outputs.done();
  });
  map.optional("http", [&](auto& node, auto& at) {
    MapReader http(node, at);
    http.optional("listen",
                  [&](auto& v, auto& p) { config.http.listen = read_listen_address(v, p); });
    http.optional("auth_token",
                  [&](auto& v, auto& p) { config.http.auth_token = read_string(v, p); });
    http.optional("allow_unauthenticated",
                  [&](auto& v, auto& p) { config.http.allow_unauthenticated = read_bool(v, p); });
    sinks::HttpServerOptions& server = config.http.server;
    http.optional("max_connections", [&](auto& v, auto& p) {
      server.max_connections = read_integer(v, p, 8, 100000);
    });
    http.optional("max_connections_per_ip", [&](auto& v, auto& p) {
      server.max_connections_per_ip = read_integer(v, p, 1, 100000);
    });
    http.optional("connection_timeout_seconds", [&](auto& v, auto& p) {
      server.connection_timeout_seconds = read_integer(v, p, 1, 3600);
    });
    http.optional("request_timeout_seconds", [&](auto& v, auto& p) {
      server.request_timeout_seconds = read_integer(v, p, 1, 3600);
    });
    http.done();
  });
  check_http_security(config.http, top);
  map.optional("sharding", [&](auto& node, auto& at) {
    MapReader sharding(node, at);
    sharding.optional("replicas", [&](auto& v, auto& p) {
      config.sharding.replicas = read_integer(v, p, 1, 100000);
    });
    sharding.optional("ordinal", [&](auto& v, auto& p) {
      config.sharding.ordinal = read_integer(v, p, 0, 99999);
    });
    sharding.done();
    if (config.sharding.ordinal >= config.sharding.replicas) {
      at.fail("ordinal " + std::to_string(config.sharding.ordinal) + " must be below replicas " +
              std::to_string(config.sharding.replicas));
    }
  });
  map.done();
  resolve_search_dir(config.recording, base_dir, config.search);
  return config;
}

ServiceConfig load_service_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot read the config file (" + std::string(std::strerror(errno)) +
                      "); pass an existing YAML file, e.g. --config configs/file-source.yaml");
  }
  std::ostringstream text;
  text << in.rdbuf();
  const fs::path absolute = fs::absolute(path);
  return parse_service_config(text.str(), path, absolute.parent_path().string());
}

StreamConfig parse_stream_config(const std::string& text, const ServiceConfig& service,
                                 const std::string& origin, StreamSource source) {
  const YAML::Node node = load_yaml(text, origin);
  return parse_stream(node, Place{&origin, "", -1, source == StreamSource::kConfigFile}, service);
}

}  // namespace ivs::service
