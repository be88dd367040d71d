// SPDX-License-Identifier: Apache-2.0
// The service config: typed values and defaults, per-stream task overrides and alerts, environment
// expansion, and an error that names file, key path and line for every kind of bad input.
#include "pipeline/service/service_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline/alerts/alert_rules_yaml.h"
#include "pipeline/service/alerts_config.h"
#include "tests/common/test_paths.h"

namespace ivs::service {
namespace {

constexpr const char* kMinimal = R"(
model: {path: /models/m}
tasks:
  classify: {labels: [a cat, a dog]}
streams:
  - {id: cam01, uri: "rtsp://10.0.0.5/s1"}
)";

ServiceConfig parse(const std::string& text, const std::string& base_dir = "/etc/internvl") {
  return parse_service_config(text, "test.yaml", base_dir);
}

// The message of the ConfigError `text` raises.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ServiceConfigTest, minimal_config_gets_the_documented_defaults) {
  const ServiceConfig c = parse(kMinimal);
  EXPECT_EQ(c.model.engine.model, "/models/m");
  EXPECT_EQ(c.model.engine.device, plugins::Device::kAuto);
  EXPECT_EQ(c.model.engine.dtype, plugins::Dtype::kAuto);
  EXPECT_EQ(c.model.engine.batch_size, 16u);
  EXPECT_EQ(c.model.engine.batch_timeout_ns, 10'000'000u);  // 0.01 s
  ASSERT_EQ(c.streams.size(), 1u);
  const StreamConfig& s = c.streams[0];
  EXPECT_EQ(s.id, "cam01");
  EXPECT_EQ(s.decode, "auto");
  EXPECT_FALSE(s.restart_on_eos.has_value());
  EXPECT_TRUE(s.tasks.classify.enabled);
  EXPECT_EQ(s.tasks.classify.element.mode, plugins::Mode::kC);
  EXPECT_EQ(s.tasks.classify.element.prompt_template, "a photo of {}.");
  EXPECT_EQ(s.tasks.classify.element.clip_frames, 8u);
  EXPECT_EQ(s.tasks.classify.element.top_k, 5u);
  EXPECT_FALSE(s.tasks.caption.enabled);
  EXPECT_DOUBLE_EQ(s.tasks.caption.element.selection_fps, 0.2);
  EXPECT_EQ(c.http.listen, "127.0.0.1:8080");
  EXPECT_TRUE(c.http.auth_token.empty());
  EXPECT_DOUBLE_EQ(c.supervision.stall_timeout_seconds, 10.0);
  EXPECT_DOUBLE_EQ(c.supervision.backoff_initial_seconds, 1.0);
  EXPECT_DOUBLE_EQ(c.supervision.backoff_max_seconds, 60.0);
  EXPECT_EQ(c.sharding.replicas, 1u);
  EXPECT_TRUE(c.outputs.zmq.endpoint.empty());
}

TEST(ServiceConfigTest, streams_inherit_tasks_and_override_them_key_by_key) {
  const ServiceConfig c = parse(R"(
streams:                      # before tasks in the file: inheritance does not depend on order
  - {id: a, uri: /videos/a.mp4, realtime: true, restart_on_eos: true}
  - id: b
    uri: file:///videos/b.mp4
    decode: cpu
    stall_timeout_seconds: 3
    tasks:
      classify: {labels: [x, y], top_k: 2}
      caption: {enabled: true, num_beams: 1}
model: {path: m, device: cpu, dtype: fp32, batch_size: 4, batch_timeout_seconds: 0.5}
tasks:
  classify: {labels: [a cat, a dog], mode: g, selection_fps: 2.5, threshold: 0.1}
outputs:
  zmq: {endpoint: "bind:tcp://*:5555", topic_prefix: "site1/", send_hwm: 50}
  jsonl: {path: out/results.jsonl}
http: {listen: "0.0.0.0:0", auth_token: s3cret}
limits: {allowed_uri_schemes: [rtsp, file]}
)",
                                "/etc/internvl");
  EXPECT_EQ(c.model.engine.model, "/etc/internvl/m");  // relative to the config's directory
  EXPECT_EQ(c.outputs.jsonl.path, "/etc/internvl/out/results.jsonl");
  EXPECT_EQ(c.outputs.zmq.topic_prefix, "site1/");
  EXPECT_EQ(c.outputs.zmq.send_hwm, 50);
  ASSERT_EQ(c.streams.size(), 2u);
  const StreamConfig& a = c.streams[0];
  EXPECT_EQ(a.uri, "file:///videos/a.mp4");  // an absolute path becomes a file URI
  EXPECT_TRUE(a.realtime);
  EXPECT_EQ(a.restart_on_eos, true);
  EXPECT_EQ(a.tasks.classify.element.mode, plugins::Mode::kG);
  EXPECT_EQ(a.tasks.classify.labels, (std::vector<std::string>{"a cat", "a dog"}));
  EXPECT_DOUBLE_EQ(a.tasks.classify.element.selection_fps, 2.5);
  const StreamConfig& b = c.streams[1];
  EXPECT_EQ(b.decode, "cpu");
  EXPECT_DOUBLE_EQ(b.stall_timeout_seconds, 3.0);
  EXPECT_EQ(b.tasks.classify.labels, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b.tasks.classify.element.top_k, 2u);
  EXPECT_EQ(b.tasks.classify.element.mode, plugins::Mode::kG);  // inherited
  EXPECT_DOUBLE_EQ(b.tasks.classify.element.threshold, 0.1);    // inherited
  EXPECT_TRUE(b.tasks.caption.enabled);
  EXPECT_EQ(b.tasks.caption.element.caption.num_beams, 1);
}

TEST(ServiceConfigTest, decode_frames_defaults_to_auto_and_takes_each_mode) {
  EXPECT_EQ(parse(kMinimal).streams.at(0).decode_frames, pipeline::DecodeFrames::kAuto);
  const struct {
    const char* text;
    pipeline::DecodeFrames mode;
  } cases[] = {{"auto", pipeline::DecodeFrames::kAuto},
               {"all", pipeline::DecodeFrames::kAll},
               {"keyframes", pipeline::DecodeFrames::kKeyframes}};
  constexpr const char* kStream = R"(
model: {path: /m}
tasks: {classify: {labels: [a]}}
streams:
  - {id: a, uri: "rtsp://h/s", decode: cpu, decode_frames: )";
  for (const auto& c : cases) {
    const ServiceConfig config = parse(kStream + std::string(c.text) + "}\n");
    EXPECT_EQ(config.streams.at(0).decode_frames, c.mode) << c.text;
    EXPECT_EQ(config.streams.at(0).decode, "cpu") << c.text;  // the decoder is chosen apart
  }
}

TEST(ServiceConfigTest, a_bad_decode_frames_names_the_key_line_and_choices) {
  const std::string error = error_of(R"(
model: {path: /m}
tasks: {classify: {labels: [a]}}
streams:
  - id: a
    uri: "rtsp://h/s"
    decode_frames: iframes
)");
  EXPECT_NE(error.find("test.yaml: streams[0].decode_frames (line 7): expected one of auto, all, "
                       "keyframes; got 'iframes'"),
            std::string::npos)
      << error;
}

TEST(ServiceConfigTest, unknown_keys_are_rejected_with_their_path_and_line) {
  const std::string top = error_of(std::string(kMinimal) + "logging: {level: debug}\n");
  EXPECT_NE(top.find("test.yaml: logging"), std::string::npos) << top;
  EXPECT_NE(top.find("unknown key 'logging'"), std::string::npos) << top;
  const std::string nested = error_of(R"(
model: {path: /m}
tasks: {classify: {labels: [a]}}
streams:
  - {id: a, uri: "rtsp://h/s"}
  - id: b
    uri: "rtsp://h/t"
    decod: cpu
)");
  EXPECT_NE(nested.find("streams[1].decod (line 8)"), std::string::npos) << nested;
  EXPECT_NE(nested.find("known here: id, uri, decode"), std::string::npos) << nested;
  const std::string task = error_of("model: {path: /m}\ntasks: {classify: {label: [a]}}\n");
  EXPECT_NE(task.find("tasks.classify.label"), std::string::npos) << task;
}

TEST(ServiceConfigTest, wrong_types_and_values_name_what_is_expected) {
  EXPECT_NE(error_of("model: {path: /m, batch_size: many}")
                .find("model.batch_size (line 1): expected an integer; got 'many'"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m, batch_size: 0}").find("in [1, 1024]"), std::string::npos);
  EXPECT_NE(error_of("model: {path: /m, device: cuda:1}")
                .find("expected one of auto, cpu, cuda; got 'cuda:1'"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: [a], mode: x}}")
                .find("expected one of c, g"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: a b}}")
                .find("expected a list of strings"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {caption: {enabled: maybe}}")
                .find("expected true or false"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\nstreams: {id: a}").find("expected a list of streams"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\nhttp: {listen: localhost}").find("expected host:port"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\noutputs: {zmq: {endpoint: 'bind:nonsense'}}")
                .find("outputs.zmq.endpoint"),
            std::string::npos);
  EXPECT_NE(error_of("tasks: {}").find("missing required key 'model'"), std::string::npos);
  EXPECT_NE(error_of("- just\n- a list\n").find("expected a mapping"), std::string::npos);
}

TEST(ServiceConfigTest, malformed_yaml_names_line_and_column) {
  const std::string message = error_of("model:\n  path: /m\n  device: [cpu\n");
  EXPECT_NE(message.find("test.yaml: not valid YAML at line"), std::string::npos) << message;
}

TEST(ServiceConfigTest, streams_are_checked) {
  const std::string base = "model: {path: /m}\ntasks: {classify: {labels: [a]}}\n";
  EXPECT_NE(error_of(base + "streams: [{id: a, uri: 'rtsp://h/1'}, {id: a, uri: 'rtsp://h/2'}]")
                .find("duplicate stream id 'a'"),
            std::string::npos);
  EXPECT_NE(error_of(base + "streams: [{id: 'cam 1', uri: 'rtsp://h/1'}]")
                .find("must be 1-128 characters"),
            std::string::npos);
  EXPECT_NE(error_of(base + "streams: [{id: a, uri: 'videos/a.mp4'}]").find("expected a URI"),
            std::string::npos);
  EXPECT_NE(error_of(base + "streams: [{id: a}]").find("missing required key 'uri'"),
            std::string::npos);
  EXPECT_NE(
      error_of("model: {path: /m}\nstreams: [{id: a, uri: 'rtsp://h/1'}]").find("has no labels"),
      std::string::npos);
  EXPECT_NE(
      error_of(base + "streams: [{id: a, uri: 'rtsp://h/1', tasks: {classify: {enabled: false}}}]")
          .find("neither classify nor caption"),
      std::string::npos);
}

TEST(ServiceConfigTest, labels_are_checked_and_label_files_must_exist) {
  EXPECT_NE(
      error_of("model: {path: /m}\ntasks: {classify: {labels: ['a;b']}}").find("contains ';'"),
      std::string::npos);
  EXPECT_NE(
      error_of("model: {path: /m}\ntasks: {classify: {labels: [a, a]}}").find("appears twice"),
      std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: []}}").find("empty"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels_file: no-such.txt}}")
                .find("file '/etc/internvl/no-such.txt' does not exist"),
            std::string::npos);
  const auto dir = test::scratch_dir("service_config_labels");
  std::ofstream(dir / "labels.txt") << "a cat\na dog\n";
  const ServiceConfig c = parse_service_config(
      "model: {path: /m}\ntasks: {classify: {labels_file: labels.txt}}\nstreams: [{id: a, uri: "
      "'rtsp://h/1'}]\n",
      "t.yaml", dir.string());
  EXPECT_EQ(c.streams[0].tasks.classify.element.labels_file, (dir / "labels.txt").string());
}

TEST(ServiceConfigTest, environment_variables_expand_with_defaults) {
  setenv("IVS_TEST_MODEL", "/models/from-env", 1);
  setenv("IVS_TEST_EMPTY", "", 1);
  unsetenv("IVS_TEST_UNSET");
  const ServiceConfig c = parse(R"(
model: {path: "${IVS_TEST_MODEL}", batch_size: "${IVS_TEST_UNSET:-8}"}
http: {auth_token: "${IVS_TEST_EMPTY:-fallback}"}
outputs: {jsonl: {path: "/tmp/$${IVS_TEST_UNSET}.jsonl"}}
)");
  EXPECT_EQ(c.model.engine.model, "/models/from-env");
  EXPECT_EQ(c.model.engine.batch_size, 8u);
  EXPECT_EQ(c.http.auth_token, "fallback");  // set but empty takes the default, as in the shell
  EXPECT_EQ(c.outputs.jsonl.path, "/tmp/${IVS_TEST_UNSET}.jsonl");  // $$ is a literal $
  const std::string message = error_of("model: {path: '${IVS_TEST_UNSET}'}");
  EXPECT_NE(message.find("environment variable 'IVS_TEST_UNSET' is not set"), std::string::npos)
      << message;
  EXPECT_NE(error_of("model: {path: '${IVS_TEST_MODEL'}").find("unclosed"), std::string::npos);
  EXPECT_EQ(expand_environment("cost: $$5 ${IVS_TEST_MODEL}", "x"), "cost: $5 /models/from-env");
}

TEST(ServiceConfigTest, missing_file_is_an_error_naming_it) {
  try {
    load_service_config("/nonexistent/internvl.yaml");
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/internvl.yaml: cannot read the config file"),
              std::string::npos)
        << e.what();
  }
}

TEST(ServiceConfigTest, a_rest_stream_body_is_parsed_like_a_config_entry) {
  const ServiceConfig service = parse(kMinimal);
  const StreamConfig s = parse_stream_config(
      R"({"id": "cam09", "uri": "rtsp://h/9", "decode": "cpu", "decode_frames": "all", "tasks": {"classify": {"labels": ["a bus"]}}})",
      service, "request body", StreamSource::kRest);
  EXPECT_EQ(s.id, "cam09");
  EXPECT_EQ(s.decode, "cpu");
  EXPECT_EQ(s.decode_frames, pipeline::DecodeFrames::kAll);
  EXPECT_EQ(s.tasks.classify.labels, std::vector<std::string>{"a bus"});
  EXPECT_EQ(s.tasks.classify.element.top_k, 5u);
  try {
    parse_stream_config(R"({"id": "x", "uri": "rtsp://h/1", "colour": "red"})", service,
                        "request body", StreamSource::kRest);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("request body: colour"), std::string::npos) << e.what();
  }
}

TEST(ServiceConfigTest, a_rest_body_reads_neither_the_servers_environment_nor_its_files) {
  const ServiceConfig service = parse(kMinimal);
  setenv("IVS_TEST_SECRET", "hunter2", 1);
  const StreamConfig s = parse_stream_config(
      R"({"id": "x", "uri": "rtsp://h/1", "tasks": {"classify": {"labels": ["${IVS_TEST_SECRET}"]}}})",
      service, "request body", StreamSource::kRest);
  EXPECT_EQ(s.tasks.classify.labels, std::vector<std::string>{"${IVS_TEST_SECRET}"});  // as written
  for (const char* key : {"labels_file", "templates_file"}) {
    try {
      parse_stream_config(
          std::string(R"({"id": "x", "uri": "rtsp://h/1", "tasks": {"classify": {")") + key +
              R"(": "/etc/passwd"}}})",
          service, "request body", StreamSource::kRest);
      FAIL() << key << " was accepted over REST";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("files cannot be named over REST"), std::string::npos)
          << e.what();
    }
  }
  // The same text from a config file is trusted.
  const StreamConfig trusted = parse_stream_config(
      R"({"id": "x", "uri": "rtsp://h/1", "tasks": {"classify": {"labels": ["${IVS_TEST_SECRET}"]}}})",
      service, "config", StreamSource::kConfigFile);
  EXPECT_EQ(trusted.tasks.classify.labels, std::vector<std::string>{"hunter2"});
}

TEST(ServiceConfigTest, listen_ports_are_range_checked) {
  EXPECT_NE(
      error_of("model: {path: /m}\nhttp: {listen: '127.0.0.1:70000'}").find("expected host:port"),
      std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\nhttp: {listen: '127.0.0.1:99999999999999999999'}")
                .find("expected host:port"),
            std::string::npos);
  EXPECT_EQ(parse("model: {path: /m}\nhttp: {listen: '[::1]:65535'}").http.listen, "[::1]:65535");
}

TEST(ServiceConfigTest, a_reachable_api_without_a_token_is_refused_unless_allowed) {
  const std::string base = "model: {path: /m}\n";
  const std::string message = error_of(base + "http: {listen: '0.0.0.0:8080'}");
  EXPECT_NE(message.find("http.auth_token"), std::string::npos) << message;
  EXPECT_NE(message.find("http.allow_unauthenticated"), std::string::npos) << message;
  EXPECT_NE(error_of(base + "http: {listen: '10.0.0.7:8080', auth_token: ''}").find("auth_token"),
            std::string::npos);
  EXPECT_EQ(parse(base + "http: {listen: '0.0.0.0:8080', auth_token: s3cret}").http.auth_token,
            "s3cret");
  EXPECT_TRUE(parse(base + "http: {listen: '0.0.0.0:8080', allow_unauthenticated: true}")
                  .http.allow_unauthenticated);
  const ServiceConfig limited = parse(
      base +
      "http: {max_connections: 100, max_connections_per_ip: 5, connection_timeout_seconds: 3, "
      "request_timeout_seconds: 7}");
  EXPECT_EQ(limited.http.server.max_connections, 100u);
  EXPECT_EQ(limited.http.server.request_timeout_seconds, 7u);
  EXPECT_EQ(limited.http.server.max_connections_per_ip, 5u);
  EXPECT_EQ(limited.http.server.connection_timeout_seconds, 3u);
  EXPECT_EQ(parse(base).http.server.max_connections_per_ip, 32u);
  for (const std::string& loopback :
       std::vector<std::string>{"127.0.0.1:0", "localhost:8080", "[::1]:80"})
    EXPECT_EQ(parse(base + "http: {listen: '" + loopback + "'}").http.listen, loopback);
}

TEST(ServiceConfigTest, a_duplicated_key_names_the_key_and_both_lines) {
  const std::string message =
      error_of("model: {path: /m}\nhttp:\n  listen: 127.0.0.1:1\n  listen: 0.0.0.0:2\n");
  EXPECT_NE(message.find("duplicate key 'listen' (lines 3 and 4)"), std::string::npos) << message;
  EXPECT_NE(error_of("model: {path: /m}\nmodel: {path: /n}\n").find("duplicate key 'model'"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "streams: []\n").find("duplicate key 'streams'"),
            std::string::npos);
}

TEST(ServiceConfigTest, uri_schemes_are_limited_to_the_allowed_list) {
  const std::string base = "model: {path: /m}\ntasks: {classify: {labels: [a]}}\n";
  for (const std::string& uri :
       std::vector<std::string>{"file:///etc/passwd", "/videos/a.mp4", "v4l2:///dev/video0"}) {
    const std::string message = error_of(base + "streams: [{id: a, uri: '" + uri + "'}]");
    EXPECT_NE(message.find("is not allowed (limits.allowed_uri_schemes: rtsp, rtsps, http, https)"),
              std::string::npos)
        << message;
  }
  for (const std::string& uri :
       std::vector<std::string>{"rtsp://h/1", "RTSPS://h/1", "http://h/a", "https://h/a"})
    EXPECT_EQ(parse(base + "streams: [{id: a, uri: '" + uri + "'}]").streams.size(), 1u) << uri;
  // Read before the streams wherever it stands in the file.
  const ServiceConfig c = parse(base + "streams: [{id: a, uri: /videos/a.mp4}]\n" +
                                "limits: {allowed_uri_schemes: [rtsp, File]}\n");
  EXPECT_EQ(c.streams[0].uri, "file:///videos/a.mp4");
  EXPECT_EQ(c.limits.allowed_uri_schemes, (std::vector<std::string>{"rtsp", "file"}));
}

TEST(ServiceConfigTest, stream_count_and_labels_are_limited_naming_the_setting) {
  const ServiceConfig defaults = parse(kMinimal);
  EXPECT_EQ(defaults.limits.max_streams, 64u);
  EXPECT_EQ(defaults.limits.max_labels, 1000u);
  EXPECT_EQ(defaults.limits.max_label_bytes, 256u);
  const std::string base = "model: {path: /m}\ntasks: {classify: {labels: [a]}}\n";
  const std::string three =
      "streams: [{id: a, uri: 'rtsp://h/1'}, {id: b, uri: 'rtsp://h/2'}, "
      "{id: c, uri: 'rtsp://h/3'}]\n";
  EXPECT_NE(error_of(base + three + "limits: {max_streams: 2}")
                .find("3 streams exceed 2 "
                      "(limits.max_streams)"),
            std::string::npos);
  EXPECT_EQ(parse(base + three + "limits: {max_streams: 3}").streams.size(), 3u);
  const std::string limits = "limits: {max_labels: 2, max_label_bytes: 5}\n";
  EXPECT_NE(error_of(limits + "model: {path: /m}\ntasks: {classify: {labels: [a, b, c]}}")
                .find("3 labels exceed 2 (limits.max_labels)"),
            std::string::npos);
  EXPECT_NE(error_of(limits + "model: {path: /m}\ntasks: {classify: {labels: [abcdef]}}")
                .find("(limits.max_label_bytes)"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: [\"a\\0b\"]}}").find("NUL"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: [\"a\xc3\x28\"]}}")
                .find("not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of("model: {path: /m}\ntasks: {classify: {labels: [\"\xed\xa0\x80\"]}}")
                .find("not valid UTF-8"),
            std::string::npos);  // a UTF-16 surrogate
}

TEST(ServiceConfigTest, sharding_splits_streams_by_a_stable_hash) {
  EXPECT_NE(error_of("model: {path: /m}\nsharding: {replicas: 2, ordinal: 2}")
                .find("must be below replicas"),
            std::string::npos);
  // FNV-1a 64 of "cam01" is 0xe88cab3a98c1c1df (fixed by the algorithm): odd, so replica 1 of 2.
  EXPECT_TRUE(stream_in_shard("cam01", {2, 1}));
  EXPECT_FALSE(stream_in_shard("cam01", {2, 0}));
  EXPECT_TRUE(stream_in_shard("anything", {1, 0}));
  int per_shard[3] = {0, 0, 0};
  for (int i = 0; i < 300; ++i) {
    int owners = 0;
    for (unsigned ordinal = 0; ordinal < 3; ++ordinal) {
      if (stream_in_shard("cam" + std::to_string(i), {3, ordinal})) {
        ++owners;
        ++per_shard[ordinal];
      }
    }
    EXPECT_EQ(owners, 1) << "cam" << i;  // exactly one replica runs each stream
  }
  for (int count : per_shard) EXPECT_GT(count, 60);  // and the split is not lopsided
}

// Alerts: `alerts:` at the top level and per stream (inherited, overridden, emptied),
// recordings_dir and `recording:`, errors naming the rule's path and field, the classify
// requirement, and the REST body (JSON or YAML, untrusted) with its round trip through the
// element's `rules` text (pipeline/service/alerts_config.h).
constexpr const char* kAlertsBase = R"(
model: {path: /models/m}
tasks:
  classify: {labels: [a cat, a dog, a car]}
)";

std::string body_error_of(const std::string& body) {
  try {
    parse_alert_rules_body(body, "request body");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AlertsConfigTest, streams_inherit_the_global_rules_unless_they_have_their_own) {
  const ServiceConfig c = parse(std::string(kAlertsBase) + R"(
streams:                      # before alerts in the file: inheritance does not depend on order
  - {id: a, uri: "rtsp://h/a"}
  - id: b
    uri: "rtsp://h/b"
    alerts:
      - {name: car, prompt: a car, negatives: [a road], on_threshold: 0.7, min_on: 0.5}
  - {id: c, uri: "rtsp://h/c", alerts: []}
alerts:
  - name: cat
    prompt: a cat
    negatives: "a dog;a sofa"
recordings_dir: recordings
)");
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].negatives, (std::vector<std::string>{"a dog", "a sofa"}));
  ASSERT_EQ(c.streams.size(), 3u);
  ASSERT_EQ(c.streams[0].alerts.size(), 1u);
  EXPECT_EQ(c.streams[0].alerts[0].name, "cat");
  ASSERT_EQ(c.streams[1].alerts.size(), 1u);
  EXPECT_EQ(c.streams[1].alerts[0].prompt, "a car");
  EXPECT_DOUBLE_EQ(c.streams[1].alerts[0].on_threshold, 0.7);
  EXPECT_DOUBLE_EQ(c.streams[1].alerts[0].min_on_seconds, 0.5);
  EXPECT_DOUBLE_EQ(c.streams[1].alerts[0].off_threshold, 0.4);  // the rule's default
  EXPECT_TRUE(c.streams[2].alerts.empty());
  EXPECT_EQ(c.recording.dir, "/etc/internvl/recordings");  // relative to the config's directory
  EXPECT_EQ(stream_recordings_dir(c.recording, "a"), "/etc/internvl/recordings/a");
}

TEST(AlertsConfigTest, recording_limits_have_documented_defaults_and_ranges) {
  const ServiceConfig defaults = parse(std::string(kAlertsBase) + "");
  EXPECT_TRUE(defaults.recording.dir.empty());
  EXPECT_TRUE(stream_recordings_dir(defaults.recording, "a").empty());
  EXPECT_DOUBLE_EQ(defaults.recording.limits.pre_roll_seconds, 5.0);
  EXPECT_DOUBLE_EQ(defaults.recording.limits.post_roll_seconds, 5.0);
  EXPECT_DOUBLE_EQ(defaults.recording.limits.max_duration_seconds, 300.0);
  EXPECT_DOUBLE_EQ(defaults.recording.max_disk_gb, 10.0);
  const ServiceConfig set =
      parse(std::string(kAlertsBase) +
            "recording: {pre_roll_seconds: 2, post_roll_seconds: 3, max_duration_seconds: 60, "
            "max_disk_gb: 0.5}\n");
  EXPECT_DOUBLE_EQ(set.recording.limits.pre_roll_seconds, 2.0);
  EXPECT_DOUBLE_EQ(set.recording.limits.post_roll_seconds, 3.0);
  EXPECT_DOUBLE_EQ(set.recording.limits.max_duration_seconds, 60.0);
  EXPECT_DOUBLE_EQ(set.recording.max_disk_gb, 0.5);
  EXPECT_NE(error_of(std::string(kAlertsBase) + "recording: {pre_roll: 2}\n")
                .find("recording.pre_roll (line"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kAlertsBase) +
                     "recording: {pre_roll_seconds: 30, max_duration_seconds: 20}\n")
                .find("pre_roll_seconds must be below max_duration_seconds"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kAlertsBase) + "recording: {max_disk_gb: -1}\n")
                .find("recording.max_disk_gb"),
            std::string::npos);
}

TEST(AlertsConfigTest, a_bad_rule_names_its_path_and_field) {
  const std::string streams =
      "streams:\n  - {id: a, uri: \"rtsp://h/a\"}\n  - id: b\n"
      "    uri: \"rtsp://h/b\"\n    alerts:\n";
  const std::string off =
      error_of(std::string(kAlertsBase) + streams +
               "      - {name: x, prompt: a cat, on_threshold: 0.5, off_threshold: 0.8}\n");
  EXPECT_NE(off.find("test.yaml: streams[1].alerts[0] (line"), std::string::npos) << off;
  EXPECT_NE(off.find("off-threshold"), std::string::npos) << off;
  const std::string min_on = error_of(std::string(kAlertsBase) + streams +
                                      "      - {name: x, prompt: a cat, min_on: -1}\n");
  EXPECT_NE(min_on.find("streams[1].alerts[0].min_on (line"), std::string::npos) << min_on;
  const std::string empty =
      error_of(std::string(kAlertsBase) + "alerts: [{name: x, prompt: ''}]\n");
  EXPECT_NE(empty.find("alerts[0]"), std::string::npos) << empty;
  EXPECT_NE(empty.find("prompt is empty"), std::string::npos) << empty;
  const std::string unknown =
      error_of(std::string(kAlertsBase) + "alerts: [{name: x, prompt: p, colour: red}]\n");
  EXPECT_NE(unknown.find("alerts[0].colour"), std::string::npos) << unknown;
  const std::string twice =
      error_of(std::string(kAlertsBase) + "alerts: [{name: x, prompt: p}, {name: x, prompt: q}]\n");
  EXPECT_NE(twice.find("used twice"), std::string::npos) << twice;
  EXPECT_NE(
      error_of(std::string(kAlertsBase) + "alerts: {name: x}\n").find("expected a list of rules"),
      std::string::npos);
}

TEST(AlertsConfigTest, alerts_need_classify) {
  const std::string error = error_of(std::string(kAlertsBase) + R"(
alerts: [{name: x, prompt: a cat}]
streams:
  - id: cap
    uri: "rtsp://h/a"
    tasks: {classify: {enabled: false}, caption: {enabled: true}}
)");
  EXPECT_NE(error.find("streams[0]"), std::string::npos) << error;
  EXPECT_NE(error.find("tasks.classify is disabled"), std::string::npos) << error;
  EXPECT_NO_THROW(parse(std::string(kAlertsBase) + R"(
alerts: [{name: x, prompt: a cat}]
streams:
  - id: cap
    uri: "rtsp://h/a"
    alerts: []
    tasks: {classify: {enabled: false}, caption: {enabled: true}}
)"));
}

TEST(AlertsConfigTest, negatives_files_are_read_from_the_config_but_refused_over_rest) {
  const auto dir = test::scratch_dir("alerts_config_negatives");
  std::ofstream(dir / "labels.txt") << "a dog\na car\n";
  const ServiceConfig c = parse_service_config(
      std::string(kAlertsBase) + "alerts: [{name: x, prompt: a cat, negatives_file: labels.txt}]\n",
      "test.yaml", dir.string());
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].negatives, (std::vector<std::string>{"a dog", "a car"}));
  const std::string rest =
      body_error_of(R"([{"name": "x", "prompt": "a cat", "negatives_file": ")" +
                    (dir / "labels.txt").string() + R"("}])");
  EXPECT_NE(rest.find("cannot be named over REST"), std::string::npos) << rest;
  const std::string stream = [&] {
    try {
      parse_stream_config(R"({"id": "s", "uri": "rtsp://h/s", "alerts": [{"name": "x",
                          "prompt": "p", "negatives_file": "/etc/passwd"}]})",
                          c, "request body", StreamSource::kRest);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  }();
  EXPECT_NE(stream.find("alerts[0].negatives_file"), std::string::npos) << stream;
}

TEST(AlertsConfigTest, rest_bodies_take_json_or_yaml_and_name_the_field) {
  const auto list = parse_alert_rules_body(
      R"([{"name": "a", "prompt": "a cat", "negatives": ["a dog"], "min_on": 0}])", "body");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_DOUBLE_EQ(list[0].min_on_seconds, 0.0);
  const auto wrapped = parse_alert_rules_body("alerts:\n  - {name: a, prompt: a cat}\n", "body");
  ASSERT_EQ(wrapped.size(), 1u);
  EXPECT_TRUE(parse_alert_rules_body("[]", "body").empty());
  EXPECT_NE(body_error_of(R"([{"name": "a", "prompt": ""}])").find("prompt is empty"),
            std::string::npos);
  EXPECT_NE(body_error_of(R"([{"name": "a", "prompt": "p", "min_on": -1}])")
                .find("request body: alerts[0].min_on"),
            std::string::npos);
  EXPECT_NE(
      body_error_of(R"([{"name": "a", "prompt": "p", "on_threshold": 0.3, "off_threshold": 0.5}])")
          .find("off-threshold"),
      std::string::npos);
  EXPECT_NE(body_error_of("{not json").find("neither JSON nor YAML"), std::string::npos);
  EXPECT_NE(body_error_of(R"({"rules": []})").find("missing required key 'alerts'"),
            std::string::npos);
  // ${VAR} is not expanded in an untrusted body: the text stays as written.
  EXPECT_EQ(parse_alert_rules_body(R"([{"name": "a", "prompt": "${HOME}"}])", "b")[0].prompt,
            "${HOME}");
}

TEST(AlertsConfigTest, the_json_form_round_trips_through_the_rules_reader) {
  const ServiceConfig c = parse(std::string(kAlertsBase) + R"(
alerts:
  - {name: cat, prompt: "a cat: \"quoted\"", negatives: [a dog, é], on_threshold: 0.75,
     off_threshold: 0.25, min_on: 0.5, min_off: 3, cooldown: 7, smoothing: 4}
)");
  const std::string text = alert_rules_json(c.alerts).dump();
  const std::string origin = "rules";
  const auto back =
      pipeline::read_alert_rules(YAML::Load(text), config::Place{&origin, "rules", -1, true}, "");
  ASSERT_EQ(back.size(), 1u);
  const pipeline::AlertRule& r = back[0];
  EXPECT_EQ(r.name, "cat");
  EXPECT_EQ(r.prompt, "a cat: \"quoted\"");
  EXPECT_EQ(r.negatives, (std::vector<std::string>{"a dog", "é"}));
  EXPECT_DOUBLE_EQ(r.on_threshold, 0.75);
  EXPECT_DOUBLE_EQ(r.off_threshold, 0.25);
  EXPECT_DOUBLE_EQ(r.min_on_seconds, 0.5);
  EXPECT_DOUBLE_EQ(r.min_off_seconds, 3.0);
  EXPECT_DOUBLE_EQ(r.cooldown_seconds, 7.0);
  EXPECT_EQ(r.smoothing, 4u);
}

TEST(AlertsConfigTest, stream_ids_of_only_dots_are_refused) {
  EXPECT_NE(error_of(std::string(kAlertsBase) + "streams: [{id: '..', uri: 'rtsp://h/a'}]\n")
                .find("not only dots"),
            std::string::npos);
  EXPECT_NO_THROW(parse(std::string(kAlertsBase) + "streams: [{id: cam.01, uri: 'rtsp://h/a'}]\n"));
}

// Search: off without the section, on with it, defaults from the index library, data_dir
// relative to the config (or under recordings_dir), ranges and the one-mode rule
// (pipeline/service/search_config.h).
TEST(SearchConfigTest, search_is_off_without_the_section_and_on_with_its_defaults) {
  EXPECT_FALSE(parse(kMinimal).search.enabled);
  const ServiceConfig c = parse(std::string(kMinimal) + "search: {}\n");
  const SearchConfig& s = c.search;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.index.dir, "/etc/internvl/search");  // beside the config without recordings_dir
  EXPECT_DOUBLE_EQ(s.index.retention_hours, 72.0);
  EXPECT_DOUBLE_EQ(s.index.max_disk_gb, 10.0);
  EXPECT_TRUE(s.element.thumbnails);
  EXPECT_FALSE(s.index.read_only);
  const ServiceConfig off = parse(std::string(kMinimal) + "search: {enabled: false}\n");
  EXPECT_FALSE(off.search.enabled);
}

TEST(SearchConfigTest, keys_are_read_and_data_dir_is_resolved) {
  const ServiceConfig c = parse(std::string(kMinimal) + R"(
search:
  data_dir: index
  retention_hours: 0.5
  max_disk_gb: 0
  thumbnails: false
)");
  EXPECT_EQ(c.search.index.dir, "/etc/internvl/index");
  EXPECT_DOUBLE_EQ(c.search.index.retention_hours, 0.5);
  EXPECT_DOUBLE_EQ(c.search.index.max_disk_gb, 0.0);  // 0: no size limit
  EXPECT_FALSE(c.search.element.thumbnails);
  EXPECT_EQ(parse(std::string(kMinimal) + "search: {data_dir: /var/idx}\n").search.index.dir,
            "/var/idx");
  // Under recordings_dir when there is one, whatever the order of the keys.
  EXPECT_EQ(
      parse(std::string(kMinimal) + "search: {}\nrecordings_dir: /var/rec\n").search.index.dir,
      "/var/rec/search");
}

TEST(SearchConfigTest, bad_values_name_the_key_and_line) {
  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"search: {retention_hours: -1}", "search.retention_hours (line 7)"},
           {"search: {max_disk_gb: lots}", "search.max_disk_gb (line 7)"},
           {"search: {thumbnails: maybe}", "search.thumbnails (line 7)"},
           {"search: {data_dir: ''}", "search.data_dir (line 7)"},
           {"search: {datadir: /x}", "search.datadir"},
           {"search: [a]", "search"},
       }) {
    const std::string message = error_of(std::string(kMinimal) + text + "\n");
    EXPECT_NE(message.find(fragment), std::string::npos) << text << " -> " << message;
    EXPECT_NE(message.find("test.yaml"), std::string::npos) << message;
  }
}

TEST(SearchConfigTest, every_indexed_stream_classifies_in_the_services_mode) {
  const std::string base = "search: {}\n" + std::string(kMinimal);
  const std::string message =
      error_of(base + "  - {id: cam02, uri: 'rtsp://h/2', tasks: {classify: {mode: g}}}\n");
  EXPECT_NE(message.find("streams[1]"), std::string::npos) << message;
  EXPECT_NE(message.find("one embedding space"), std::string::npos) << message;
  // Without search, or without classify (nothing indexed), the mode is the stream's own.
  EXPECT_NO_THROW(parse(std::string(kMinimal) +
                        "  - {id: cam02, uri: 'rtsp://h/2', tasks: {classify: {mode: g}}}\n"));
  EXPECT_NO_THROW(parse(base +
                        "  - {id: cam02, uri: 'rtsp://h/2', tasks: {classify: {enabled: false, "
                        "mode: g}, caption: {enabled: true}}}\n"));
}

}  // namespace
}  // namespace ivs::service
