// SPDX-License-Identifier: Apache-2.0
// `internvl search` and `internvl bench --tasks search` end to end: the real binary on a real
// index written through the library, with the demo model's image embeddings of rendered scenes.
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "model/common/jpeg_writer.h"
#include "model/internvl/loaded_model.h"
#include "model/train/synthetic_scenes.h"
#include "sinks/index/search_index.h"
#include "tests/common/run_command.h"
#include "tests/common/test_paths.h"

namespace ivs::search {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout only
  std::string all;  // stdout and stderr
};

// ctest runs each test of this file as its own process, two at a time: folders that live for
// a process (the suite's index, stderr captures) carry its pid so no process removes another's.
fs::path process_scratch(const std::string& name) {
  return test::scratch_dir(name + "-" + std::to_string(getpid()));
}

RunResult run_cli(const std::string& args) {
  static const fs::path err_dir = process_scratch("search_cli_stderr");
  const auto err = err_dir / "stderr.txt";
  const auto r =
      test::run_command(std::string(INTERNVL_CLI_PATH) + " " + args + " 2>" + err.string());
  std::ifstream in(err);
  return {r.exit_code, r.output, r.output + std::string(std::istreambuf_iterator<char>(in), {})};
}

nlohmann::json run_json(const std::string& args) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.all;
  return nlohmann::json::parse(r.out);
}

fs::path demo_model() { return test::source_dir() / "model" / "demo"; }

// Colour ids of model/train's palette.
constexpr int kRed = 0, kGreen = 1, kBlue = 2, kYellow = 3, kWhite = 6, kBlack = 7;

struct Segment {
  std::string stream;
  int first_second;  // stream time = wall time - epoch, one frame a second
  int frames;
  train::Scene scene;
};

train::Scene shape_scene(int colour, train::Shape shape, int background) {
  train::Scene s;
  s.colour = colour;
  s.shape = shape;
  s.background = background;
  s.size = 0.6;
  return s;
}

// gate: green star 0-9 s, red circle 20-29 s, blue square on black 40-49 s; yard: red circle
// 0-9 s, green star 100-109 s. Positions and sizes vary per frame, as a moving camera's would.
std::vector<Segment> segments() {
  return {{"gate", 0, 10, shape_scene(kGreen, train::Shape::kStar, kBlue)},
          {"gate", 20, 10, shape_scene(kRed, train::Shape::kCircle, kYellow)},
          {"gate", 40, 10, shape_scene(kBlue, train::Shape::kSquare, kBlack)},
          {"yard", 0, 10, shape_scene(kRed, train::Shape::kCircle, kWhite)},
          {"yard", 100, 10, shape_scene(kGreen, train::Shape::kStar, kBlue)}};
}

std::chrono::system_clock::time_point epoch() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1796601600));
}

// Writes the scenes' demo-model (InternVL-C) embeddings into a fresh index at `dir`.
void write_demo_index(const fs::path& dir) {
  const auto loaded =
      model::load_model(demo_model().string(), model::Placement::resolve("cpu", "fp32"));
  c10::InferenceMode guard;
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0.0;
  auto index = SearchIndex::open(options);
  for (const auto& seg : segments()) {
    for (int f = 0; f < seg.frames; ++f) {
      auto scene = seg.scene;
      scene.cx = 0.4 + 0.02 * f;
      scene.cy = 0.6 - 0.02 * f;
      scene.size = 0.55 + 0.01 * f;
      model::RgbImage image{128, 128, train::render_scene(scene, 128, 128)};
      const auto e = model::l2_normalize(
          loaded.full_model().encode_image(loaded.pixel_values({image}), model::EmbeddingMode::kC));
      IndexedFrame frame;
      frame.stream = seg.stream;
      frame.frame_id = seg.first_second + f;
      frame.pts_ns = frame.frame_id * 1000000000LL;
      frame.wall_time = epoch() + std::chrono::seconds(frame.frame_id);
      frame.mode = "c";
      frame.embedding.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
      frame.thumbnail_jpeg = model::encode_jpeg(image);
      ASSERT_TRUE(index->add(std::move(frame)));
    }
  }
  index->flush();
}

class SearchCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = process_scratch("search_cli_index");
    write_demo_index(dir_);
  }
  std::string search(const std::string& args) const {
    return "search --device cpu --model " + demo_model().string() + " --index " + dir_.string() +
           " " + args;
  }
  static fs::path dir_;
};
fs::path SearchCliTest::dir_;

TEST_F(SearchCliTest, a_query_finds_its_scene_first_and_merges_its_frames) {
  INTERNVL_REQUIRE_PATH(demo_model() / "model.safetensors");
  const auto out = run_json(search("--json \"a green star\""));
  EXPECT_EQ(out["mode"], "c");
  EXPECT_EQ(out["k"], 10);
  ASSERT_FALSE(out["moments"].empty());
  const auto& best = out["moments"][0];
  // Both streams show the green star (gate 0-9 s, yard 100-109 s): either is a right answer.
  const double first = best["start_seconds"].get<double>(),
               last = best["end_seconds"].get<double>();
  EXPECT_TRUE((best["stream"] == "gate" && first >= 0.0 && last <= 9.0 + 1e-6) ||
              (best["stream"] == "yard" && first >= 100.0 && last <= 109.0 + 1e-6))
      << out.dump(2);
  EXPECT_GT(best["frames"].get<int>(), 1);  // consecutive frames of the scene, one moment
  EXPECT_EQ(best["start_time"].get<std::string>().substr(0, 11), "2026-12-07T");
  EXPECT_TRUE(best["thumbnail_id"].is_number());
  const auto red = run_json(search("--json -k 1 \"a red circle\""));
  ASSERT_EQ(red["moments"].size(), 1u);
  const double start = red["moments"][0]["start_seconds"].get<double>();
  EXPECT_TRUE((red["moments"][0]["stream"] == "gate" && start >= 20.0 && start <= 29.0 + 1e-6) ||
              (red["moments"][0]["stream"] == "yard" && start <= 9.0 + 1e-6))
      << red.dump(2);
}

TEST_F(SearchCliTest, stream_and_time_filters_hold) {
  INTERNVL_REQUIRE_PATH(demo_model() / "model.safetensors");
  const auto yard = run_json(search("--json --stream yard \"a green star\""));
  ASSERT_FALSE(yard["moments"].empty());
  for (const auto& m : yard["moments"]) EXPECT_EQ(m["stream"], "yard");
  EXPECT_GE(yard["moments"][0]["start_seconds"].get<double>(), 100.0);
  EXPECT_EQ(yard["filter"]["streams"], nlohmann::json::array({"yard"}));
  // 20-29 s after the epoch: only the gate's red circle.
  const auto window =
      run_json(search("--json --from 2026-12-07T00:00:20Z --to 1796601629 \"a green star\""));
  ASSERT_FALSE(window["moments"].empty());
  for (const auto& m : window["moments"]) {
    EXPECT_EQ(m["stream"], "gate");
    EXPECT_GE(m["start_seconds"].get<double>(), 20.0);
    EXPECT_LE(m["end_seconds"].get<double>(), 29.0 + 1e-6);
  }
  EXPECT_EQ(window["filter"]["from"], "2026-12-07T00:00:20.000Z");
}

TEST_F(SearchCliTest, table_output_and_saved_thumbnails) {
  INTERNVL_REQUIRE_PATH(demo_model() / "model.safetensors");
  const auto thumbs = test::scratch_dir("search_cli_thumbnails");
  const auto r = run_cli(search("-k 3 --save-thumbnails " + thumbs.string() + " \"a green star\""));
  ASSERT_EQ(r.exit_code, 0) << r.all;
  EXPECT_NE(r.out.find("gate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-12-07T00:00:0"), std::string::npos) << r.out;
  int saved = 0;
  for (const auto& entry : fs::directory_iterator(thumbs)) {
    std::ifstream in(entry.path(), std::ios::binary);
    EXPECT_EQ(in.get(), 0xFF);
    EXPECT_EQ(in.get(), 0xD8);  // a JPEG
    EXPECT_NE(r.out.find(entry.path().string()), std::string::npos) << r.out;
    ++saved;
  }
  EXPECT_GE(saved, 1);
}

TEST_F(SearchCliTest, bad_arguments_are_clear_errors) {
  INTERNVL_REQUIRE_PATH(demo_model() / "model.safetensors");
  struct Case {
    std::string args;
    std::string says;
  };
  const auto empty_dir = test::scratch_dir("search_cli_empty");
  SearchIndexOptions empty_options;
  empty_options.dir = empty_dir / "index";
  SearchIndex::open(empty_options);  // created, closed, no frames
  for (const auto& c :
       std::vector<Case>{{search("--mode g \"a star\""), "--mode g does not match the index"},
                         {search("-k 0 \"a star\""), "k must be an integer from 1 to 1000"},
                         {search("--from yesterday \"a star\""), "from 'yesterday' is not a time"},
                         {search("--from now --to -1h \"a star\""), "is after to"},
                         {search("\" \""), "q is empty"},
                         {"search --model " + demo_model().string() + " --index " +
                              (empty_dir / "missing").string() + " star",
                          "does not exist"},
                         {"search --model " + demo_model().string() + " --index " +
                              (empty_dir / "index").string() + " star",
                          "holds no frames"}}) {
    const auto r = run_cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.all;
    EXPECT_NE(r.all.find(c.says), std::string::npos) << c.args << "\n" << r.all;
  }
}

TEST(SearchCliDimTest, an_index_of_another_dim_names_both) {
  INTERNVL_REQUIRE_PATH(demo_model() / "model.safetensors");
  const auto dir = test::scratch_dir("search_cli_dim8");
  {
    SearchIndexOptions options;
    options.dir = dir;
    auto index = SearchIndex::open(options);
    IndexedFrame frame;
    frame.stream = "cam";
    frame.wall_time = std::chrono::system_clock::now();
    frame.mode = "c";
    frame.embedding = {1, 0, 0, 0, 0, 0, 0, 0};
    ASSERT_TRUE(index->add(std::move(frame)));
    index->flush();
  }
  const auto r =
      run_cli("search --model " + demo_model().string() + " --index " + dir.string() + " star");
  EXPECT_EQ(r.exit_code, 1) << r.all;
  EXPECT_NE(r.all.find("gives 64-d embeddings but the index"), std::string::npos) << r.all;
  EXPECT_NE(r.all.find("holds 8-d ones"), std::string::npos) << r.all;
}

// The benchmark at a small size: every field is there and the index agrees with exact search.
TEST(SearchBenchTest, small_run_reports_every_figure_and_high_recall) {
  const auto r = run_cli(
      "bench --tasks search --json --search-vectors 3000 --search-dims 32 --search-queries 30 "
      "--search-streams 10 --search-clusters 100 --search-thumbnail-frames 300 "
      "--search-freshness-probes 3 --search-dir " +
      test::scratch_dir("search_bench_smoke").string());
  ASSERT_EQ(r.exit_code, 0) << r.all;
  const auto out = nlohmann::json::parse(r.out)["search"];
  EXPECT_EQ(out["context"]["frames"], 3000);
  ASSERT_EQ(out["results"].size(), 1u);
  const auto& m = out["results"][0];
  EXPECT_EQ(m["dim"], 32);
  EXPECT_GT(m["ingest"]["frames_per_second"].get<double>(), 0.0);
  ASSERT_EQ(m["queries"].size(), 3u);
  for (const auto& q : m["queries"]) {
    EXPECT_EQ(q["queries"], 30);
    EXPECT_GT(q["ms"]["p95"].get<double>(), 0.0);
    EXPECT_GE(q["ms"]["p95"].get<double>(), q["ms"]["p50"].get<double>());
    EXPECT_GE(q["recall_at_10"].get<double>(), 0.9) << q.dump();
    EXPECT_GT(q["admitted_fraction"].get<double>(), 0.0);
  }
  EXPECT_GT(m["memory"]["estimate_bytes_per_vector"].get<double>(), 32.0);
  EXPECT_TRUE(m["memory"]["rss_bytes_per_vector"].is_number());
  EXPECT_GT(m["disk"]["bytes_per_million_frames"].get<double>(), 32e6);
  EXPECT_GT(m["disk"]["bytes_per_million_frames_with_thumbnails"].get<double>(),
            m["disk"]["bytes_per_million_frames"].get<double>());
  EXPECT_GT(m["disk"]["thumbnail_jpeg_bytes_mean"].get<double>(), 500.0);
  EXPECT_EQ(m["freshness"]["probes"], 3);
  EXPECT_EQ(m["freshness"]["missed"], 0);
  EXPECT_GT(m["freshness"]["p95_seconds"].get<double>(), 0.0);
}

}  // namespace
}  // namespace ivs::search
