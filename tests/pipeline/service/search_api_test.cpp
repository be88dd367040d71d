// SPDX-License-Identifier: Apache-2.0
// The service's search over real HTTP: RestApi (with an empty supervisor) on a real HttpServer
// bound to 127.0.0.1:0, a real index (SQLite + FAISS) in a scratch folder, and a stand-in for the
// engine's text tower that maps a few words to known unit vectors, so which moments come back is
// known exactly.
#include "pipeline/service/search_api.h"

#include <gtest/gtest.h>

#include <gst/gst.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/metrics_context.h"
#include "pipeline/service/rest_api.h"
#include "pipeline/service/supervisor.h"
#include "sinks/http/http_server.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/http_client.h"

namespace ivs::service {
namespace {

using Json = nlohmann::json;
using std::chrono::system_clock;

const std::vector<float> kRed{1, 0, 0, 0};
const std::vector<float> kGreen{0, 1, 0, 0};
const std::vector<float> kOther{0, 0, 1, 0};
const system_clock::time_point kStart{std::chrono::seconds(1796630400)};  // 2026-12-07T08:00Z

std::vector<float> embed(const std::string& text) {
  if (text == "red") return kRed;
  if (text == "green") return kGreen;
  return kOther;
}

std::vector<uint8_t> jpeg_of(int n) {  // the index stores the bytes as given
  return {0xff, 0xd8, 0xff, static_cast<uint8_t>(n)};
}

// Runs a GLib main loop on its own thread for RestApi's on_loop calls.
class LoopThread {
 public:
  LoopThread() : context_(g_main_context_new()), loop_(g_main_loop_new(context_, FALSE)) {
    thread_ = std::thread([this] {
      g_main_context_push_thread_default(context_);
      g_main_loop_run(loop_);
      g_main_context_pop_thread_default(context_);
    });
  }
  ~LoopThread() {
    GSource* quit = g_idle_source_new();
    g_source_set_callback(
        quit,
        [](gpointer loop) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop*>(loop));
          return G_SOURCE_REMOVE;
        },
        loop_, nullptr);
    g_source_attach(quit, context_);
    g_source_unref(quit);
    thread_.join();
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
  }
  GMainContext* context() const { return context_; }

 private:
  GMainContext* context_;
  GMainLoop* loop_;
  std::thread thread_;
};

class SearchRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    search::SearchIndexOptions options;
    // One folder per test: ctest runs these tests as parallel processes.
    options.dir =
        test::scratch_dir(std::string("search_api_") +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    options.log = [](const std::string&) {};
    index_ = search::SearchIndex::open(options);
    // cam01 shows red for three samples (one moment), then green; cam02 shows green.
    add("cam01", 0, kRed, 0.0);
    add("cam01", 1, kRed, 0.5);
    add("cam01", 2, kRed, 1.0);
    add("cam01", 3, kGreen, 60.0);
    add("cam02", 0, kGreen, 0.0);
    index_->flush();
    config_.model.engine.model = "/models/unused";
    supervisor_ = std::make_unique<Supervisor>(config_, SharedContexts{}, hub_);
    api_ = std::make_shared<SearchApi>(index_, &embed, &hub_->metrics().search_query_duration());
    serve(api_);
  }

  void add(const std::string& stream, int64_t frame_id, const std::vector<float>& embedding,
           double seconds) {
    search::IndexedFrame frame;
    frame.stream = stream;
    frame.frame_id = frame_id;
    frame.pts_ns = static_cast<int64_t>(seconds * 1e9);
    frame.wall_time = kStart + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    frame.mode = "c";
    frame.embedding = embedding;
    frame.thumbnail_jpeg = jpeg_of(static_cast<int>(frame_id));
    ASSERT_TRUE(index_->add(std::move(frame)));
  }

  void serve(std::shared_ptr<SearchApi> api) {
    server_.reset();
    rest_ = std::make_shared<RestApi>(*supervisor_, loop_.context(), hub_, health_, RestAccess{},
                                      events_, std::move(api));
    server_ = std::make_unique<sinks::HttpServer>(
        "127.0.0.1:0", [rest = rest_](const sinks::HttpRequest& r) { return rest->handle(r); });
  }

  test::HttpResponse get(const std::string& path) {
    return test::http_get("127.0.0.1", server_->port(), path);
  }

  Json get_json(const std::string& path, int expected_status) {
    const test::HttpResponse response = get(path);
    EXPECT_EQ(response.status, expected_status) << path << ": " << response.body;
    EXPECT_EQ(response.header("content-type").value_or(""), "application/json") << path;
    return Json::parse(response.body);
  }

  LoopThread loop_;
  std::shared_ptr<search::SearchIndex> index_;
  ServiceConfig config_;
  std::shared_ptr<pipeline::MetricsHub> hub_ = std::make_shared<pipeline::MetricsHub>();
  ServiceHealth health_;
  std::shared_ptr<EventLog> events_ = std::make_shared<EventLog>("", 0);
  std::unique_ptr<Supervisor> supervisor_;
  std::shared_ptr<SearchApi> api_;
  std::shared_ptr<RestApi> rest_;
  std::unique_ptr<sinks::HttpServer> server_;
};

TEST_F(SearchRestTest, a_query_returns_merged_moments_best_first_as_json) {
  const Json body = get_json("/api/v1/search?q=red", 200);
  EXPECT_EQ(body["query"], "red");
  ASSERT_GE(body["moments"].size(), 1u) << body;
  const Json& best = body["moments"][0];
  EXPECT_EQ(best["stream"], "cam01");
  EXPECT_EQ(best["frames"], 3);  // the three red samples merged into one moment
  EXPECT_DOUBLE_EQ(best["start_seconds"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(best["end_seconds"].get<double>(), 1.0);
  EXPECT_EQ(best["start_time"], "2026-12-07T08:00:00.000Z");
  EXPECT_EQ(best["end_time"], "2026-12-07T08:00:01.000Z");
  EXPECT_NEAR(best["score"].get<double>(), 1.0, 1e-3);
  EXPECT_EQ(best["thumbnail_url"],
            "/api/v1/thumbnails/" + std::to_string(best["id"].get<int64_t>()) + ".jpg");
  EXPECT_EQ(get_json("/api/v1/search?q=red&k=1", 200)["moments"].size(), 1u);
}

TEST_F(SearchRestTest, stream_and_time_filters_choose_the_candidates) {
  for (const auto& moment : get_json("/api/v1/search?q=red&stream=cam02", 200)["moments"])
    EXPECT_EQ(moment["stream"], "cam02");
  EXPECT_FALSE(get_json("/api/v1/search?q=red&stream=cam02", 200)["moments"].empty());
  const Json late = get_json("/api/v1/search?q=red&from=2026-12-07T08:00:30Z", 200);
  ASSERT_EQ(late["moments"].size(), 1u) << late;  // only cam01's green frame at 60 s is after
  EXPECT_EQ(late["moments"][0]["frame_id"], 3);
  EXPECT_TRUE(get_json("/api/v1/search?q=red&to=2026-12-07T07:00:00Z", 200)["moments"].empty());
}

TEST_F(SearchRestTest, bad_parameters_are_400s_naming_the_parameter) {
  for (const auto& [query, parameter] : std::vector<std::pair<std::string, std::string>>{
           {"", "q"},
           {"q=", "q"},
           {"q=%20%20", "q"},
           {"q=red&k=0", "k"},
           {"q=red&k=1001", "k"},
           {"q=red&k=ten", "k"},
           {"q=red&from=yesterday", "from"},
           {"q=red&to=2026-13-01T00:00:00Z", "to"},
           {"q=red&from=2026-12-08T00:00:00Z&to=2026-12-07T00:00:00Z", "from"},
           {"q=red&colour=blue", "colour"},
       }) {
    const Json body = get_json("/api/v1/search?" + query, 400);
    EXPECT_NE(body["error"].get<std::string>().find(parameter), std::string::npos)
        << query << " -> " << body;
    EXPECT_EQ(body["status"], 400);
  }
}

TEST_F(SearchRestTest, thumbnails_are_jpegs_by_id_and_bad_or_missing_ids_are_told_apart) {
  const Json best = get_json("/api/v1/search?q=green&stream=cam02", 200)["moments"][0];
  const test::HttpResponse picture = get(best["thumbnail_url"].get<std::string>());
  EXPECT_EQ(picture.status, 200);
  EXPECT_EQ(picture.header("content-type").value_or(""), "image/jpeg");
  EXPECT_EQ(picture.body, std::string("\xff\xd8\xff\x00", 4));
  EXPECT_EQ(get("/api/v1/thumbnails/999999.jpg").status, 404);
  for (const char* bad : {"abc.jpg", "1.png", "-1.jpg", ".jpg", "1"})
    EXPECT_EQ(get(std::string("/api/v1/thumbnails/") + bad).status, 400) << bad;
}

TEST_F(SearchRestTest, a_streams_latest_picture_is_its_newest_thumbnail_never_cached) {
  const test::HttpResponse latest = get("/api/v1/streams/cam01/latest.jpg");
  EXPECT_EQ(latest.status, 200);
  EXPECT_EQ(latest.header("content-type").value_or(""), "image/jpeg");
  EXPECT_EQ(latest.header("cache-control").value_or(""), "no-store");
  EXPECT_EQ(latest.body, std::string("\xff\xd8\xff\x03", 4));  // frame 3, the newest
  EXPECT_EQ(get("/api/v1/streams/nobody/latest.jpg").status, 404);
}

TEST_F(SearchRestTest, the_status_page_searches_and_shows_the_moments_with_thumbnails) {
  const test::HttpResponse page = get("/?q=red&k=2");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<form id=\"search\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("class=\"thumb\" src=\"/api/v1/thumbnails/"), std::string::npos)
      << page.body;
  const test::HttpResponse refused = get("/?q=red&k=0");
  EXPECT_NE(refused.body.find("id=\"search-error\""), std::string::npos) << refused.body;
}

TEST_F(SearchRestTest, queries_are_timed_in_the_latency_histogram) {
  get("/api/v1/search?q=red");
  get("/api/v1/search?q=green");
  get("/api/v1/search?q=");  // refused: not a query
  const test::HttpResponse metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("internvl_search_query_seconds_count 2"), std::string::npos)
      << metrics.body;
}

TEST_F(SearchRestTest, without_search_the_endpoints_say_how_to_turn_it_on) {
  serve(nullptr);
  for (const char* path :
       {"/api/v1/search?q=red", "/api/v1/thumbnails/1.jpg", "/api/v1/streams/cam01/latest.jpg"}) {
    const test::HttpResponse response = get(path);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_NE(response.body.find("search"), std::string::npos) << path << ": " << response.body;
  }
  EXPECT_EQ(get("/").body.find("id=\"search\""), std::string::npos);
}

}  // namespace
}  // namespace ivs::service
