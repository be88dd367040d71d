// SPDX-License-Identifier: Apache-2.0
// The plain C++ behind internvlclassify: settings, label loading, the pending-buffer FIFO and
// the per-stream scoring state. No GObject code here; gstinternvlclassify.cpp wires it to pads.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/engine/engine.h"
#include "model/internvl/prompts.h"
#include "pipeline/frame_preprocess.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/metrics_context.h"

namespace ivs::plugins {

enum class Leaky { kAuto = 0, kYes = 1, kNo = 2 };

/// Property values; copied under the element's lock.
struct ClassifySettings {
  std::string model;
  int device = 0;  // GstInternVLDevice: auto, cpu, cuda
  int dtype = 0;   // GstInternVLDtype: auto, fp32, bf16, fp16
  bool mode_g = false;
  std::string labels;
  std::string labels_file;
  std::string prompt_template = model::kDefaultPromptTemplate;
  std::string templates_file;
  guint interval = 0;
  double selection_fps = 0.0;
  guint clip_frames = 8;
  guint top_k = 5;
  double threshold = 0.0;
  guint batch_size = 16;
  guint64 batch_timeout = 10 * GST_MSECOND;
  guint64 max_latency = GST_SECOND;
  Leaky leaky = Leaky::kAuto;
  uint64_t label_generation = 0;  // bumped by every change of labels / templates
  std::string metrics_address;    // empty: record into the pipeline's hub without serving it
  std::string stream_id;          // empty: the element's name (and the element counts frames)
};

/// The label set: labels-file (one per line) when set, else the ';'-separated labels.
/// Throws std::runtime_error naming the file or value and the fix.
std::vector<std::string> resolve_labels(const ClassifySettings& settings);
/// The templates: templates-file when set, else prompt-template. Throws as resolve_labels.
std::vector<std::string> resolve_templates(const ClassifySettings& settings);

pipeline::EngineKey engine_key(const ClassifySettings& settings);
pipeline::EngineOptions engine_options(const ClassifySettings& settings);

/// An EngineOptions::batch_observer that records every batch into `hub` (kept alive by the
/// observer, so the hub outlives the engine): internvl_batch_size{task},
/// internvl_inference_duration_seconds{task,stage="model"} and, per request,
/// {task,stage="queue"}. Shared by internvlclassify and internvlcaption.
std::function<void(const pipeline::BatchReport&)> metrics_batch_observer(
    std::shared_ptr<pipeline::MetricsHub> hub);

/// Sets internvl_queue_depth{task} of `hub` from the engine's counters.
void record_queue_depth(pipeline::MetricsHub& hub, const pipeline::Engine& engine);

/// One buffer or serialized event waiting for its turn downstream.
struct PendingItem {
  GstBuffer* buffer = nullptr;  // owned; or
  GstEvent* event = nullptr;    // owned
  // A sampled buffer: its embedding request and how to score it.
  std::optional<std::future<pipeline::EmbeddingResult>> result;
  std::shared_ptr<const pipeline::LabelScorer> scorer;
  std::chrono::steady_clock::time_point arrival;
  std::chrono::steady_clock::time_point deadline;
  uint64_t frame_number = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  guint top_k = 5;
  double threshold = 0.0;

  PendingItem() = default;
  PendingItem(PendingItem&& other) noexcept;
  PendingItem& operator=(PendingItem&&) = delete;
  PendingItem(const PendingItem&) = delete;
  ~PendingItem();
};

/// The last clip_frames sampled embeddings of the stream, oldest first.
struct ClipSample {
  std::vector<float> embedding;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  uint64_t frame_number = 0;
};

/// Runtime resources, built when the element goes READY->PAUSED, dropped in PAUSED->READY.
/// Threads: `fifo*` and `flushing`/`flow` under `fifo_lock`; `sampler`, `preprocessor`, `info`,
/// `live`, `scorer`/`scorer_generation` only on the streaming (sink) thread; `clip` only on the
/// srcpad task (and in FLUSH_STOP while the task is stopped).
struct ClassifyState {
  std::shared_ptr<pipeline::MetricsHub> metrics;  // the pipeline's; acquired before the engine
  std::string stream;                             // the `stream` label (stream_name_of)
  bool count_frames = true;  // false when the application counts internvl_frames_total
  std::shared_ptr<pipeline::Engine> engine;
  std::string model_name;
  pipeline::EmbeddingMode mode = pipeline::EmbeddingMode::kC;
  Leaky leaky = Leaky::kAuto;
  guint clip_frames = 8;

  // Streaming thread.
  pipeline::FrameSampler sampler;
  pipeline::FramePreprocessor preprocessor;
  GstVideoInfo info{};
  bool have_info = false;
  // frames are NV12 in CUDA memory: the engine preprocesses them in place
  bool cuda_memory = false;
  std::optional<bool> live;  // asked upstream at the first buffer after start / flush
  std::shared_ptr<const pipeline::LabelScorer> scorer;
  uint64_t scorer_generation = 0;
  std::string rejected_caps;  // last caps refused by accept-caps, for the error message

  // srcpad task.
  std::deque<ClipSample> clip;

  std::mutex fifo_lock;
  std::condition_variable fifo_cond;
  std::deque<PendingItem> fifo;
  bool flushing = true;
  GstFlowReturn flow = GST_FLOW_OK;  // last downstream result, returned by chain when not OK

  ClassifyState(const pipeline::FrameSampler::Options& sampling,
                model::ImageProcessorConfig config);

  /// Drops everything queued (flush, stop). Takes fifo_lock.
  void clear_fifo();

  /// The classification entries for a sampled buffer whose result arrived, updating the clip
  /// window. `element` names the producer.
  std::vector<pipeline::ResultEntry> entries_for(const PendingItem& item,
                                                 const pipeline::EmbeddingResult& result,
                                                 const std::string& element);
};

}  // namespace ivs::plugins
