// SPDX-License-Identifier: Apache-2.0
// The running state of internvlalert (built when it starts, dropped when it stops): the rules'
// scorers (each prompt against its negatives, text embeddings from the shared engine), their
// state machines, and what an event does: a kEvent entry on the frame's meta, a bus message,
// the pipeline's event channel (internvlrecord listens), a JPEG snapshot, the metrics. The
// image embedding comes from internvlclassify's entry on the same frame: no second inference.
// gstinternvlalert.cpp is the GObject shell that delegates here.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/alerts/alert_tracker.h"
#include "pipeline/alerts/event_channel.h"
#include "pipeline/engine/engine.h"
#include "pipeline/frame_preprocess.h"
#include "pipeline/metrics_context.h"
#include "plugins/internvl/element_common.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/frame_holder.h"
#include "plugins/internvl/gst_item.h"

namespace ivs::plugins {

class AlertState final : public FrameHolder {
 public:
  /// Reads the rules and templates, finds the engine, the metrics and the event channel, and
  /// computes the rules' text embeddings. Throws std::runtime_error (or a subclass) naming the
  /// problem and the fix.
  static std::unique_ptr<AlertState> start(GstElement* element,
                                           const AlertElementSettings& settings);
  AlertState(GstElement* element, InferenceResources inference,
             const AlertElementSettings& settings);
  ~AlertState() override;
  AlertState(const AlertState&) = delete;
  AlertState& operator=(const AlertState&) = delete;

  pipeline::Engine& engine() { return *inference_.engine; }
  std::shared_ptr<pipeline::MetricsHub> metrics() const { return inference_.metrics; }
  std::shared_ptr<pipeline::EventChannel> channel() const { return channel_; }
  uint64_t events_started() const { return events_started_; }
  uint64_t samples_scored() const { return samples_scored_; }

  bool set_caps(GstCaps* caps);

  /// Streaming thread: the settings changed while playing; the next sample uses the new rules
  /// (a bad set keeps the old ones, with a warning).
  void update_rules(const AlertElementSettings& settings);

  /// A frame (writable): when it carries a sampled embedding, every rule is updated; events
  /// that start or end go onto its meta and out.
  void on_frame(GstBuffer* buffer);

  // FrameHolder: while an event is active the newest frame waits, so that the end of the
  // stream can carry the event's end. A flush makes the rules forget their state (no end is
  // sent for an event cut by a seek).
  GstBuffer* queue_frame(GstBuffer* buffer) override;
  GstBuffer* next_frame() override;
  std::vector<GstBuffer*> finish() override;
  std::vector<GstBuffer*> release_all() override;
  void flush() override;

 private:
  struct Rule {
    pipeline::AlertTracker tracker;
    std::shared_ptr<const pipeline::LabelScorer> scorer;  // [prompt, negatives...]
  };

  std::vector<Rule> build_rules(const AlertElementSettings& settings);
  void emit(pipeline::AlertEvent event, Rule& rule, GstBuffer* buffer);
  std::string write_snapshot(const pipeline::AlertEvent& event, GstBuffer* buffer);

  GstElement* element_;
  InferenceResources inference_;
  std::shared_ptr<pipeline::EventChannel> channel_;
  std::string stream_;
  std::string snapshot_dir_;
  std::string mode_ = "InternVL-C";  // of the embeddings the rules are scored on
  std::vector<Rule> rules_;
  uint64_t rule_generation_ = 0;
  pipeline::FramePreprocessor to_rgb_;  // snapshots
  GstVideoInfo info_{};
  bool have_info_ = false;
  uint64_t frames_ = 0;
  uint64_t last_pts_ = pipeline::kNoClockTime;
  std::deque<GstItem> held_;  // oldest first; at most the newest stays while an event is active
  uint64_t events_started_ = 0;
  uint64_t samples_scored_ = 0;
  uint64_t snapshot_failures_ = 0;
  bool publishing_ = true;  // between start (or a flush) and the end of the stream
};

}  // namespace ivs::plugins
