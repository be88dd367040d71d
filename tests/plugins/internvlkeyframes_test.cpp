// SPDX-License-Identifier: Apache-2.0
// internvlkeyframes in real pipelines: an H.264 MP4 of known scenes (internvl-scenes, encoded
// with x264enc), `h264parse ! internvlkeyframes ! avdec_h264`, classified with the demo model.
// With a 1 s GOP at one sample per second, `auto` decodes key frames only and its results
// equal those of decoding everything at the same PTS; a 2 s GOP or a stream without later key
// frames decodes everything; parsebin/decodebin around it work; a flushing seek and EOS pass.
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/internvl/register_elements.h"
#include "tests/common/test_paths.h"
#include "tests/plugins/gst_test_environment.h"

namespace {

namespace fs = std::filesystem;

constexpr int kFps = 10;
constexpr int kSize = 112;  // the demo model's input: no resize
constexpr int kScenes = 8;
constexpr double kSceneSeconds = 3.0;

struct Sample {
  std::string label;
  double score = 0.0;
};

struct Played {
  std::string error;  // "" when the pipeline reached EOS
  guint64 frames_in = 0;
  guint64 frames_passed = 0;
  std::string decoding;
  double gop = 0.0;
  std::map<double, Sample> samples;  // by PTS, seconds
};

class KeyframesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(gst_internvl_register_static());  // all the elements, classify among them
    // ctest runs each test as its own process, in parallel: one directory per process.
    work_ = new fs::path(ivs::test::scratch_dir("keyframes-" + std::to_string(getpid())));
    const std::string raw = (*work_ / "scenes.rgb").string();
    const std::string timeline = (*work_ / "scenes.json").string();
    labels_ = new std::string((*work_ / "labels.txt").string());
    run_tool({INTERNVL_SCENES_TOOL, "video", "--scenes", std::to_string(kScenes), "--seconds",
              std::to_string(kSceneSeconds), "--fps", std::to_string(kFps), "--size",
              std::to_string(kSize), "--seed", "5", "--out", raw, "--timeline", timeline});
    run_tool({INTERNVL_SCENES_TOOL, "labels", *labels_});
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*work_, ignored);
    delete work_;
    delete labels_;
  }

  static void run_tool(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    gint status = 0;
    GError* error = nullptr;
    ASSERT_TRUE(g_spawn_sync(nullptr, const_cast<gchar**>(argv.data()), nullptr,
                             G_SPAWN_STDOUT_TO_DEV_NULL, nullptr, nullptr, nullptr, nullptr,
                             &status, &error))
        << (error != nullptr ? error->message : "");
    ASSERT_TRUE(g_spawn_check_wait_status(status, nullptr)) << args[0];
  }

  // The scenes as H.264 in MP4, a key frame every `gop_frames` frames (no B-frames, no
  // scene-cut key frames: the GOP is exactly what is asked).
  static std::string encode(int gop_frames) {
    const fs::path out = *work_ / ("gop" + std::to_string(gop_frames) + ".mp4");
    if (fs::exists(out)) return out.string();
    const std::string description =
        "filesrc location=" + (*work_ / "scenes.rgb").string() +
        " ! rawvideoparse format=rgb width=" + std::to_string(kSize) +
        " height=" + std::to_string(kSize) + " framerate=" + std::to_string(kFps) +
        "/1 ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast "
        "bframes=0 option-string=scenecut=0 key-int-max=" +
        std::to_string(gop_frames) + " ! h264parse ! mp4mux ! filesink location=" + out.string();
    EXPECT_EQ(ivs::test::run_to_eos(description), "");
    return out.string();
  }

  static std::string classify(const std::string& results, double fps = 1.0) {
    const fs::path demo = ivs::test::source_dir() / "model" / "demo";
    return " ! videoconvert ! internvlclassify device=cpu clip-frames=0 model=" + demo.string() +
           " labels-file=" + *labels_ + " selection-fps=" + std::to_string(fps) +
           " max-latency=60000000000 ! internvlpublish file-path=" + results + " ! fakesink";
  }

  // Plays `description` (which names its internvlkeyframes "k") to EOS, optionally after a
  // flushing seek to `seek_seconds` from PAUSED, and reads the element and the results.
  static Played play(const std::string& description, const std::string& results,
                     double seek_seconds = -1.0) {
    Played run;
    fs::remove(results);
    GError* parse_error = nullptr;
    GstElement* pipeline = gst_parse_launch(description.c_str(), &parse_error);
    if (parse_error != nullptr) {
      run.error = std::string("parse: ") + parse_error->message;
      g_error_free(parse_error);
      if (pipeline != nullptr) gst_object_unref(pipeline);
      return run;
    }
    GstBus* bus = gst_element_get_bus(pipeline);
    if (seek_seconds >= 0.0) {
      gst_element_set_state(pipeline, GST_STATE_PAUSED);
      gst_element_get_state(pipeline, nullptr, nullptr, 60 * GST_SECOND);
      if (!gst_element_seek_simple(pipeline, GST_FORMAT_TIME,
                                   GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT),
                                   static_cast<gint64>(seek_seconds * GST_SECOND)))
        run.error = "seek refused";
    }
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, 300 * GST_SECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (msg == nullptr) run.error = "timeout";
    if (msg != nullptr && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
      run.error = ivs::test::error_text(msg);
    if (msg != nullptr) gst_message_unref(msg);
    GstElement* keyframes = gst_bin_get_by_name(GST_BIN(pipeline), "k");
    if (keyframes != nullptr) {
      gint decoding = 0;
      g_object_get(keyframes, "frames-in", &run.frames_in, "frames-passed", &run.frames_passed,
                   "decoding", &decoding, "gop", &run.gop, nullptr);
      GEnumValue* value = g_enum_get_value(
          G_ENUM_CLASS(g_type_class_peek(G_PARAM_SPEC_VALUE_TYPE(
              g_object_class_find_property(G_OBJECT_GET_CLASS(keyframes), "decoding")))),
          decoding);
      run.decoding = value != nullptr ? value->value_nick : "?";
      gst_object_unref(keyframes);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(pipeline);
    std::ifstream in(results);
    for (std::string line; std::getline(in, line);) {
      const auto message = nlohmann::json::parse(line);
      if (message.at("kind") != "classification") continue;
      const auto& best = message.at("classification").at(0);
      run.samples[message.at("segment").at("start_time").get<double>()] = {
          best.at("label").get<std::string>(), best.at("confidence").get<double>()};
    }
    return run;
  }

  static std::string parsed(const std::string& mp4) {
    return "filesrc location=" + mp4 + " ! qtdemux ! h264parse ! ";
  }

  static fs::path* work_;
  static std::string* labels_;
};

fs::path* KeyframesTest::work_ = nullptr;
std::string* KeyframesTest::labels_ = nullptr;

constexpr int kFrames = static_cast<int>(kScenes * kSceneSeconds * kFps);

TEST_F(KeyframesTest, one_second_gop_decodes_key_frames_with_the_results_of_decoding_all) {
  const std::string mp4 = encode(kFps);
  const std::string all_results = (*work_ / "all.jsonl").string();
  const std::string auto_results = (*work_ / "auto.jsonl").string();
  const Played all =
      play(parsed(mp4) + "internvlkeyframes name=k mode=all ! avdec_h264" + classify(all_results),
           all_results);
  const Played automatic = play(
      parsed(mp4) + "internvlkeyframes name=k ! avdec_h264" + classify(auto_results), auto_results);
  ASSERT_EQ(all.error, "");
  ASSERT_EQ(automatic.error, "");
  EXPECT_EQ(all.frames_passed, static_cast<guint64>(kFrames));
  EXPECT_EQ(all.decoding, "all");
  EXPECT_EQ(automatic.decoding, "keyframes");
  EXPECT_NEAR(automatic.gop, 1.0, 1e-6);
  EXPECT_EQ(automatic.frames_in, static_cast<guint64>(kFrames));
  // One frame per second, from the first.
  EXPECT_EQ(automatic.frames_passed, static_cast<guint64>(kScenes * kSceneSeconds));
  // The same frames are sampled, and classified alike (key frames decode to the same pixels).
  ASSERT_EQ(all.samples.size(), static_cast<size_t>(kScenes * kSceneSeconds));
  ASSERT_EQ(automatic.samples.size(), all.samples.size());
  for (const auto& [pts, sample] : all.samples) {
    SCOPED_TRACE("PTS " + std::to_string(pts));
    const auto found = automatic.samples.find(pts);
    ASSERT_NE(found, automatic.samples.end());
    EXPECT_EQ(found->second.label, sample.label);
    EXPECT_LT(std::abs(found->second.score - sample.score), 1e-4 * std::abs(sample.score) + 1e-6);
  }
}

TEST_F(KeyframesTest, gop_longer_than_the_sampling_interval_decodes_everything) {
  const std::string results = (*work_ / "gop2.jsonl").string();
  const Played run =
      play(parsed(encode(2 * kFps)) + "internvlkeyframes name=k ! avdec_h264" + classify(results),
           results);
  ASSERT_EQ(run.error, "");
  EXPECT_EQ(run.decoding, "all");
  EXPECT_NEAR(run.gop, 2.0, 1e-6);
  // The first GOP was taken for a short one (its key frame only: the sample at 1 s is lost),
  // every frame from the second key frame on.
  EXPECT_EQ(run.frames_passed, run.frames_in - (2 * kFps - 1));
  EXPECT_EQ(run.samples.size(), static_cast<size_t>(kScenes * kSceneSeconds - 1));
}

TEST_F(KeyframesTest, a_stream_without_later_key_frames_decodes_everything) {
  const std::string results = (*work_ / "nokeys.jsonl").string();
  const Played run = play(
      parsed(encode(10 * kFrames)) + "internvlkeyframes name=k ! avdec_h264" + classify(results),
      results);
  ASSERT_EQ(run.error, "");
  EXPECT_EQ(run.decoding, "all");
  EXPECT_EQ(run.gop, 0.0);
  // The first key frame, then nothing until four sampling periods passed without a second
  // (frames at 0.1 .. 4.0 s), then every frame: samples at 0 s and from 4.1 s on.
  EXPECT_EQ(run.frames_passed, static_cast<guint64>(kFrames - 4 * kFps));
  EXPECT_EQ(run.samples.size(), static_cast<size_t>(kScenes * kSceneSeconds - 3));
}

TEST_F(KeyframesTest, works_between_parsebin_and_decodebin) {
  const std::string results = (*work_ / "bins.jsonl").string();
  const Played run =
      play("filesrc location=" + encode(kFps) +
               " ! parsebin ! internvlkeyframes name=k ! decodebin" + classify(results),
           results);
  ASSERT_EQ(run.error, "");
  EXPECT_EQ(run.decoding, "keyframes");
  EXPECT_LT(run.frames_passed, run.frames_in / 3);
  EXPECT_EQ(run.samples.size(), static_cast<size_t>(kScenes * kSceneSeconds));
}

TEST_F(KeyframesTest, a_flushing_seek_restarts_the_stream_where_it_lands) {
  const std::string results = (*work_ / "seek.jsonl").string();
  const double seek_to = 10.0;
  const Played run =
      play(parsed(encode(kFps)) + "internvlkeyframes name=k ! avdec_h264" + classify(results),
           results, seek_to);
  ASSERT_EQ(run.error, "");
  // The frame prerolled before the seek (PTS 0) may have its result; then nothing until the
  // seek's target, and one sample per second from there.
  size_t after_seek = 0;
  for (const auto& [pts, sample] : run.samples) {
    EXPECT_TRUE(pts == 0.0 || pts >= seek_to - 1e-6) << "sampled at " << pts;
    after_seek += pts >= seek_to - 1e-6 ? 1 : 0;
  }
  EXPECT_EQ(after_seek, static_cast<size_t>(kScenes * kSceneSeconds - seek_to));
  EXPECT_EQ(run.decoding, "keyframes");
}

TEST_F(KeyframesTest, a_rate_set_on_the_element_needs_no_answer_from_downstream) {
  const std::string mp4 = encode(kFps);
  const Played run = play(parsed(mp4) +
                              "internvlkeyframes name=k sample-fps=0.5 ! avdec_h264 ! "
                              "fakesink",
                          (*work_ / "none.jsonl").string());
  ASSERT_EQ(run.error, "");
  EXPECT_EQ(run.decoding, "keyframes");
  EXPECT_EQ(run.frames_passed, static_cast<guint64>(kScenes * kSceneSeconds / 2));
}

}  // namespace
