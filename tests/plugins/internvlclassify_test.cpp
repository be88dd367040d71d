// SPDX-License-Identifier: Apache-2.0
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "plugins/internvl/gstinternvlclassify.h"
#include "pipeline/engine_context.h"
#include "pipeline/frame_preprocess.h"
#include "pipeline/result_meta.h"
#include "tests/common/test_paths.h"

namespace {

namespace fs = std::filesystem;
using ivs::pipeline::ResultType;

constexpr int kWidth = 64;
constexpr int kHeight = 48;
constexpr GstClockTime kFrame = GST_SECOND / 30;

void register_element() {
  static const bool registered = [] {
    gst_init(nullptr, nullptr);
    return GST_ELEMENT_REGISTER(internvlclassify, nullptr) == TRUE;
  }();
  ASSERT_TRUE(registered);
}

std::string tiny() { return ivs::test::internvl_tiny_dir().string(); }

// A classify element with test-friendly settings (results never late on a loaded machine).
GstElement* make_classify(const char* labels = "a red square;a blue sky;a green field") {
  GstElement* e = gst_element_factory_make("internvlclassify", nullptr);
  g_object_set(e, "model", tiny().c_str(), "device", 1, "labels", labels, "max-latency",
               60 * GST_SECOND, "batch-size", 4, "batch-timeout", guint64(GST_MSECOND), nullptr);
  return e;
}

GstHarness* harness(GstElement* e) {
  GstHarness* h = gst_harness_new_with_element(e, "sink", "src");
  gst_harness_set_src_caps_str(h, "video/x-raw,format=BGRx,width=64,height=48,framerate=30/1");
  return h;
}

GstBuffer* frame(int index) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, kWidth * kHeight * 4, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; ++i)
    map.data[i] = static_cast<guint8>((i * 7 + index * 31) & 0xff);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = index * kFrame;
  GST_BUFFER_DURATION(buffer) = kFrame;
  return buffer;
}

const ivs::pipeline::ResultEntry* find_entry(GstBuffer* buffer, ResultType type) {
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr) return nullptr;
  for (const auto& entry : meta->records->entries) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

std::shared_ptr<ivs::pipeline::Engine> engine_of(GstElement* e) {
  GstContext* context = gst_element_get_context(e, ivs::pipeline::kEngineContextType);
  if (context == nullptr) return nullptr;
  auto engines = ivs::pipeline::engines_in_context(context);
  gst_context_unref(context);
  return engines.empty() ? nullptr : engines.front();
}

// Pushes n frames and pulls n buffers, returning them (owned by the caller).
std::vector<GstBuffer*> push_pull(GstHarness* h, int first, int n) {
  for (int i = first; i < first + n; ++i) EXPECT_EQ(gst_harness_push(h, frame(i)), GST_FLOW_OK);
  std::vector<GstBuffer*> out;
  for (int i = 0; i < n; ++i) {
    GstBuffer* b = gst_harness_pull(h);  // waits (bounded by the harness) for the result
    EXPECT_NE(b, nullptr);
    if (b != nullptr) out.push_back(b);
  }
  return out;
}

void unref_all(std::vector<GstBuffer*>& buffers) {
  for (auto* b : buffers) gst_buffer_unref(b);
  buffers.clear();
}

// The embedding of `input` computed directly: preprocessed here and embedded by the engine
// (takes ownership of `input`). Empty when the frame cannot be mapped or the engine refuses.
std::vector<float> direct_embedding(ivs::pipeline::Engine& engine,
                                    ivs::pipeline::FramePreprocessor& preprocessor,
                                    const GstVideoInfo& info, GstBuffer* input) {
  GstVideoFrame vf;
  const bool mapped = gst_video_frame_map(&vf, &info, input, GST_MAP_READ);
  std::vector<float> pixels;
  if (mapped) {
    pixels = preprocessor.preprocess(vf);
    gst_video_frame_unmap(&vf);
  }
  gst_buffer_unref(input);
  if (!mapped) return {};
  auto future = engine.submit_embedding(std::move(pixels), ivs::pipeline::EmbeddingMode::kC,
                                        ivs::pipeline::Admission::kWait);
  if (!future) return {};
  return future->get().embedding;
}

TEST(InternVLClassifyTest, meta_contents_match_a_direct_computation_and_order_is_kept) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify();
  g_object_set(e, "top-k", 2u, "clip-frames", 3u, nullptr);
  GstHarness* h = harness(e);
  auto out = push_pull(h, 0, 4);
  ASSERT_EQ(out.size(), 4u);
  auto engine = engine_of(e);
  ASSERT_NE(engine, nullptr);
  auto scorer =
      engine->label_scorer({"a red square", "a blue sky", "a green field"}, {"a photo of {}."});
  ivs::pipeline::FramePreprocessor preprocessor(engine->processor());
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(GST_BUFFER_PTS(out[i]), i * kFrame);  // every buffer once, in order
    const auto* entry = find_entry(out[i], ResultType::kClassification);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->mode, "InternVL-C");
    EXPECT_EQ(entry->segment.first_pts, i * kFrame);
    ASSERT_EQ(entry->classification.size(), 2u);
    double sum = 0.0;
    for (const auto& c : entry->classification) {
      EXPECT_GE(c.label_id, 0);
      EXPECT_LT(c.label_id, 3);
      EXPECT_GE(c.confidence, 0.0);
      EXPECT_LE(c.confidence, 1.0);
      sum += c.confidence;
    }
    EXPECT_LE(sum, 1.0 + 1e-6);
    EXPECT_GE(entry->classification[0].confidence, entry->classification[1].confidence);
    // Direct: the same frame preprocessed and embedded here, scored by the engine's scorer.
    const auto embedding = direct_embedding(*engine, preprocessor, info, frame(i));
    ASSERT_FALSE(embedding.empty());
    // The meta carries the frame's embedding for later elements (alerts, search).
    ASSERT_NE(entry->embedding, nullptr);
    ASSERT_EQ(entry->embedding->size(), embedding.size());
    double diff = 0.0;
    double norm = 0.0;
    for (size_t k = 0; k < embedding.size(); ++k) {
      diff += std::pow((*entry->embedding)[k] - embedding[k], 2.0);
      norm += std::pow(embedding[k], 2.0);
    }
    EXPECT_LT(std::sqrt(diff / norm), 1e-5) << "relative error of the meta's embedding";
    const auto expected = scorer->scores(embedding, 2);
    ASSERT_EQ(expected.size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(entry->classification[k].label_id, expected[k].label_id);
      EXPECT_EQ(entry->classification[k].label, expected[k].label);
      EXPECT_NEAR(entry->classification[k].confidence, expected[k].confidence, 1e-4);
    }
    // The clip entry appears once clip-frames (3) samples were seen.
    EXPECT_EQ(find_entry(out[i], ResultType::kClipClassification) != nullptr, i >= 2);
  }
  unref_all(out);
  gst_harness_teardown(h);
}

TEST(InternVLClassifyTest, interval_samples_every_nth_frame_and_eos_drains) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify();
  g_object_set(e, "interval", 2u, nullptr);
  GstHarness* h = harness(e);
  for (int i = 0; i < 9; ++i) ASSERT_EQ(gst_harness_push(h, frame(i)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  int metas = 0;
  for (int i = 0; i < 9; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(b), i * kFrame);
    const bool has = find_entry(b, ResultType::kClassification) != nullptr;
    EXPECT_EQ(has, i % 3 == 0) << i;
    metas += has;
    gst_buffer_unref(b);
  }
  EXPECT_EQ(metas, 3);
  // EOS comes after every buffer.
  GstEvent* event = nullptr;
  while ((event = gst_harness_pull_event(h)) != nullptr && GST_EVENT_TYPE(event) != GST_EVENT_EOS) {
    gst_event_unref(event);
  }
  ASSERT_NE(event, nullptr);
  gst_event_unref(event);
  guint64 processed = 0;
  guint64 sampled = 0;
  g_object_get(e, "frames-processed", &processed, "frames-sampled", &sampled, nullptr);
  EXPECT_EQ(processed, 9u);
  EXPECT_EQ(sampled, 3u);
  gst_harness_teardown(h);
}

TEST(InternVLClassifyTest, labels_changed_while_playing_take_effect_on_the_next_sample) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify("a;b");
  GstHarness* h = harness(e);
  auto out = push_pull(h, 0, 1);
  ASSERT_EQ(out.size(), 1u);
  const auto* entry = find_entry(out[0], ResultType::kClassification);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->classification.size(), 2u);
  unref_all(out);
  g_object_set(e, "labels", "x;y;z", nullptr);
  out = push_pull(h, 1, 1);
  ASSERT_EQ(out.size(), 1u);
  entry = find_entry(out[0], ResultType::kClassification);
  ASSERT_NE(entry, nullptr);
  ASSERT_EQ(entry->classification.size(), 3u);
  std::set<std::string> labels;
  for (const auto& c : entry->classification) labels.insert(c.label);
  EXPECT_EQ(labels, (std::set<std::string>{"x", "y", "z"}));
  unref_all(out);
  gst_harness_teardown(h);
}

// Runs `description` to EOS or ERROR; returns the error message ("" when none).
std::string run_pipeline(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                               GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  std::string error;
  if (msg == nullptr) {
    error = "timeout";
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    error = err->message;
    g_error_free(err);
  }
  if (msg != nullptr) gst_message_unref(msg);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  return error;
}

TEST(InternVLClassifyTest, two_elements_share_one_engine_that_batches) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  const std::string branch =
      " videotestsrc is-live=false num-buffers=24 ! capsfilter "
      "caps=video/x-raw,format=BGRx,width=64,height=48 "
      "! internvlclassify name=%s device=cpu model=" +
      tiny() +
      " labels=\"a;b;c\" batch-size=8 batch-timeout=50000000 max-latency=60000000000 ! fakesink";
  std::string description;
  for (const char* name : {"c1", "c2"}) {
    std::string b = branch;
    b.replace(b.find("%s"), 2, name);
    description += b;
  }
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  ASSERT_NE(pipeline, nullptr) << (error != nullptr ? error->message : "");
  GstElement* c1 = gst_bin_get_by_name(GST_BIN(pipeline), "c1");
  GstElement* c2 = gst_bin_get_by_name(GST_BIN(pipeline), "c2");
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  gst_element_get_state(pipeline, nullptr, nullptr, 120 * GST_SECOND);
  auto e1 = engine_of(c1);
  auto e2 = engine_of(c2);
  EXPECT_NE(e1, nullptr);
  EXPECT_EQ(e1, e2);
  EXPECT_EQ(run_pipeline(pipeline), "");
  if (e1) {
    EXPECT_GT(e1->stats().embedding.max_batch_size, 1);
  }
  // PLAYING -> NULL -> PLAYING works (the engine is found again in the element's context).
  EXPECT_EQ(run_pipeline(pipeline), "");
  gst_object_unref(c1);
  gst_object_unref(c2);
  gst_object_unref(pipeline);
}

std::string error_of(const std::string& classify_props,
                     const char* caps = "format=BGRx,width=64,height=48") {
  const std::string description =
      std::string("videotestsrc num-buffers=2 ! capsfilter caps=video/x-raw,") + caps +
      " ! internvlclassify device=cpu " + classify_props + " ! fakesink";
  GstElement* pipeline = gst_parse_launch(description.c_str(), nullptr);
  EXPECT_NE(pipeline, nullptr);
  if (pipeline == nullptr) return "";
  const std::string error = run_pipeline(pipeline);
  gst_object_unref(pipeline);
  return error;
}

TEST(InternVLClassifyTest, bad_settings_and_input_post_an_error_naming_the_problem) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  EXPECT_NE(error_of("model=/nonexistent/model labels=a").find("/nonexistent/model"),
            std::string::npos);
  EXPECT_NE(error_of("model=" + tiny() + " labels-file=/nonexistent/labels.txt")
                .find("/nonexistent/labels.txt"),
            std::string::npos);
  EXPECT_NE(error_of("model=" + tiny() + " labels=\" ; \"").find("label set is empty"),
            std::string::npos);
  EXPECT_NE(error_of("model=" + tiny() + " labels=a prompt-template=nolabel").find("nolabel"),
            std::string::npos);
  EXPECT_FALSE(error_of("model=" + tiny() + " labels=a", "format=YUY2,width=64,height=48").empty());
}

// ---- caps, sampling, flush and late results ------------------------------------------------

// Exact frame times (n / 30 s), so a 2 fps grid lands on frames 0, 15, 30, ...
GstClockTime exact_pts(int index) { return gst_util_uint64_scale_int(index, GST_SECOND, 30); }

// A frame of `info`'s format filled with a deterministic pattern (any bytes are valid pixels in
// every supported format).
GstBuffer* frame_for(const GstVideoInfo& info, int index) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; ++i)
    map.data[i] = static_cast<guint8>((i * 13 + index * 29 + (i / 97) * 5) & 0xff);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = exact_pts(index);
  GST_BUFFER_DURATION(buffer) = exact_pts(index + 1) - exact_pts(index);
  return buffer;
}

// Pulls one buffer, polling with a wall-clock bound (no sleeps: try_pull waits on nothing).
GstBuffer* pull_within(GstHarness* h, std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    GstBuffer* b = gst_harness_try_pull(h);
    if (b != nullptr) return b;
    g_thread_yield();
  }
  return nullptr;
}

guint64 counter(GstElement* e, const char* name) {
  guint64 value = 0;
  g_object_get(e, name, &value, nullptr);
  return value;
}

// Resumes a paused engine however a test ends.
struct PausedEngine {
  explicit PausedEngine(std::shared_ptr<ivs::pipeline::Engine> e) : engine(std::move(e)) {
    engine->pause();
  }
  ~PausedEngine() { engine->resume(); }
  std::shared_ptr<ivs::pipeline::Engine> engine;
};

TEST(InternVLClassifyTest, every_supported_format_negotiates_and_gets_the_direct_result) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  const char* labels = "a red square;a blue sky;a green field";
  for (const char* format :
       {"RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "I420", "NV12"}) {
    SCOPED_TRACE(format);
    GstElement* e = make_classify(labels);
    g_object_set(e, "top-k", 3u, nullptr);
    GstHarness* h = gst_harness_new_with_element(e, "sink", "src");
    const std::string caps =
        std::string("video/x-raw,format=") + format + ",width=64,height=48,framerate=30/1";
    gst_harness_set_src_caps_str(h, caps.c_str());
    GstCaps* parsed = gst_caps_from_string(caps.c_str());
    GstVideoInfo info;
    ASSERT_TRUE(gst_video_info_from_caps(&info, parsed));
    gst_caps_unref(parsed);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(gst_harness_push(h, frame_for(info, i)), GST_FLOW_OK);
    auto engine = engine_of(e);
    ASSERT_NE(engine, nullptr);
    auto scorer =
        engine->label_scorer({"a red square", "a blue sky", "a green field"}, {"a photo of {}."});
    ivs::pipeline::FramePreprocessor preprocessor(engine->processor());
    for (int i = 0; i < 2; ++i) {
      SCOPED_TRACE(i);
      GstBuffer* b = gst_harness_pull(h);
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(GST_BUFFER_PTS(b), exact_pts(i));
      const auto* entry = find_entry(b, ResultType::kClassification);
      ASSERT_NE(entry, nullptr);
      ASSERT_EQ(entry->classification.size(), 3u);
      const auto embedding = direct_embedding(*engine, preprocessor, info, frame_for(info, i));
      ASSERT_FALSE(embedding.empty());
      const auto expected = scorer->scores(embedding, 3);
      ASSERT_EQ(expected.size(), 3u);
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(entry->classification[k].label, expected[k].label);
        EXPECT_NEAR(entry->classification[k].confidence, expected[k].confidence, 1e-4);
      }
      gst_buffer_unref(b);
    }
    EXPECT_EQ(counter(e, "frames-sampled"), 2u);
    // The caps went downstream unchanged (in order, through the FIFO, before the buffers).
    GstCaps* negotiated = gst_pad_get_current_caps(h->sinkpad);
    ASSERT_NE(negotiated, nullptr);
    GstCaps* expected_caps = gst_caps_from_string(caps.c_str());
    EXPECT_TRUE(gst_caps_is_equal(negotiated, expected_caps));
    gst_caps_unref(expected_caps);
    gst_caps_unref(negotiated);
    gst_harness_teardown(h);
  }
}

TEST(InternVLClassifyTest, selection_fps_samples_on_a_fixed_grid_of_stream_time) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify();
  g_object_set(e, "selection-fps", 2.0, nullptr);
  GstHarness* h = harness(e);
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
  constexpr int kFrames = 90;  // 3 s at 30 fps: slots at 0, 0.5, ..., 2.5 s
  for (int i = 0; i < kFrames; ++i) ASSERT_EQ(gst_harness_push(h, frame_for(info, i)), GST_FLOW_OK);
  std::vector<int> sampled;
  for (int i = 0; i < kFrames; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(b), exact_pts(i));
    const auto* entry = find_entry(b, ResultType::kClassification);
    if (entry != nullptr) {
      sampled.push_back(i);
      EXPECT_EQ(entry->segment.first_pts, exact_pts(i));
    }
    gst_buffer_unref(b);
  }
  EXPECT_EQ(sampled, (std::vector<int>{0, 15, 30, 45, 60, 75}));
  EXPECT_EQ(counter(e, "frames-sampled"), 6u);
  EXPECT_EQ(counter(e, "frames-processed"), guint64(kFrames));
  gst_harness_teardown(h);
}

TEST(InternVLClassifyTest, flush_drops_pending_buffers_and_restarts_the_sampler) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify();
  g_object_set(e, "interval", 4u, nullptr);  // samples 0, 5, 10, ... of each run after a reset
  GstHarness* h = harness(e);
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGRx, kWidth, kHeight);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(gst_harness_push(h, frame_for(info, i)), GST_FLOW_OK);
  for (int i = 0; i < 5; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(find_entry(b, ResultType::kClassification) != nullptr, i == 0);
    gst_buffer_unref(b);
  }
  auto engine = engine_of(e);
  ASSERT_NE(engine, nullptr);
  {
    // Frame 5 is sampled and its result cannot complete: 5..7 wait in the FIFO behind it.
    PausedEngine paused(engine);
    for (int i = 5; i < 8; ++i) ASSERT_EQ(gst_harness_push(h, frame_for(info, i)), GST_FLOW_OK);
    EXPECT_EQ(counter(e, "frames-sampled"), 2u);
    EXPECT_EQ(gst_harness_try_pull(h), nullptr);
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  }
  // Whatever got downstream before the flush is discarded by the flush itself.
  while (GstBuffer* stale = gst_harness_try_pull(h)) gst_buffer_unref(stale);
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  // After the flush the sampler restarts: frame 20 is sampled (without the reset it would be the
  // 9th frame, two after the sample at 5, and skipped), then every 5th again.
  for (int i = 20; i < 26; ++i) ASSERT_EQ(gst_harness_push(h, frame_for(info, i)), GST_FLOW_OK);
  for (int i = 20; i < 26; ++i) {
    SCOPED_TRACE(i);
    GstBuffer* b = gst_harness_pull(h);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(b), exact_pts(i));  // none of 5..7 comes out
    const auto* entry = find_entry(b, ResultType::kClassification);
    EXPECT_EQ(entry != nullptr, i == 20 || i == 25);
    if (entry != nullptr) {
      EXPECT_EQ(entry->segment.first_pts, exact_pts(i));  // its own result, not frame 5's
    }
    gst_buffer_unref(b);
  }
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  EXPECT_EQ(counter(e, "frames-sampled"), 4u);
  EXPECT_EQ(counter(e, "results-late"), 0u);
  gst_harness_teardown(h);
}

TEST(InternVLClassifyTest, a_result_later_than_max_latency_leaves_the_buffer_without_meta) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_element();
  GstElement* e = make_classify();
  GstHarness* h = harness(e);
  auto out = push_pull(h, 0, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(find_entry(out[0], ResultType::kClassification), nullptr);
  unref_all(out);
  auto engine = engine_of(e);
  ASSERT_NE(engine, nullptr);
  {
    PausedEngine paused(engine);
    g_object_set(e, "max-latency", guint64(50 * GST_MSECOND), nullptr);  // wall-clock deadline
    ASSERT_EQ(gst_harness_push(h, frame(1)), GST_FLOW_OK);
    GstBuffer* b = pull_within(h, std::chrono::seconds(30));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(b), kFrame);
    EXPECT_EQ(gst_buffer_get_internvl_result_meta(b), nullptr);
    gst_buffer_unref(b);
    EXPECT_EQ(counter(e, "results-late"), 1u);
    EXPECT_EQ(counter(e, "frames-sampled"), 2u);
  }
  // Resumed, with room again: the next sampled frame gets its result.
  g_object_set(e, "max-latency", guint64(60 * GST_SECOND), nullptr);
  out = push_pull(h, 2, 1);
  ASSERT_EQ(out.size(), 1u);
  const auto* entry = find_entry(out[0], ResultType::kClassification);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->segment.first_pts, 2 * kFrame);
  unref_all(out);
  EXPECT_EQ(counter(e, "results-late"), 1u);
  gst_harness_teardown(h);
}

}  // namespace
