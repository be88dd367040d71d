// SPDX-License-Identifier: Apache-2.0
// The REST API over real HTTP (libmicrohttpd on 127.0.0.1:0, a POSIX socket client) against a
// real supervisor whose stream pipelines are stand-ins (appsrc ! fakesink): what a hostile or
// forged request gets, and that a refused stream is never built, i.e. its URI never opened.
#include "pipeline/service/rest_api.h"

#include <gtest/gtest.h>

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "pipeline/metrics_context.h"
#include "pipeline/service/supervisor.h"
#include "sinks/http/http_server.h"
#include "tests/pipeline/service/stand_in_pipeline.h"
#include "tests/sinks/http_client.h"

namespace ivs::service {
namespace {

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

class RestApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }

  void SetUp() override {
    config_.tasks.classify.labels = {"a cat", "a dog"};
    config_.limits.max_streams = 3;
    config_.limits.max_labels = 4;
    config_.limits.max_label_bytes = 16;
    context_ = g_main_context_new();
    loop_ = g_main_loop_new(context_, FALSE);
    loop_thread_ = std::thread([this] { g_main_loop_run(loop_); });
    health_.ready = true;
  }

  // `loopback_hosts`: answer only to the loopback names, as the service does on 127.0.0.1.
  void start(bool loopback_hosts_only = false) {
    SupervisorEnv env;
    env.build_pipeline = [this](const StreamConfig& stream, const SharedContexts&,
                                const std::shared_ptr<StreamTelemetry>&) {
      ++pipelines_built_;
      return stand_in_pipeline(stream);
    };
    supervisor_ = std::make_unique<Supervisor>(config_, SharedContexts{}, metrics_, env);
    server_ = std::make_unique<sinks::HttpServer>(
        "127.0.0.1:0", [this](const sinks::HttpRequest& request) { return api_->handle(request); });
    RestAccess access;
    if (loopback_hosts_only) access.allowed_hosts = loopback_hosts(server_->port());
    api_ = std::make_shared<RestApi>(*supervisor_, context_, metrics_, health_, access,
                                     std::make_shared<EventLog>("", 0));
  }

  void TearDown() override {
    server_.reset();
    g_main_loop_quit(loop_);
    loop_thread_.join();
    api_.reset();
    supervisor_.reset();
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
  }

  test::HttpResponse call(const std::string& method, const std::string& path,
                          const std::string& body = "",
                          const std::map<std::string, std::string>& headers = kJson) {
    return test::http_request("127.0.0.1", server_->port(), method, path, body, headers);
  }

  test::HttpResponse add_stream(const std::string& id, const std::string& uri) {
    return call("POST", "/api/v1/streams", R"({"id": ")" + id + R"(", "uri": ")" + uri + R"("})");
  }

  ServiceConfig config_;
  GMainContext* context_ = nullptr;
  GMainLoop* loop_ = nullptr;
  std::thread loop_thread_;
  ServiceHealth health_;
  std::shared_ptr<pipeline::MetricsHub> metrics_ = std::make_shared<pipeline::MetricsHub>();
  std::atomic<unsigned> pipelines_built_{0};
  std::unique_ptr<Supervisor> supervisor_;
  std::shared_ptr<RestApi> api_;
  std::unique_ptr<sinks::HttpServer> server_;
};

TEST_F(RestApiTest, a_mutation_without_a_json_content_type_is_refused_with_415) {
  start();
  const std::string body = R"({"id": "cam", "uri": "rtsp://10.0.0.1/s"})";
  for (const auto& headers : std::vector<std::map<std::string, std::string>>{
           {},
           {{"Content-Type", "text/plain"}},
           {{"Content-Type", "application/x-www-form-urlencoded"}}}) {
    const auto got = call("POST", "/api/v1/streams", body, headers);
    EXPECT_EQ(got.status, 415) << got.body;
    EXPECT_NE(got.body.find("application/json"), std::string::npos) << got.body;
  }
  EXPECT_EQ(call("PUT", "/api/v1/streams/cam/labels", R"({"labels": ["x"]})", {}).status, 415);
  EXPECT_EQ(pipelines_built_, 0u);
  const auto added =
      call("POST", "/api/v1/streams", body, {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(added.status, 201) << added.body;
}

TEST_F(RestApiTest, on_loopback_a_foreign_host_header_is_refused_with_421) {
  start(/*loopback_hosts_only=*/true);
  const std::string port = std::to_string(server_->port());
  for (const std::string& host :
       std::vector<std::string>{"evil.example:" + port, "127.0.0.1:1", "localhost", ""}) {
    const auto got = call("GET", "/api/v1/streams", "", {{"Host", host}});
    EXPECT_EQ(got.status, 421) << host << ": " << got.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/streams", R"({"id": "cam", "uri": "rtsp://h/s"})",
                 {{"Host", "rebind.example:" + port}, {"Content-Type", "application/json"}})
                .status,
            421);
  EXPECT_EQ(pipelines_built_, 0u);
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port,
                                                          "LOCALHOST:" + port, "[::1]:" + port}) {
    EXPECT_EQ(call("GET", "/api/v1/streams", "", {{"Host", host}}).status, 200) << host;
  }
}

TEST_F(RestApiTest, a_refused_uri_scheme_is_never_opened) {
  start();
  for (const std::string& uri : std::vector<std::string>{
           "file:///etc/passwd", "/etc/passwd", "FILE:///etc/shadow", "v4l2:///dev/video0"}) {
    const auto got = add_stream("cam", uri);
    EXPECT_EQ(got.status, 400) << uri;
    EXPECT_NE(got.body.find("limits.allowed_uri_schemes"), std::string::npos) << got.body;
  }
  EXPECT_EQ(pipelines_built_, 0u);  // nothing was built, so nothing probed the file
  EXPECT_EQ(add_stream("cam", "rtsps://10.0.0.1/s").status, 201);
  EXPECT_EQ(pipelines_built_, 1u);
}

TEST_F(RestApiTest, file_uris_are_accepted_when_the_config_allows_them) {
  config_.limits.allowed_uri_schemes.push_back("file");
  start();
  EXPECT_EQ(add_stream("cam", "file:///videos/a.mp4").status, 201);
}

TEST_F(RestApiTest, streams_beyond_max_streams_are_refused_naming_the_setting) {
  start();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(add_stream("cam" + std::to_string(i), "rtsp://h/" + std::to_string(i)).status, 201);
  const auto refused = add_stream("cam3", "rtsp://h/3");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("limits.max_streams"), std::string::npos) << refused.body;
  EXPECT_EQ(pipelines_built_, 3u);
  ASSERT_EQ(call("DELETE", "/api/v1/streams/cam0", "", {}).status, 200);  // room again
  EXPECT_EQ(add_stream("cam3", "rtsp://h/3").status, 201);
}

TEST_F(RestApiTest, labels_are_limited_in_count_and_length_and_must_be_clean_text) {
  start();
  ASSERT_EQ(add_stream("cam", "rtsp://h/s").status, 201);
  const std::string path = "/api/v1/streams/cam/labels";
  struct Case {
    std::string body;
    std::string expected;
  };
  for (const Case& c :
       std::vector<Case>{{R"({"labels": ["a", "b", "c", "d", "e"]})", "limits.max_labels"},
                         {R"({"labels": ["seventeen bytes!!"]})", "limits.max_label_bytes"},
                         {R"({"labels": ["a\u0000b"]})", "NUL"},
                         {"{\"labels\": [\"a\xff\"]}", "UTF-8"}}) {
    const auto got = call("PUT", path, c.body);
    EXPECT_EQ(got.status, 400) << c.body;
    EXPECT_NE(got.body.find(c.expected), std::string::npos) << got.body;
  }
  EXPECT_EQ(call("PUT", path, R"({"labels": ["sixteen bytes!!!", "\u00e9t\u00e9"]})").status, 200);
  const auto inline_labels = call(
      "POST", "/api/v1/streams",
      R"({"id": "cam2", "uri": "rtsp://h/2", "tasks": {"classify": {"labels": ["a", "b", "c", "d", "e"]}}})");
  EXPECT_EQ(inline_labels.status, 400);
  EXPECT_NE(inline_labels.body.find("limits.max_labels"), std::string::npos) << inline_labels.body;
}

// Lines of /metrics that name `stream` (each is one series, or one bucket/sum/count of one).
size_t series_lines(const std::string& metrics, const std::string& stream) {
  size_t count = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("stream=\"" + stream + "\"") != std::string::npos) ++count;
  }
  return count;
}

TEST_F(RestApiTest, deleted_streams_leave_no_metric_series_behind) {
  config_.limits.max_streams = 2;
  start();
  ASSERT_EQ(add_stream("kept", "rtsp://h/kept").status, 201);
  constexpr int kCycles = 300;
  for (int i = 0; i < kCycles; ++i) {
    const std::string id = "cycle" + std::to_string(i);
    ASSERT_EQ(add_stream(id, "rtsp://h/" + id).status, 201) << id;
    ASSERT_EQ(call("DELETE", "/api/v1/streams/" + id, "", {}).status, 200) << id;
  }
  // What the service's main loop does every 250 ms, once the teardowns are through.
  ASSERT_TRUE(run_on_loop(
      context_,
      [this] {
        supervisor_->wait_for_teardowns();
        supervisor_->tick();
      },
      std::chrono::seconds(60)));
  const auto metrics = call("GET", "/metrics", "", {});
  ASSERT_EQ(metrics.status, 200);
  size_t stale = 0;
  for (int i = 0; i < kCycles; ++i)
    stale += series_lines(metrics.body, "cycle" + std::to_string(i));
  EXPECT_EQ(stale, 0u);
  EXPECT_GE(series_lines(metrics.body, "kept"), 4u);  // frames, decoded, up, restarts, ...
}

}  // namespace
}  // namespace ivs::service
