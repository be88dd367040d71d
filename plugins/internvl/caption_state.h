// SPDX-License-Identifier: Apache-2.0
// The running state of internvlcaption (built when it starts, dropped when it stops): sampling,
// preprocessing, submitting captions to the engine and attaching finished ones to later frames,
// with the result scheduler (pipeline/scheduling/) deciding when a frame may leave.
// gstinternvlcaption.cpp is the GObject shell that delegates here.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline/engine/engine.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/scheduling/inference_wait.h"
#include "pipeline/scheduling/result_counters.h"
#include "pipeline/scheduling/result_scheduler.h"
#include "plugins/internvl/element_common.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/frame_holder.h"
#include "plugins/internvl/frame_intake.h"
#include "plugins/internvl/gst_item.h"

namespace ivs::plugins {

class CaptionState final : public FrameHolder {
 public:
  /// Checks `settings`, finds the engine and the pipeline's metrics (element_common.h) and binds
  /// `counters` to them. Throws std::runtime_error naming the problem and the fix.
  static std::unique_ptr<CaptionState> start(GstElement* element,
                                             const CaptionElementSettings& settings,
                                             pipeline::ResultCounters& counters,
                                             pipeline::InferenceWait& wait);
  CaptionState(GstElement* element, InferenceResources inference,
               const CaptionElementSettings& settings, pipeline::ResultCounters& counters,
               pipeline::InferenceWait& wait);

  pipeline::Engine& engine() { return *inference_.engine; }
  std::shared_ptr<pipeline::MetricsHub> metrics() const { return inference_.metrics; }

  /// New caps; false when the format cannot be captioned.
  bool set_caps(GstCaps* caps) { return intake_.set_caps(caps); }
  bool has_caps() const { return intake_.has_caps(); }

  /// A frame arrived (writable): finished captions go onto it; when sampled, it is submitted.
  void on_frame(GstBuffer* buffer, GstPad* sinkpad);
  // FrameHolder: a non-live stream's newest frame waits while a caption runs; at the end of the
  // stream it gets the captions still running. A flush drops them and restarts sampling.
  GstBuffer* queue_frame(GstBuffer* buffer) override;
  GstBuffer* next_frame() override;
  std::vector<GstBuffer*> finish() override;
  std::vector<GstBuffer*> release_all() override;
  void flush() override;

 private:
  using Scheduler = pipeline::ResultScheduler<GstItem, pipeline::CaptionResult>;

  void submit(GstBuffer* buffer, uint64_t frame_number);
  void attach(GstBuffer* buffer, std::vector<Scheduler::Finished> finished);
  void attach_one(GstBuffer* buffer, const Scheduler::Finished& done);
  GstBuffer* out(Scheduler::Released released);

  GstElement* element_;  // for logs
  InferenceResources inference_;
  pipeline::CaptionSettings caption_;
  std::string element_name_;
  std::string model_name_;
  pipeline::ResultCounters& counters_;
  pipeline::InferenceWait& wait_;  // the element's: its inference-wait property
  pipeline::FrameSampler sampler_;
  FrameIntake intake_;
  bool liveness_known_ = false;
  Scheduler scheduler_;
};

}  // namespace ivs::plugins
