// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/classify_state.h"

#include <chrono>
#include <exception>
#include <utility>
#include <variant>
#include <vector>

#include "pipeline/result_meta.h"
#include "plugins/internvl/cuda_memory.h"

GST_DEBUG_CATEGORY_EXTERN(gst_internvl_classify_debug);
#define GST_CAT_DEFAULT gst_internvl_classify_debug

namespace ivs::plugins {
namespace {

pipeline::SchedulingOptions classify_scheduling(const ClassifySettings& settings) {
  pipeline::SchedulingOptions options;
  options.target = pipeline::ResultTarget::kOwnFrame;
  options.max_latency = std::chrono::nanoseconds(settings.max_latency_ns);
  options.max_queued = 128;  // buffers and events waiting downstream before the chain blocks
  return options;
}

}  // namespace

std::unique_ptr<ClassifyState> ClassifyState::start(GstElement* element,
                                                    const ClassifySettings& settings,
                                                    pipeline::ResultCounters& counters,
                                                    pipeline::InferenceWait& wait) {
  const auto labels = settings.resolve_labels();
  const auto templates = settings.resolve_templates();
  InferenceResources inference = acquire_inference(element, settings.engine);
  counters.bind(std::shared_ptr<sinks::Metrics>(inference.metrics, &inference.metrics->metrics()),
                pipeline::stream_name_of(element, settings.engine.stream_id), "classification",
                settings.engine.stream_id.empty());
  auto state =
      std::make_unique<ClassifyState>(element, std::move(inference), settings, counters, wait);
  state->scorer_ = state->inference_.engine->label_scorer(labels, templates);
  state->scorer_generation_ = settings.label_generation;
  GST_INFO_OBJECT(element, "classifying with %s, %zu labels", state->model_name_.c_str(),
                  labels.size());
  return state;
}

ClassifyState::ClassifyState(GstElement* element, InferenceResources inference,
                             const ClassifySettings& settings, pipeline::ResultCounters& counters,
                             pipeline::InferenceWait& wait)
    : element_(element),
      inference_(std::move(inference)),
      counters_(counters),
      wait_(wait),
      model_name_(inference_.engine->model_name()),
      mode_(settings.mode == Mode::kG ? pipeline::EmbeddingMode::kG : pipeline::EmbeddingMode::kC),
      leaky_(settings.leaky),
      sampler_(pipeline::FrameSampler::Options{settings.interval, settings.selection_fps}),
      intake_(inference_.engine->processor()),
      clip_(settings.clip_frames),
      scheduler_(classify_scheduling(settings), counters) {}

// The text tower runs here, on the streaming thread, once per change of the label set; a bad new
// set keeps the old one.
void ClassifyState::update_scorer(const ClassifySettings& settings) {
  if (settings.label_generation == scorer_generation_) return;
  scorer_generation_ = settings.label_generation;
  try {
    scorer_ =
        inference_.engine->label_scorer(settings.resolve_labels(), settings.resolve_templates());
    GST_INFO_OBJECT(element_, "label set changed: %zu labels", scorer_->labels().size());
  } catch (const std::exception& e) {
    GST_ELEMENT_WARNING(element_, RESOURCE, SETTINGS, ("new labels not used: %s", e.what()),
                        ("keeping the previous label set"));
  }
}

GstFlowReturn ClassifyState::queue_buffer(GstBuffer* buffer, GstPad* sinkpad,
                                          const ClassifySettings& settings) {
  // Back-pressure waits here (for room in the engine, for the queue of frames to drain).
  pipeline::InferenceWait::Scope waiting(wait_);
  counters_.frame();
  scheduler_.set_max_latency(std::chrono::nanoseconds(settings.max_latency_ns));
  ClassifyItem item;
  item.object = GstItem(buffer);
  item.pts = GST_BUFFER_PTS(buffer);
  item.frame_number = sampler_.frames_seen();
  item.top_k = settings.top_k;
  item.threshold = settings.threshold;
  const auto arrival = scheduler_.now();
  std::optional<Scheduler::Request> request;
  if (sampler_.should_sample(GST_CLOCK_TIME_IS_VALID(item.pts) ? std::optional<uint64_t>(item.pts)
                                                               : std::nullopt)) {
    counters_.sampled();
    update_scorer(settings);
    if (!liveness_known_) {
      const bool live = upstream_is_live(sinkpad);
      scheduler_.set_back_pressure(applies_back_pressure(leaky_, live));
      liveness_known_ = true;
      GST_DEBUG_OBJECT(element_, "upstream is %s", live ? "live" : "not live");
    }
    request = submit(buffer, item.frame_number);
    if (request) request->sampled_at = arrival;
    item.scorer = scorer_;
  }
  const GstFlowReturn flow = flow_;
  if (flow != GST_FLOW_OK) return flow;
  return scheduler_.push(std::move(item), std::move(request)) ? GstFlowReturn(flow_)
                                                              : GST_FLOW_FLUSHING;
}

std::optional<ClassifyState::Scheduler::Request> ClassifyState::submit(GstBuffer* buffer,
                                                                       uint64_t frame_number) {
  std::optional<std::future<pipeline::EmbeddingResult>> future;
  try {
    auto input = intake_.input(buffer, inference_.engine->cuda_device());
    const auto admission = admission_for(scheduler_.back_pressure());
    future = std::visit(
        [&](auto&& in) {
          return inference_.engine->submit_embedding(std::move(in), mode_, admission);
        },
        std::move(input));
  } catch (const std::exception& e) {
    counters_.dropped(pipeline::DropReason::kFailed);
    GST_WARNING_OBJECT(element_, "frame %" G_GUINT64_FORMAT " not classified: %s", frame_number,
                       e.what());
    return std::nullopt;
  }
  record_queue_depth(*inference_.metrics, *inference_.engine);
  if (!future) {
    counters_.dropped(pipeline::DropReason::kEngineFull);
    GST_LOG_OBJECT(element_, "sample %" G_GUINT64_FORMAT " dropped (engine full)", frame_number);
    return std::nullopt;
  }
  return Scheduler::Request{std::move(*future), frame_number, {}, GST_BUFFER_PTS(buffer)};
}

bool ClassifyState::queue_event(GstEvent* event) {
  ClassifyItem item;
  item.object = GstItem(event);
  return scheduler_.push(std::move(item));
}

std::optional<GstItem> ClassifyState::next() {
  auto released = scheduler_.pop();
  if (!released) return std::nullopt;
  ClassifyItem& item = released->item;
  if (released->late) {
    GST_INFO_OBJECT(element_,
                    "frame %" G_GUINT64_FORMAT " sent without its result (max-latency passed)",
                    item.frame_number);
  }
  for (const auto& done : released->results) attach(item, done);
  return std::move(item.object);
}

void ClassifyState::attach(ClassifyItem& item, const Scheduler::Finished& done) {
  if (!done.result) {  // counted kFailed by the scheduler
    GST_WARNING_OBJECT(element_, "frame %" G_GUINT64_FORMAT " not classified: %s",
                       item.frame_number, done.error.c_str());
    return;
  }
  try {
    pipeline::ResultEntry entry;
    entry.type = pipeline::ResultType::kClassification;
    entry.element = GST_OBJECT_NAME(element_);
    entry.model_name = model_name_;
    entry.mode = mode_ == pipeline::EmbeddingMode::kG ? "InternVL-G" : "InternVL-C";
    entry.classification = item.scorer->scores(done.result->embedding, item.top_k, item.threshold);
    entry.segment.first_pts = entry.segment.last_pts = item.pts;
    entry.segment.first_frame = entry.segment.last_frame = item.frame_number;
    entry.embedding = std::make_shared<const std::vector<float>>(done.result->embedding);
    entry.timing = done.result->timing;
    entry.timing.latency_seconds =
        std::chrono::duration<double>(scheduler_.now() - done.sampled_at).count();
    std::vector<pipeline::ResultEntry> entries{entry};
    if (auto clip = clip_.add(done.result->embedding, item.pts, item.frame_number)) {
      pipeline::ResultEntry clip_entry = entry;
      clip_entry.embedding.reset();  // the clip's is the mean, computed by the scorer
      clip_entry.type = pipeline::ResultType::kClipClassification;
      clip_entry.classification =
          item.scorer->clip_scores(clip->embeddings, item.top_k, item.threshold);
      clip_entry.segment.first_pts = clip->first_pts;
      clip_entry.segment.first_frame = clip->first_frame;
      entries.push_back(std::move(clip_entry));
    }
    GstInternVLResultMeta* meta =
        gst_buffer_add_internvl_result_meta(item.object.writable_buffer());
    for (auto& e : entries) meta->records->entries.push_back(std::move(e));
    counters_.attached(entry.timing.latency_seconds);
    record_queue_depth(*inference_.metrics, *inference_.engine);
  } catch (const std::exception& e) {
    counters_.dropped(pipeline::DropReason::kFailed);
    GST_WARNING_OBJECT(element_, "frame %" G_GUINT64_FORMAT " not classified: %s",
                       item.frame_number, e.what());
  }
}

void ClassifyState::close() {
  flow_ = GST_FLOW_FLUSHING;
  scheduler_.close();
}

void ClassifyState::reopen() {
  scheduler_.flush();
  sampler_.reset();
  clip_.clear();
  liveness_known_ = false;
  flow_ = GST_FLOW_OK;
  scheduler_.open();
}

}  // namespace ivs::plugins
