// SPDX-License-Identifier: Apache-2.0
// The running state of internvlclassify (built when it starts, dropped when it stops): sampling,
// preprocessing, submitting frames to the engine, scoring their embeddings against the label set
// and the clip window. Frames wait in the result scheduler (pipeline/scheduling/) for their own
// result; the streaming thread pushes and the source-pad task pops. gstinternvlclassify.cpp is
// the GObject shell that delegates here.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/engine/engine.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/scheduling/clip_window.h"
#include "pipeline/scheduling/inference_wait.h"
#include "pipeline/scheduling/result_counters.h"
#include "pipeline/scheduling/result_scheduler.h"
#include "plugins/internvl/element_common.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/frame_intake.h"
#include "plugins/internvl/gst_item.h"

namespace ivs::plugins {

/// A frame or event waiting in the queue, with what its result needs.
struct ClassifyItem {
  GstItem object;
  uint64_t frame_number = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  std::shared_ptr<const pipeline::LabelScorer> scorer;
  unsigned top_k = 5;
  double threshold = 0.0;
};

class ClassifyState {
 public:
  /// Reads the label set and templates, finds the engine and the pipeline's metrics and binds
  /// `counters` to them. Throws std::runtime_error naming the problem and the fix.
  static std::unique_ptr<ClassifyState> start(GstElement* element, const ClassifySettings& settings,
                                              pipeline::ResultCounters& counters,
                                              pipeline::InferenceWait& wait);
  ClassifyState(GstElement* element, InferenceResources inference, const ClassifySettings& settings,
                pipeline::ResultCounters& counters, pipeline::InferenceWait& wait);

  pipeline::Engine& engine() { return *inference_.engine; }
  std::shared_ptr<pipeline::MetricsHub> metrics() const { return inference_.metrics; }

  /// New caps; false when the format cannot be classified.
  bool set_caps(GstCaps* caps) { return intake_.set_caps(caps); }
  bool has_caps() const { return intake_.has_caps(); }

  /// Streaming thread: a frame (sampled and submitted when its turn comes) joins the queue.
  /// `settings` are the element's current ones (labels, top-k, threshold and max-latency may
  /// change while playing). Blocks while the queue is full; returns FLUSHING or the downstream
  /// error once the source pad stopped.
  GstFlowReturn queue_buffer(GstBuffer* buffer, GstPad* sinkpad, const ClassifySettings& settings);
  /// Streaming thread: a serialized event keeps its place among the frames.
  bool queue_event(GstEvent* event);

  /// Source-pad task: the next item whose result is attached (or whose deadline passed); empty
  /// once closed.
  std::optional<GstItem> next();
  /// What downstream returned; a non-OK result makes queue_buffer return it.
  void set_flow(GstFlowReturn flow) { flow_ = flow; }

  /// Flush start / pad deactivation: wakes both threads, refuses new items.
  void close();
  /// Flush stop / pad activation: drops what waits, restarts sampling and the clip, accepts again.
  void reopen();

 private:
  using Scheduler = pipeline::ResultScheduler<ClassifyItem, pipeline::EmbeddingResult>;

  void update_scorer(const ClassifySettings& settings);
  std::optional<Scheduler::Request> submit(GstBuffer* buffer, uint64_t frame_number);
  void attach(ClassifyItem& item, const Scheduler::Finished& done);

  GstElement* element_;  // for logs and the entries' producer name
  InferenceResources inference_;
  pipeline::ResultCounters& counters_;
  pipeline::InferenceWait& wait_;  // the element's: its inference-wait property
  std::string model_name_;
  pipeline::EmbeddingMode mode_;
  Leaky leaky_;
  // Streaming thread.
  pipeline::FrameSampler sampler_;
  FrameIntake intake_;
  bool liveness_known_ = false;
  std::shared_ptr<const pipeline::LabelScorer> scorer_;
  uint64_t scorer_generation_ = 0;
  // Source-pad task (and reopen(), while the task is stopped).
  pipeline::ClipWindow clip_;
  std::atomic<GstFlowReturn> flow_{GST_FLOW_OK};
  Scheduler scheduler_;
};

}  // namespace ivs::plugins
