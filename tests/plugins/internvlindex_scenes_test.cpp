// SPDX-License-Identifier: Apache-2.0
// Search by text, end to end, with the trained demo model (model/demo): a generated video of
// known scenes goes through `internvlclassify ! internvlindex` for two streams (a `tee`), then
// each scene's label, embedded as a query is (the zero-shot label path without a template),
// must find a moment inside that scene first for at least 90% of the labels; the stream and
// time filters hold; consecutive sampled frames merge into one moment.
#include <c10/core/InferenceMode.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/internvl/loaded_model.h"
#include "model/internvl/zero_shot.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "plugins/internvl/gstinternvlindex.h"
#include "sinks/index/search_index.h"
#include "tests/common/test_paths.h"
#include "tests/plugins/gst_test_environment.h"

namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

constexpr int kFps = 10;
constexpr int kSize = 112;             // the demo model's input: no resize
constexpr double kSceneSeconds = 3.0;  // longer than a sample interval, shorter than merge-gap
constexpr double kSelectionFps = 2.0;
constexpr int kScenes = 12;

struct Scene {
  std::string label;
  double start = 0.0;  // stream time, seconds
  double end = 0.0;
};

// Runs `argv` (a NULL-terminated list); fails the test with its output when it fails.
void run_tool(std::vector<const char*> argv) {
  argv.push_back(nullptr);
  gchar* out = nullptr;
  gchar* err = nullptr;
  gint status = 0;
  GError* error = nullptr;
  ASSERT_TRUE(g_spawn_sync(nullptr, const_cast<gchar**>(argv.data()), nullptr, G_SPAWN_DEFAULT,
                           nullptr, nullptr, &out, &err, &status, &error))
      << (error != nullptr ? error->message : "");
  const std::string output = std::string(out != nullptr ? out : "") + (err != nullptr ? err : "");
  g_free(out);
  g_free(err);
  ASSERT_TRUE(g_spawn_check_wait_status(status, nullptr)) << argv[0] << ": " << output;
}

std::vector<Scene> read_timeline(const fs::path& path) {
  std::ifstream in(path);
  const nlohmann::json timeline = nlohmann::json::parse(in);
  std::vector<Scene> scenes;
  for (const auto& s : timeline.at("scenes")) {
    scenes.push_back({s.at("label").get<std::string>(), s.at("start_time").get<double>(),
                      s.at("end_time").get<double>()});
  }
  return scenes;
}

// Each label's query embedding: the text tower on the label as given (template "{}"), as
// model::embed_text_query computes a search query.
std::map<std::string, std::vector<float>> query_embeddings(const std::vector<Scene>& scenes) {
  const auto model = ivs::model::load_model((ivs::test::source_dir() / "model" / "demo").string(),
                                            ivs::model::Placement::resolve("cpu", "fp32"));
  std::vector<std::string> labels;
  for (const Scene& scene : scenes) {
    if (std::find(labels.begin(), labels.end(), scene.label) == labels.end())
      labels.push_back(scene.label);
  }
  c10::InferenceMode guard;
  const ivs::model::ZeroShotClassifier classifier(model.full_model(), model.text_tokenizer(),
                                                  ivs::model::LabelSet{labels, {"{}"}});
  const at::Tensor rows = classifier.class_embeddings().contiguous().to(at::kFloat);  // [L, E]
  std::map<std::string, std::vector<float>> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = rows[static_cast<int64_t>(i)].data_ptr<float>();
    out[labels[i]] = std::vector<float>(row, row + rows.size(1));
  }
  return out;
}

// Whether `moment` lies inside a scene labelled `label`. Consecutive scenes of one label are one
// scene (the generator may repeat a label).
bool inside_scene(const ivs::search::Moment& moment, const std::string& label,
                  const std::vector<Scene>& scenes) {
  for (size_t i = 0; i < scenes.size(); ++i) {
    if (scenes[i].label != label) continue;
    size_t last = i;
    while (last + 1 < scenes.size() && scenes[last + 1].label == label) ++last;
    if (moment.start_seconds >= scenes[i].start - 1e-6 &&
        moment.end_seconds < scenes[last].end - 1e-6) {
      return true;
    }
    i = last;
  }
  return false;
}

TEST(InternVLIndexScenesTest, a_label_finds_its_scene_first_and_filters_hold) {
  gst_init(nullptr, nullptr);
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlclassify, nullptr));
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlindex, nullptr));
  const fs::path demo = ivs::test::source_dir() / "model" / "demo";
  INTERNVL_REQUIRE_PATH(demo);
  const fs::path work = ivs::test::scratch_dir("index_scenes");
  const std::string raw = (work / "scenes.rgb").string();
  const std::string timeline = (work / "scenes.json").string();
  const std::string labels = (work / "labels.txt").string();
  const std::string scenes_count = std::to_string(kScenes);
  const std::string seconds = std::to_string(kSceneSeconds);
  const std::string fps = std::to_string(kFps);
  const std::string size = std::to_string(kSize);
  run_tool({INTERNVL_SCENES_TOOL, "video", "--scenes", scenes_count.c_str(), "--seconds",
            seconds.c_str(), "--fps", fps.c_str(), "--size", size.c_str(), "--seed", "11", "--out",
            raw.c_str(), "--timeline", timeline.c_str()});
  run_tool({INTERNVL_SCENES_TOOL, "labels", labels.c_str()});
  const std::vector<Scene> scenes = read_timeline(timeline);
  ASSERT_EQ(scenes.size(), static_cast<size_t>(kScenes));

  const fs::path dir = work / "index";
  const std::string branch =
      " ! queue ! internvlclassify device=cpu clip-frames=0 model=" + demo.string() +
      " labels-file=" + labels + " selection-fps=" + std::to_string(kSelectionFps) +
      " ! internvlindex location=" + dir.string();
  const auto before = system_clock::now();
  ASSERT_EQ(ivs::test::run_to_eos("filesrc location=" + raw + " ! rawvideoparse format=rgb width=" +
                                  size + " height=" + size + " framerate=" + fps +
                                  "/1 ! tee name=t t." + branch + " stream-id=east ! fakesink t." +
                                  branch + " stream-id=west thumbnails=false ! fakesink"),
            "");

  ivs::search::SearchIndexOptions options;
  options.dir = dir;
  options.read_only = true;
  const auto index = ivs::search::SearchIndex::open(options);
  const double samples_per_stream = kScenes * kSceneSeconds * kSelectionFps;
  EXPECT_EQ(index->stats().frames, static_cast<uint64_t>(2 * samples_per_stream));
  const auto queries = query_embeddings(scenes);

  // Each label, in stream east: the best frame of its first moment lies in its scene, and
  // the moment itself inside the scene.
  ivs::search::SearchFilter east;
  east.streams = {"east"};
  int found = 0;
  int best_found = 0;
  std::map<std::string, ivs::search::Moment> first;
  for (const auto& [label, query] : queries) {
    const auto moments = index->search(query, 3, east);
    ASSERT_FALSE(moments.empty()) << label;
    first[label] = moments[0];
    ivs::search::Moment best_frame = moments[0];
    best_frame.start_seconds = best_frame.end_seconds =
        static_cast<double>(moments[0].best_frame_id) / kFps;
    best_found += inside_scene(best_frame, label, scenes) ? 1 : 0;
    const bool ok = inside_scene(moments[0], label, scenes);
    found += ok ? 1 : 0;
    std::printf("%-24s %s: moment %4.1f-%4.1f s, %2d frames, best %4.1f s (score %.3f)\n",
                label.c_str(), ok ? "found " : "MISSED", moments[0].start_seconds,
                moments[0].end_seconds, moments[0].frames,
                static_cast<double>(moments[0].best_frame_id) / kFps, moments[0].score);
    EXPECT_EQ(moments[0].stream, "east");
  }
  const double label_count = static_cast<double>(queries.size());
  std::printf("labels whose first moment has its best frame in their scene: %d of %zu (%.2f)\n",
              best_found, queries.size(), best_found / label_count);
  std::printf("labels whose first moment lies inside their scene: %d of %zu (%.2f)\n", found,
              queries.size(), found / label_count);
  EXPECT_GE(best_found / label_count, 0.9);
  EXPECT_GE(found / label_count, 0.9);

  // Moments merge the samples of one scene: 6 samples of a 3 s scene, not 6 results.
  const auto& [label, query] = *queries.begin();
  const ivs::search::Moment& moment = first.at(label);
  EXPECT_GE(moment.frames, 3) << label;
  EXPECT_GE(moment.end_seconds - moment.start_seconds, 1.0) << label;
  EXPECT_TRUE(moment.has_thumbnail);  // east has thumbnails

  // Stream filter: west alone gives west's moments only (no thumbnails there); unfiltered, the
  // scene is found in both streams.
  ivs::search::SearchFilter west;
  west.streams = {"west"};
  const auto west_moments = index->search(query, 5, west);
  ASSERT_FALSE(west_moments.empty());
  for (const auto& m : west_moments) {
    EXPECT_EQ(m.stream, "west");
    EXPECT_FALSE(m.has_thumbnail);
  }
  EXPECT_EQ(inside_scene(west_moments[0], label, scenes), inside_scene(moment, label, scenes));
  const auto both = index->search(query, 2);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_NE(both[0].stream, both[1].stream);

  // Time filter: before the run nothing; within one moment's wall-clock span, only frames of
  // that span, however badly they match another label.
  ivs::search::SearchFilter too_early;
  too_early.to = before - std::chrono::seconds(1);
  EXPECT_TRUE(index->search(query, 5, too_early).empty());
  ivs::search::SearchFilter span = east;
  span.from = moment.start_wall;
  span.to = moment.end_wall;
  const auto& other_query = queries.rbegin()->second;
  const auto in_span = index->search(other_query, 5, span);
  ASSERT_FALSE(in_span.empty());
  for (const auto& m : in_span) {
    EXPECT_GE(m.start_wall, *span.from);
    EXPECT_LE(m.end_wall, *span.to);
    EXPECT_EQ(m.stream, "east");
  }
}

}  // namespace
