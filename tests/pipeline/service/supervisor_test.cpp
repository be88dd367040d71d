// SPDX-License-Identifier: Apache-2.0
// The supervisor in simulated time: stall detection, fps, backoff and restarts, the drain at
// shutdown. Each stream is a real GStreamer pipeline (appsrc ! queue ! fakesink) whose frames the
// test pushes one by one; the supervisor's clock and random source are the test's, so the only
// real-time waits are for a pushed frame to reach the sink (bounded).
#include <gtest/gtest.h>

#include <gst/gst.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "pipeline/metrics_context.h"
#include "pipeline/service/stream_pipeline.h"
#include "pipeline/service/supervisor.h"
#include "tests/pipeline/service/stand_in_pipeline.h"

namespace ivs::service {
namespace {

using std::chrono::steady_clock;

constexpr double kStallSeconds = 5.0;
constexpr double kTickSeconds = 0.25;  // the service's tick

// What the test's pipelines report from their streaming threads.
struct SinkEvents {
  std::mutex lock;
  std::condition_variable changed;
  uint64_t frames = 0;       // at the sink, every pipeline of the test together
  unsigned eos = 0;          // end-of-stream events that reached the sink
  bool swallow_eos = false;  // drop them there, so the bus never sees the end of stream
};

GstPadProbeReturn on_sink_data(GstPad* /*pad*/, GstPadProbeInfo* info, gpointer events_pointer) {
  auto* events = static_cast<SinkEvents*>(events_pointer);
  bool drop = false;
  {
    std::lock_guard<std::mutex> guard(events->lock);
    if ((GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) != 0) {
      ++events->frames;
    } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_EOS) {
      ++events->eos;
      drop = events->swallow_eos;
    }
  }
  events->changed.notify_all();
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

// A stand-in for internvlcaption: only its read-only `inference-wait` property, which the test
// sets through a writable twin (the real element reports how long its streaming thread waits).
struct TestInference {
  GstElement parent;
  guint64 wait;
};
struct TestInferenceClass {
  GstElementClass parent_class;
};
G_DEFINE_TYPE(TestInference, test_inference, GST_TYPE_ELEMENT)

void test_inference_get(GObject* object, guint, GValue* value, GParamSpec*) {
  g_value_set_uint64(value, reinterpret_cast<TestInference*>(object)->wait);
}
void test_inference_set(GObject* object, guint, const GValue* value, GParamSpec*) {
  reinterpret_cast<TestInference*>(object)->wait = g_value_get_uint64(value);
}
void test_inference_class_init(TestInferenceClass* klass) {
  auto* gobject_class = G_OBJECT_CLASS(klass);
  gobject_class->get_property = test_inference_get;
  gobject_class->set_property = test_inference_set;
  g_object_class_install_property(
      gobject_class, 1,
      g_param_spec_uint64("inference-wait", "Inference wait", "ns waited on inference", 0,
                          G_MAXUINT64, 0,
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
}
void test_inference_init(TestInference* self) { self->wait = 0; }

class SupervisorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }

  void TearDown() override {
    supervisor_.reset();  // joins the teardowns, which still use events_
    if (source_ != nullptr) gst_object_unref(source_);
  }

  // Starts the supervisor with one non-live stream, "cam".
  void start() {
    config_.supervision.stall_timeout_seconds = kStallSeconds;
    config_.supervision.backoff_initial_seconds = 1.0;
    config_.supervision.backoff_max_seconds = 4.0;
    SupervisorEnv env;
    env.now = [this] { return now_; };
    env.unit_random = [this] {
      const double value = randoms_.empty() ? 1.0 : randoms_.front();
      if (!randoms_.empty()) randoms_.pop_front();
      return value;
    };
    env.build_pipeline = [this](const StreamConfig& stream, const SharedContexts&,
                                const std::shared_ptr<StreamTelemetry>& telemetry) {
      return build(stream, telemetry);
    };
    supervisor_ = std::make_unique<Supervisor>(config_, SharedContexts{},
                                               std::make_shared<pipeline::MetricsHub>(), env);
    StreamConfig stream;
    stream.id = "cam";
    stream.uri = "file:///videos/cam.mp4";
    supervisor_->add(stream);
  }

  // start(), then one frame through: the stream is running (only those are drained).
  void start_running() {
    start();
    push_frames(1);
    tick_after(kTickSeconds);
    ASSERT_EQ(status().state, StreamState::kRunning);
  }

  StreamPipeline build(const StreamConfig& stream,
                       const std::shared_ptr<StreamTelemetry>& telemetry) {
    StreamPipeline built = stand_in_pipeline(stream);
    GstElement* source = gst_bin_get_by_name(GST_BIN(built.pipeline), "source");
    GstElement* sink = gst_bin_get_by_name(GST_BIN(built.pipeline), "sink");
    built.caption =
        GST_ELEMENT(g_object_new(test_inference_get_type(), "name", "caption", nullptr));
    gst_bin_add(GST_BIN(built.pipeline), built.caption);
    caption_ = built.caption;
    count_frames_at(built.pipeline, sink, telemetry);
    GstPad* pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad,
                      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                   GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                      &on_sink_data, &events_, nullptr);
    gst_object_unref(pad);
    gst_object_unref(sink);
    if (source_ != nullptr) gst_object_unref(source_);
    source_ = source;  // the reference gst_bin_get_by_name() gave
    ++pipelines_built_;
    return built;
  }

  // Pushes `count` frames into the current pipeline and waits (bounded) until the sink has them.
  void push_frames(unsigned count) {
    uint64_t expected = 0;
    {
      std::lock_guard<std::mutex> guard(events_.lock);
      expected = events_.frames + count;
    }
    for (unsigned i = 0; i < count; ++i) {
      GstBuffer* buffer = gst_buffer_new_allocate(nullptr, 16, nullptr);
      GstFlowReturn flow = GST_FLOW_OK;
      g_signal_emit_by_name(source_, "push-buffer", buffer, &flow);
      gst_buffer_unref(buffer);
      ASSERT_EQ(flow, GST_FLOW_OK);
    }
    std::unique_lock<std::mutex> lock(events_.lock);
    ASSERT_TRUE(events_.changed.wait_for(lock, std::chrono::seconds(30), [&] {
      return events_.frames >= expected;
    })) << "the pushed frames did not reach the sink";
  }

  // Moves the simulated clock on, then ticks as the service's main loop would.
  void tick_after(double seconds) {
    now_ +=
        std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>(seconds));
    supervisor_->tick();
  }

  StreamStatus status() const { return supervisor_->status("cam").value(); }

  unsigned eos_at_sink() {
    std::lock_guard<std::mutex> guard(events_.lock);
    return events_.eos;
  }

  ServiceConfig config_;
  steady_clock::time_point now_{};
  std::deque<double> randoms_;  // the random source's next values (then 1.0)
  SinkEvents events_;
  GstElement* source_ = nullptr;   // the appsrc of the latest pipeline
  GstElement* caption_ = nullptr;  // its stand-in inference element (borrowed from the pipeline)
  unsigned pipelines_built_ = 0;
  std::unique_ptr<Supervisor> supervisor_;
};

TEST_F(SupervisorTest, a_stream_without_frames_for_the_stall_timeout_is_restarted) {
  start();
  tick_after(kStallSeconds);
  EXPECT_EQ(status().state, StreamState::kStarting);  // exactly the timeout is not yet a stall
  tick_after(kTickSeconds);
  const StreamStatus stalled = status();
  EXPECT_EQ(stalled.state, StreamState::kBackoff);
  EXPECT_EQ(stalled.last_error, "no frames for 5.0 s (stall_timeout_seconds)");
}

TEST_F(SupervisorTest, a_stream_waiting_on_inference_is_not_stalled) {
  start_running();
  g_object_set(caption_, "inference-wait", G_GUINT64_CONSTANT(1), nullptr);  // a slow model
  for (int tick = 0; tick < 4 * kStallSeconds / kTickSeconds; ++tick) {
    tick_after(kTickSeconds);
    ASSERT_EQ(status().state, StreamState::kRunning) << "after " << (tick + 1) * kTickSeconds;
  }
  EXPECT_EQ(status().restarts, 0u);
  // The wait is over and still no frame comes: now it is a stall, counted from the wait's end.
  g_object_set(caption_, "inference-wait", G_GUINT64_CONSTANT(0), nullptr);
  tick_after(kStallSeconds);
  EXPECT_EQ(status().state, StreamState::kRunning);
  tick_after(kTickSeconds);
  EXPECT_EQ(status().state, StreamState::kBackoff);
}

TEST_F(SupervisorTest, a_stream_whose_frames_keep_coming_is_not_restarted) {
  start();
  for (int second = 0; second < 3 * kStallSeconds; ++second) {
    push_frames(1);
    tick_after(1.0);
    ASSERT_EQ(status().state, StreamState::kRunning) << "after " << second << " s";
  }
  EXPECT_EQ(status().restarts, 0u);
  EXPECT_EQ(pipelines_built_, 1u);
  // Once they stop, the stall timeout counts from the last one the supervisor saw.
  tick_after(kStallSeconds);
  EXPECT_EQ(status().state, StreamState::kRunning);
  tick_after(kTickSeconds);
  EXPECT_EQ(status().state, StreamState::kBackoff);
}

TEST_F(SupervisorTest, fps_is_frames_over_simulated_time_in_windows_of_two_seconds) {
  start();
  push_frames(1);
  tick_after(kTickSeconds);  // the first window starts here
  EXPECT_EQ(status().fps, 0.0);
  push_frames(6);
  tick_after(2.0);
  EXPECT_DOUBLE_EQ(status().fps, 3.0);
  push_frames(10);
  tick_after(1.0);
  EXPECT_DOUBLE_EQ(status().fps, 3.0);  // the window is not over yet
  tick_after(1.5);
  EXPECT_DOUBLE_EQ(status().fps, 4.0);  // 10 frames in 2.5 s
  EXPECT_EQ(status().frames, 17u);
}

TEST_F(SupervisorTest, restarts_once_the_backoff_has_elapsed) {
  randoms_ = {1.0};
  start();
  tick_after(kStallSeconds + kTickSeconds);
  ASSERT_EQ(status().state, StreamState::kBackoff);
  EXPECT_DOUBLE_EQ(status().restart_in_seconds, 1.0);
  tick_after(0.999);
  EXPECT_EQ(status().state, StreamState::kBackoff);
  EXPECT_EQ(pipelines_built_, 1u);
  tick_after(0.001);
  const StreamStatus restarted = status();
  EXPECT_EQ(restarted.state, StreamState::kStarting);
  EXPECT_EQ(restarted.restarts, 1u);
  EXPECT_EQ(pipelines_built_, 2u);
  push_frames(1);  // the new pipeline is the one that runs
  tick_after(kTickSeconds);
  EXPECT_EQ(status().state, StreamState::kRunning);
}

TEST_F(SupervisorTest, backoff_doubles_per_failure_up_to_the_bound_with_jitter_in_half_to_one) {
  // Delays 1, 2, 4, 4, 4 s, each scaled by 0.5 + 0.5 * random.
  randoms_ = {1.0, 0.0, 0.5, 0.0, 1.0};
  const double expected[] = {1.0, 1.0, 3.0, 2.0, 4.0};
  const double bases[] = {1.0, 2.0, 4.0, 4.0, 4.0};
  start();
  for (size_t failure = 0; failure < std::size(expected); ++failure) {
    tick_after(kStallSeconds + kTickSeconds);
    const StreamStatus down = status();
    ASSERT_EQ(down.state, StreamState::kBackoff) << "failure " << failure + 1;
    EXPECT_DOUBLE_EQ(down.restart_in_seconds, expected[failure]) << "failure " << failure + 1;
    EXPECT_GE(down.restart_in_seconds, 0.5 * bases[failure]);
    EXPECT_LE(down.restart_in_seconds, bases[failure]);
    tick_after(down.restart_in_seconds);
    ASSERT_EQ(status().state, StreamState::kStarting);
    EXPECT_EQ(status().restarts, failure + 1);
  }
}

TEST_F(SupervisorTest, shutdown_sends_end_of_stream_to_a_running_stream_and_waits_for_it) {
  config_.supervision.shutdown_timeout_seconds = 3600;  // only the end of stream can end the wait
  start_running();
  supervisor_->stop_all(true);
  supervisor_->wait_for_teardowns();
  EXPECT_EQ(eos_at_sink(), 1u);
}

TEST_F(SupervisorTest, shutdown_waits_at_most_the_shutdown_timeout_for_the_end_of_stream) {
  config_.supervision.shutdown_timeout_seconds = 0.05;
  events_.swallow_eos = true;  // the end of stream never reaches the bus
  start_running();
  supervisor_->stop_all(true);
  supervisor_->wait_for_teardowns();  // returns: the wait ended without the end of stream
  EXPECT_EQ(eos_at_sink(), 1u);
}

TEST_F(SupervisorTest, stopping_without_drain_sends_no_end_of_stream) {
  start_running();
  supervisor_->stop_all(false);
  supervisor_->wait_for_teardowns();
  EXPECT_EQ(eos_at_sink(), 0u);
}

}  // namespace
}  // namespace ivs::service
