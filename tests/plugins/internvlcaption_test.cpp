// SPDX-License-Identifier: Apache-2.0
// internvlcaption driven by GstHarness and small pipelines over the tiny InternVL fixture. The
// tests share one engine with the element through the "internvl.engine" context, so they can
// pause it (captions "slower than frames", deterministically) and compute reference captions.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include "plugins/internvl/gstinternvlcaption.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine_context.h"
#include "pipeline/frame_preprocess.h"
#include "pipeline/result_meta.h"
#include "tests/common/test_paths.h"

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

namespace {

constexpr int kWidth = 64;
constexpr int kHeight = 48;
constexpr GstClockTime kFrameDuration = GST_SECOND / 30;
constexpr const char* kCaps = "video/x-raw,format=RGB,width=64,height=48,framerate=30/1";
constexpr std::chrono::seconds kCompletes{60};  // bound on any wait; never a fixed sleep

void register_caption() {
  gst_init(nullptr, nullptr);
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlcaption, nullptr));
}

ivs::pipeline::EngineKey tiny_key() {
  return {ivs::test::internvl_tiny_dir().string(), "cpu", "fp32"};
}

// One engine for the whole test program (loading it once keeps the tests fast). batch_size 1:
// requests run strictly in submission order, so a reference request that completes proves the
// element's earlier request completed too.
std::shared_ptr<ivs::pipeline::Engine>& engine_slot() {
  static std::shared_ptr<ivs::pipeline::Engine> engine;
  return engine;
}

std::shared_ptr<ivs::pipeline::Engine> tiny_engine() {
  auto& engine = engine_slot();
  if (!engine) {
    ivs::pipeline::EngineOptions options;
    options.batch_size = 1;
    options.batch_timeout = std::chrono::milliseconds(1);
    options.max_queue = 16;
    options.intra_op_threads = 1;
    engine = ivs::pipeline::Engine::create(tiny_key(), options);
  }
  return engine;
}

// Stops the engine's workers before exit: a worker still running LibTorch while the process's
// static destructors run (LibTorch's among them) can deadlock.
class EngineEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (engine_slot()) engine_slot()->shutdown(ivs::pipeline::Engine::ShutdownMode::kCancel);
    engine_slot().reset();
  }
};
[[maybe_unused]] ::testing::Environment* const kEngineEnvironment =
    ::testing::AddGlobalTestEnvironment(new EngineEnvironment);

void give_engine(GstElement* element) {
  GstContext* context = ivs::pipeline::engine_context_new({tiny_engine()});
  gst_element_set_context(element, context);
  gst_context_unref(context);
}

GstElement* make_caption() {
  GstElement* e = gst_element_factory_make("internvlcaption", "cap");
  EXPECT_NE(e, nullptr);
  const std::string model = ivs::test::internvl_tiny_dir().string();
  g_object_set(e, "model", model.c_str(), "num-beams", 2u, "min-new-tokens", 2u, "max-new-tokens",
               6u, nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "device", "cpu");
  gst_util_set_object_arg(G_OBJECT(e), "dtype", "fp32");
  give_engine(e);
  return e;
}

// Harness around a configured element (gst_harness_new would start it before configuration).
GstHarness* start_harness(GstElement* caption, bool live = true) {
  GstHarness* h = gst_harness_new_with_element(caption, "sink", "src");
  gst_object_unref(caption);
  gst_harness_set_live(h, live);
  gst_harness_set_src_caps_str(h, kCaps);
  return h;
}

// An RGB frame whose pixels depend on `seed`.
GstBuffer* frame(uint64_t number, int seed = 0) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_RGB, kWidth, kHeight);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  const int stride = GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      guint8* p = map.data + y * stride + 3 * x;
      p[0] = static_cast<guint8>(4 * x + seed);
      p[1] = static_cast<guint8>(5 * y + 3 * seed);
      p[2] = static_cast<guint8>((x * y + 7 * seed) & 0xff);
    }
  }
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = number * kFrameDuration;
  GST_BUFFER_DURATION(buffer) = kFrameDuration;
  return buffer;
}

// The engine's caption for `buffer`, preprocessed exactly as the element does.
ivs::pipeline::CaptionResult reference_caption(GstBuffer* buffer,
                                               const ivs::pipeline::CaptionSettings& settings) {
  auto engine = tiny_engine();
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_RGB, kWidth, kHeight);
  GstVideoFrame video_frame;
  EXPECT_TRUE(gst_video_frame_map(&video_frame, &info, buffer, GST_MAP_READ));
  ivs::pipeline::FramePreprocessor preprocessor(engine->processor(),
                                                ivs::model::ResizeMode::kSquash);
  auto pixels = preprocessor.preprocess(video_frame);
  gst_video_frame_unmap(&video_frame);
  auto future =
      engine->submit_caption(std::move(pixels), settings, ivs::pipeline::Admission::kWait);
  EXPECT_TRUE(future.has_value());
  EXPECT_EQ(future->wait_for(kCompletes), std::future_status::ready);
  return future->get();
}

ivs::pipeline::CaptionSettings test_settings() {
  ivs::pipeline::CaptionSettings settings;
  settings.num_beams = 2;
  settings.min_new_tokens = 2;
  settings.max_new_tokens = 6;
  return settings;
}

std::vector<ivs::pipeline::ResultEntry> captions_on(GstBuffer* buffer) {
  std::vector<ivs::pipeline::ResultEntry> out;
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr) return out;
  for (const auto& entry : meta->records->entries) {
    if (entry.type == ivs::pipeline::ResultType::kCaption) out.push_back(entry);
  }
  return out;
}

guint64 counter(GstElement* e, const char* name) {
  guint64 value = 0;
  g_object_get(e, name, &value, nullptr);
  return value;
}

// Resumes the shared engine however a test ends.
struct PausedEngine {
  PausedEngine() { tiny_engine()->pause(); }
  ~PausedEngine() { tiny_engine()->resume(); }
};

#define REQUIRE_TINY() INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json")

TEST(InternVLCaptionTest, properties_have_the_documented_defaults) {
  register_caption();
  GstElement* e = gst_element_factory_make("internvlcaption", nullptr);
  ASSERT_NE(e, nullptr);
  gchar* prompt = nullptr;
  guint beams = 0, min_tokens = 0, max_tokens = 0, interval = 1;
  gdouble fps = 0.0;
  g_object_get(e, "prompt", &prompt, "num-beams", &beams, "min-new-tokens", &min_tokens,
               "max-new-tokens", &max_tokens, "interval", &interval, "selection-fps", &fps,
               nullptr);
  EXPECT_STREQ(prompt, "English caption:");
  EXPECT_EQ(beams, 5u);
  EXPECT_EQ(min_tokens, 8u);
  EXPECT_EQ(max_tokens, 20u);
  EXPECT_EQ(interval, 0u);
  EXPECT_DOUBLE_EQ(fps, 0.2);
  g_free(prompt);
  EXPECT_EQ(counter(e, "captions-attached"), 0u);
  gst_object_unref(e);
}

TEST(InternVLCaptionTest, caption_arrives_on_a_later_frame_with_the_sampled_segment) {
  REQUIRE_TINY();
  register_caption();
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 1000u, nullptr);  // only frame 0
  GstHarness* h = start_harness(e);
  const auto accepted_before = tiny_engine()->stats().caption.accepted;

  GstBuffer* first = frame(0, 1);
  gst_buffer_ref(first);
  gst_harness_push(h, first);
  GstBuffer* out0 = gst_harness_pull(h);
  ASSERT_NE(out0, nullptr);
  EXPECT_TRUE(captions_on(out0).empty()) << "a caption cannot be ready on the frame it describes";
  gst_buffer_unref(out0);

  const auto reference =
      reference_caption(first, test_settings());  // completes after the element's
  gst_buffer_unref(first);
  EXPECT_EQ(tiny_engine()->stats().caption.accepted, accepted_before + 2)
      << "the element used the shared engine";

  gst_harness_push(h, frame(1, 2));
  GstBuffer* out1 = gst_harness_pull(h);
  ASSERT_NE(out1, nullptr);
  EXPECT_EQ(GST_BUFFER_PTS(out1), kFrameDuration);
  const auto captions = captions_on(out1);
  ASSERT_EQ(captions.size(), 1u);
  const auto& entry = captions[0];
  ASSERT_TRUE(entry.caption.has_value());
  EXPECT_FALSE(reference.text.empty());
  EXPECT_EQ(entry.caption->text, reference.text);
  EXPECT_EQ(entry.caption->prompt, "English caption:");
  EXPECT_EQ(entry.caption->num_generated_tokens, static_cast<int64_t>(reference.token_ids.size()));
  EXPECT_EQ(entry.caption->num_input_tokens, reference.num_input_tokens);
  EXPECT_EQ(entry.segment.first_pts, 0u);
  EXPECT_EQ(entry.segment.last_pts, 0u);
  EXPECT_EQ(entry.segment.first_frame, 0u);
  EXPECT_EQ(entry.segment.last_frame, 0u);
  EXPECT_EQ(entry.element, "cap");
  EXPECT_EQ(entry.mode, "caption");
  EXPECT_EQ(entry.model_name, tiny_engine()->model_name());
  EXPECT_EQ(entry.timing.batch_size, 1);
  EXPECT_GT(entry.timing.inference_seconds, 0.0);
  EXPECT_GE(entry.timing.latency_seconds, entry.timing.inference_seconds);
  gst_buffer_unref(out1);

  EXPECT_EQ(counter(e, "frames-sampled"), 1u);
  EXPECT_EQ(counter(e, "captions-attached"), 1u);
  EXPECT_EQ(counter(e, "captions-dropped"), 0u);
  EXPECT_EQ(counter(e, "captions-failed"), 0u);
  gst_harness_teardown(h);
}

TEST(InternVLCaptionTest, samples_by_interval) {
  REQUIRE_TINY();
  register_caption();
  PausedEngine paused;  // nothing completes: every sample but the first is skipped and counted
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 2u, nullptr);
  GstHarness* h = start_harness(e);
  for (uint64_t i = 0; i < 10; ++i) gst_harness_push(h, frame(i));
  EXPECT_EQ(gst_harness_buffers_received(h), 10u);
  EXPECT_EQ(counter(e, "frames-sampled"), 4u);  // frames 0, 3, 6, 9
  EXPECT_EQ(counter(e, "captions-dropped"), 3u);
  gst_harness_teardown(h);
}

TEST(InternVLCaptionTest, samples_by_selection_fps_and_defaults_to_one_in_five_seconds) {
  REQUIRE_TINY();
  register_caption();
  PausedEngine paused;
  {
    GstElement* e = make_caption();
    g_object_set(e, "selection-fps", 5.0, "interval", 0u, nullptr);
    GstHarness* h = start_harness(e);
    for (uint64_t i = 0; i < 60; ++i) gst_harness_push(h, frame(i));  // 2 s at 30 fps
    EXPECT_EQ(gst_harness_buffers_received(h), 60u);
    EXPECT_EQ(counter(e, "frames-sampled"), 10u);
    gst_harness_teardown(h);
  }
  {
    GstElement* e = make_caption();  // default selection-fps 0.2
    GstHarness* h = start_harness(e);
    for (uint64_t second = 0; second <= 10; ++second) {
      GstBuffer* buffer = frame(0);
      GST_BUFFER_PTS(buffer) = second * GST_SECOND;
      gst_harness_push(h, buffer);
    }
    EXPECT_EQ(counter(e, "frames-sampled"), 3u);  // 0 s, 5 s, 10 s
    gst_harness_teardown(h);
  }
}

TEST(InternVLCaptionTest, stream_never_stalls_when_captions_are_slower_than_frames) {
  REQUIRE_TINY();
  register_caption();
  GstElement* e = make_caption();
  // Every frame sampled, and expensive captions: far slower than the frames arrive.
  g_object_set(e, "selection-fps", 0.0, "interval", 0u, "num-beams", 8u, "min-new-tokens", 40u,
               "max-new-tokens", 40u, nullptr);
  GstHarness* h = start_harness(e);
  constexpr uint64_t kFrames = 30;
  for (uint64_t i = 0; i < kFrames; ++i) {
    gst_harness_push(h, frame(i));
    GstBuffer* out = gst_harness_pull(h);  // out at once, whatever the captions do
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(out), i * kFrameDuration);
    gst_buffer_unref(out);
  }
  const guint64 sampled = counter(e, "frames-sampled");
  const guint64 attached = counter(e, "captions-attached");
  const guint64 dropped = counter(e, "captions-dropped");
  EXPECT_EQ(sampled, kFrames);
  EXPECT_GT(dropped, 0u);
  // Every sample is either skipped, attached, failed or the one still in flight.
  EXPECT_GE(dropped + attached + counter(e, "captions-failed") + 1, sampled);
  EXPECT_LE(dropped + attached + counter(e, "captions-failed"), sampled);
  gst_harness_teardown(h);
}

TEST(InternVLCaptionTest, non_live_eos_attaches_the_last_caption_to_the_last_frame) {
  REQUIRE_TINY();
  register_caption();
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 1000u, nullptr);
  GstHarness* h = start_harness(e, /*live=*/false);
  {
    PausedEngine paused;
    for (uint64_t i = 0; i < 5; ++i) gst_harness_push(h, frame(i));
    // Non-live with a caption in flight: the newest frame is kept back for the EOS.
    EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 5u);
  for (int i = 0; i < 4; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    EXPECT_TRUE(captions_on(out).empty());
    gst_buffer_unref(out);
  }
  GstBuffer* last = gst_harness_pull(h);
  EXPECT_EQ(GST_BUFFER_PTS(last), 4 * kFrameDuration);
  const auto captions = captions_on(last);
  ASSERT_EQ(captions.size(), 1u);
  EXPECT_EQ(captions[0].segment.first_pts, 0u);
  EXPECT_FALSE(captions[0].caption->text.empty());
  gst_buffer_unref(last);
  // EOS comes after the last frame.
  GstEvent* event = nullptr;
  bool saw_eos = false;
  while ((event = gst_harness_try_pull_event(h)) != nullptr) {
    saw_eos = saw_eos || GST_EVENT_TYPE(event) == GST_EVENT_EOS;
    gst_event_unref(event);
  }
  EXPECT_TRUE(saw_eos);
  EXPECT_EQ(counter(e, "captions-attached"), 1u);
  EXPECT_EQ(counter(e, "captions-dropped"), 0u);
  gst_harness_teardown(h);
}

// Makes every latency query that reaches `pad` from downstream fail, as a source that does not
// answer it would.
GstPadProbeReturn refuse_latency(GstPad*, GstPadProbeInfo* info, gpointer) {
  GstQuery* query = GST_PAD_PROBE_INFO_QUERY(info);
  return GST_QUERY_TYPE(query) == GST_QUERY_LATENCY ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

TEST(InternVLCaptionTest, an_upstream_that_does_not_answer_the_latency_query_is_not_live) {
  REQUIRE_TINY();
  register_caption();
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 1000u, nullptr);
  GstHarness* h = start_harness(e, /*live=*/true);
  GstPad* sinkpad = gst_element_get_static_pad(h->element, "sink");
  GstPad* upstream = gst_pad_get_peer(sinkpad);
  gst_pad_add_probe(upstream, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM, refuse_latency, nullptr, nullptr);
  gst_object_unref(upstream);
  gst_object_unref(sinkpad);
  {
    PausedEngine paused;
    for (uint64_t i = 0; i < 3; ++i) gst_harness_push(h, frame(i));
    // Not live (as GstBaseSink counts an unanswered query): the newest frame waits for the EOS.
    EXPECT_EQ(gst_harness_buffers_received(h), 2u);
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 3u);
  EXPECT_EQ(counter(h->element, "captions-attached"), 1u);
  EXPECT_EQ(counter(h->element, "captions-dropped"), 0u);
  gst_harness_teardown(h);
}

// The service tells a file slowed down by a slow model from a stalled one by this property.
TEST(InternVLCaptionTest, inference_wait_shows_a_non_live_stream_waiting_for_its_caption) {
  REQUIRE_TINY();
  register_caption();
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 0u, nullptr);  // every frame sampled
  GstHarness* h = start_harness(e, /*live=*/false);
  EXPECT_EQ(counter(h->element, "inference-wait"), 0u);
  std::optional<PausedEngine> paused(std::in_place);
  gst_harness_push(h, frame(0));  // its caption is queued, and stays there
  std::thread pusher([&] { gst_harness_push(h, frame(1)); });  // waits for that caption
  guint64 waited = 0;
  const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (waited == 0 && std::chrono::steady_clock::now() < bound) {
    waited = counter(h->element, "inference-wait");
    g_thread_yield();
  }
  EXPECT_GT(waited, 0u) << "the streaming thread waits on inference";
  paused.reset();  // the engine runs again: the caption finishes, the push returns
  pusher.join();
  EXPECT_EQ(counter(h->element, "inference-wait"), 0u);
  gst_harness_teardown(h);
}

TEST(InternVLCaptionTest, live_eos_drops_the_caption_in_flight_and_counts_it) {
  REQUIRE_TINY();
  register_caption();
  PausedEngine paused;
  GstElement* e = make_caption();
  g_object_set(e, "selection-fps", 0.0, "interval", 1000u, nullptr);
  GstHarness* h = start_harness(e, /*live=*/true);
  for (uint64_t i = 0; i < 3; ++i) gst_harness_push(h, frame(i));
  EXPECT_EQ(gst_harness_buffers_received(h), 3u);  // live: nothing is ever held back
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(counter(e, "captions-dropped"), 1u);
  EXPECT_EQ(counter(e, "captions-attached"), 0u);
  gst_harness_teardown(h);
}

// Runs `pipeline` to EOS (or error); returns the error text, "" on EOS.
std::string run_to_eos(GstElement* pipeline) {
  std::string text;
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    text = "state change failed";
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message =
      gst_bus_timed_pop_filtered(bus, kCompletes.count() * GST_SECOND,
                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) {
    text = "timed out";
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(message, &err, nullptr);
    text = err->message;
    g_error_free(err);
  }
  if (message != nullptr) gst_message_unref(message);
  gst_object_unref(bus);
  return text;
}

// `frames` small RGB test frames -> internvlcaption named "cap" on the tiny checkpoint (CPU,
// fp32) with `caption_options` -> `sink`, sharing the test's engine. Null (and a failure) when
// the description does not parse.
GstElement* tiny_caption_pipeline(int frames, const std::string& caption_options,
                                  const std::string& sink) {
  const std::string description =
      "videotestsrc num-buffers=" + std::to_string(frames) +
      " ! video/x-raw,width=64,height=48,format=RGB ! internvlcaption name=cap model=" +
      ivs::test::internvl_tiny_dir().string() + " device=cpu dtype=fp32 " + caption_options +
      " ! " + sink;
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  if (error != nullptr) {
    ADD_FAILURE() << error->message;
    g_clear_error(&error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    return nullptr;
  }
  give_engine(pipeline);
  return pipeline;
}

TEST(InternVLCaptionTest, playing_null_playing_runs_again) {
  REQUIRE_TINY();
  register_caption();
  GstElement* pipeline = tiny_caption_pipeline(
      20, "num-beams=2 min-new-tokens=2 max-new-tokens=6 selection-fps=0 interval=1000",
      "fakesink");
  ASSERT_NE(pipeline, nullptr);
  GstElement* cap = gst_bin_get_by_name(GST_BIN(pipeline), "cap");
  for (int run = 0; run < 2; ++run) {
    EXPECT_EQ(run_to_eos(pipeline), "") << "run " << run;
    // Non-live: the one caption (frame 0) is on a frame by EOS at the latest.
    EXPECT_EQ(counter(cap, "frames-sampled"), 1u) << "run " << run;
    EXPECT_EQ(counter(cap, "captions-attached"), 1u) << "run " << run;
    ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref(cap);
  gst_object_unref(pipeline);
}

// A file (non-live) asks for every sampled frame: captions are never skipped while one is in
// flight; the stream waits for them instead, and they come in frame order.
TEST(InternVLCaptionTest, non_live_stream_gets_every_sampled_caption_in_order) {
  REQUIRE_TINY();
  register_caption();
  // Every 3rd of 30 frames sampled; the frames come far faster than captions (no clock).
  GstElement* pipeline = tiny_caption_pipeline(
      30, "num-beams=2 min-new-tokens=2 max-new-tokens=4 selection-fps=0 interval=2",
      "fakesink name=sink sync=false");
  ASSERT_NE(pipeline, nullptr);
  std::vector<uint64_t> captioned;  // first_frame of each caption, in the order they passed
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer out) {
        for (const auto& entry : captions_on(GST_PAD_PROBE_INFO_BUFFER(info))) {
          static_cast<std::vector<uint64_t>*>(out)->push_back(entry.segment.first_frame);
        }
        return GST_PAD_PROBE_OK;
      },
      &captioned, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sink);
  GstElement* cap = gst_bin_get_by_name(GST_BIN(pipeline), "cap");
  EXPECT_EQ(run_to_eos(pipeline), "");
  EXPECT_EQ(counter(cap, "frames-sampled"), 10u);
  EXPECT_EQ(counter(cap, "captions-attached"), 10u);
  EXPECT_EQ(counter(cap, "captions-dropped"), 0u);
  EXPECT_EQ(captioned, (std::vector<uint64_t>{0, 3, 6, 9, 12, 15, 18, 21, 24, 27}));
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(cap);
  gst_object_unref(pipeline);
}

// Starts `description` and returns the bus error's message ("" when it ran to EOS).
std::string launch_error(const std::string& description) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  EXPECT_EQ(error, nullptr);
  if (pipeline == nullptr) return "no pipeline";
  const std::string text = run_to_eos(pipeline);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return text;
}

TEST(InternVLCaptionTest, missing_model_is_a_bus_error_naming_the_directory) {
  register_caption();
  const std::string error = launch_error(
      "videotestsrc num-buffers=1 ! internvlcaption model=/nonexistent/internvl-model ! fakesink");
  EXPECT_NE(error.find("/nonexistent/internvl-model"), std::string::npos) << error;
  EXPECT_NE(launch_error("videotestsrc num-buffers=1 ! internvlcaption ! fakesink").find("model"),
            std::string::npos);
}

TEST(InternVLCaptionTest, min_new_tokens_above_max_is_a_bus_error_naming_both) {
  REQUIRE_TINY();
  register_caption();
  const std::string error = launch_error("videotestsrc num-buffers=1 ! internvlcaption model=" +
                                         ivs::test::internvl_tiny_dir().string() +
                                         " min-new-tokens=30 max-new-tokens=10 ! fakesink");
  EXPECT_NE(error.find("min-new-tokens"), std::string::npos) << error;
  EXPECT_NE(error.find("max-new-tokens"), std::string::npos) << error;
}

}  // namespace
