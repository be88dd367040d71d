// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/classify_state.h"

#include "model/common/label_list.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace ivs::plugins {

std::vector<std::string> resolve_labels(const ClassifySettings& settings) {
  if (!settings.labels_file.empty())
    return model::read_lines_file(settings.labels_file, "labels-file");
  std::vector<std::string> out = model::parse_label_list(settings.labels);
  if (out.empty()) {
    throw std::runtime_error(
        "the label set is empty: set labels=\"cat;dog;...\" or labels-file=<file>");
  }
  return out;
}

std::vector<std::string> resolve_templates(const ClassifySettings& settings) {
  std::vector<std::string> out =
      settings.templates_file.empty()
          ? std::vector<std::string>{settings.prompt_template}
          : model::read_lines_file(settings.templates_file, "templates-file");
  for (const auto& t : out) {
    if (!model::has_placeholder(t)) {
      throw std::runtime_error(
          "prompt template '" + t +
          "' has no '{}' placeholder for the label: write e.g. \"a photo of {}.\"");
    }
  }
  return out;
}

pipeline::EngineKey engine_key(const ClassifySettings& settings) {
  static const char* const kDevices[] = {"auto", "cpu", "cuda"};
  static const char* const kDtypes[] = {"auto", "fp32", "bf16", "fp16"};
  pipeline::EngineKey key;
  key.model_dir = settings.model;
  key.device = kDevices[std::clamp(settings.device, 0, 2)];
  key.dtype = kDtypes[std::clamp(settings.dtype, 0, 3)];
  return key;
}

pipeline::EngineOptions engine_options(const ClassifySettings& settings) {
  pipeline::EngineOptions options;
  options.batch_size = settings.batch_size;
  options.batch_timeout = std::chrono::nanoseconds(settings.batch_timeout);
  return options;
}

std::function<void(const pipeline::BatchReport&)> metrics_batch_observer(
    std::shared_ptr<pipeline::MetricsHub> hub) {
  return [hub = std::move(hub)](const pipeline::BatchReport& report) {
    sinks::Metrics& metrics = hub->metrics();
    const std::string task = pipeline::engine_task_name(report.task);
    metrics.batch_size(task).Observe(static_cast<double>(report.batch_size));
    metrics.inference_duration(task, "model").Observe(report.inference_seconds);
    auto& queue = metrics.inference_duration(task, "queue");
    for (double seconds : report.queue_seconds) queue.Observe(seconds);
  };
}

void record_queue_depth(pipeline::MetricsHub& hub, const pipeline::Engine& engine) {
  const pipeline::EngineStats stats = engine.stats();
  hub.metrics().queue_depth("embedding").Set(static_cast<double>(stats.embedding.queue_depth));
  hub.metrics().queue_depth("caption").Set(static_cast<double>(stats.caption.queue_depth));
}

PendingItem::PendingItem(PendingItem&& other) noexcept
    : buffer(std::exchange(other.buffer, nullptr)),
      event(std::exchange(other.event, nullptr)),
      result(std::move(other.result)),
      scorer(std::move(other.scorer)),
      arrival(other.arrival),
      deadline(other.deadline),
      frame_number(other.frame_number),
      pts(other.pts),
      top_k(other.top_k),
      threshold(other.threshold) {}

PendingItem::~PendingItem() {
  if (buffer != nullptr) gst_buffer_unref(buffer);
  if (event != nullptr) gst_event_unref(event);
}

ClassifyState::ClassifyState(const pipeline::FrameSampler::Options& sampling,
                             model::ImageProcessorConfig config)
    : sampler(sampling), preprocessor(std::move(config)) {
  gst_video_info_init(&info);
}

void ClassifyState::clear_fifo() {
  std::deque<PendingItem> dropped;
  {
    std::lock_guard<std::mutex> guard(fifo_lock);
    dropped.swap(fifo);
  }
  fifo_cond.notify_all();
}

std::vector<pipeline::ResultEntry> ClassifyState::entries_for(
    const PendingItem& item, const pipeline::EmbeddingResult& result, const std::string& element) {
  const auto now = std::chrono::steady_clock::now();
  pipeline::ResultEntry entry;
  entry.type = pipeline::ResultType::kClassification;
  entry.element = element;
  entry.model_name = model_name;
  entry.mode = mode == pipeline::EmbeddingMode::kG ? "InternVL-G" : "InternVL-C";
  entry.classification = item.scorer->scores(result.embedding, item.top_k, item.threshold);
  entry.segment.first_pts = entry.segment.last_pts = item.pts;
  entry.segment.first_frame = entry.segment.last_frame = item.frame_number;
  entry.timing = result.timing;
  entry.timing.latency_seconds = std::chrono::duration<double>(now - item.arrival).count();
  std::vector<pipeline::ResultEntry> entries{entry};

  clip.push_back({result.embedding, item.pts, item.frame_number});
  while (clip.size() > clip_frames) clip.pop_front();
  if (clip_frames > 0 && clip.size() == clip_frames) {
    std::vector<std::vector<float>> embeddings;
    embeddings.reserve(clip.size());
    for (const auto& sample : clip) embeddings.push_back(sample.embedding);
    pipeline::ResultEntry clip_entry = entry;
    clip_entry.type = pipeline::ResultType::kClipClassification;
    clip_entry.classification = item.scorer->clip_scores(embeddings, item.top_k, item.threshold);
    clip_entry.segment.first_pts = clip.front().pts;
    clip_entry.segment.first_frame = clip.front().frame_number;
    entries.push_back(std::move(clip_entry));
  }
  return entries;
}

}  // namespace ivs::plugins
