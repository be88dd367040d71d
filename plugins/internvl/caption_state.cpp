// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/caption_state.h"

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include "pipeline/result_meta.h"
#include "plugins/internvl/cuda_memory.h"

GST_DEBUG_CATEGORY_EXTERN(gst_internvl_caption_debug);
#define GST_CAT_DEFAULT gst_internvl_caption_debug

namespace ivs::plugins {
namespace {

pipeline::SchedulingOptions caption_scheduling() {
  pipeline::SchedulingOptions options;
  options.target = pipeline::ResultTarget::kLaterFrame;
  options.max_in_flight = 1;  // per element; a sample beyond it waits (non-live) or is skipped
  options.wait_limit = std::chrono::seconds(30);
  return options;
}

}  // namespace

std::unique_ptr<CaptionState> CaptionState::start(GstElement* element,
                                                  const CaptionElementSettings& settings,
                                                  pipeline::ResultCounters& counters,
                                                  pipeline::InferenceWait& wait) {
  const pipeline::CaptionSettings& caption = settings.caption;
  if (caption.min_new_tokens > caption.max_new_tokens) {
    throw std::runtime_error("min-new-tokens (" + std::to_string(caption.min_new_tokens) +
                             ") is larger than max-new-tokens (" +
                             std::to_string(caption.max_new_tokens) +
                             "): lower min-new-tokens or raise max-new-tokens");
  }
  InferenceResources inference = acquire_inference(element, settings.engine);
  if (inference.engine->vision_only()) {
    throw std::runtime_error("the checkpoint in '" + settings.engine.model +
                             "' is vision-only and cannot caption: captions need a full InternVL "
                             "checkpoint with QLLaMA (e.g. InternVL-14B-224px)");
  }
  counters.bind(std::shared_ptr<sinks::Metrics>(inference.metrics, &inference.metrics->metrics()),
                pipeline::stream_name_of(element, settings.engine.stream_id), "caption",
                settings.engine.stream_id.empty());
  GST_INFO_OBJECT(element, "captioning with %s, prompt \"%s\", %lld beams, %lld..%lld new tokens",
                  inference.engine->model_name().c_str(), caption.prompt.c_str(),
                  static_cast<long long>(caption.num_beams),
                  static_cast<long long>(caption.min_new_tokens),
                  static_cast<long long>(caption.max_new_tokens));
  return std::make_unique<CaptionState>(element, std::move(inference), settings, counters, wait);
}

CaptionState::CaptionState(GstElement* element, InferenceResources inference,
                           const CaptionElementSettings& settings,
                           pipeline::ResultCounters& counters, pipeline::InferenceWait& wait)
    : element_(element),
      inference_(std::move(inference)),
      caption_(settings.caption),
      element_name_(GST_OBJECT_NAME(element)),
      model_name_(inference_.engine->model_name()),
      counters_(counters),
      wait_(wait),
      sampler_(pipeline::FrameSampler::Options{settings.interval, settings.selection_fps}),
      intake_(inference_.engine->processor(), model::ResizeMode::kSquash),
      scheduler_(caption_scheduling(), counters) {}

void CaptionState::on_frame(GstBuffer* buffer, GstPad* sinkpad) {
  if (!liveness_known_) {
    const bool live = upstream_is_live(sinkpad);
    scheduler_.set_back_pressure(applies_back_pressure(Leaky::kAuto, live));
    liveness_known_ = true;
    GST_DEBUG_OBJECT(element_, "upstream is %s", live ? "live" : "not live");
  }
  counters_.frame();
  attach(buffer, scheduler_.take_finished());
  const uint64_t frame_number = sampler_.frames_seen();
  const GstClockTime pts = GST_BUFFER_PTS(buffer);
  if (sampler_.should_sample(GST_CLOCK_TIME_IS_VALID(pts) ? std::optional<uint64_t>(pts)
                                                          : std::nullopt)) {
    counters_.sampled();
    submit(buffer, frame_number);
  }
}

void CaptionState::submit(GstBuffer* buffer, uint64_t frame_number) {
  // Back-pressure waits here (for the previous caption, for room in the engine).
  pipeline::InferenceWait::Scope waiting(wait_);
  switch (scheduler_.admit()) {
    case Scheduler::Admit::kRefused:
      GST_LOG_OBJECT(element_, "frame %" G_GUINT64_FORMAT " sampled while a caption runs; skipped",
                     frame_number);
      return;
    case Scheduler::Admit::kAdmittedAfterAbandoning:
      GST_WARNING_OBJECT(element_, "a caption still ran after 30 s; dropped");
      break;
    case Scheduler::Admit::kAdmitted:
      break;
  }
  attach(buffer, scheduler_.take_finished());  // what the wait for room brought in
  const bool back_pressure = scheduler_.back_pressure();
  std::optional<std::future<pipeline::CaptionResult>> future;
  try {
    auto input = intake_.input(buffer, inference_.engine->cuda_device());
    future = std::visit(
        [&](auto&& in) {
          return inference_.engine->submit_caption(std::move(in), caption_,
                                                   admission_for(back_pressure));
        },
        std::move(input));
  } catch (const std::exception& e) {
    counters_.dropped(pipeline::DropReason::kFailed);
    const uint64_t failures = counters_.drops(pipeline::DropReason::kFailed);
    if (warn_now(failures)) {
      GST_WARNING_OBJECT(element_,
                         "frame %" G_GUINT64_FORMAT " not captioned (%" G_GUINT64_FORMAT
                         " failures so far): %s",
                         frame_number, failures, e.what());
    }
    return;
  }
  record_queue_depth(*inference_.metrics, *inference_.engine);
  if (!future) {
    counters_.dropped(pipeline::DropReason::kEngineFull);
    GST_LOG_OBJECT(element_, "engine caption queue full; frame %" G_GUINT64_FORMAT " skipped",
                   frame_number);
    return;
  }
  scheduler_.track({std::move(*future), frame_number, scheduler_.now(), GST_BUFFER_PTS(buffer)});
  GST_LOG_OBJECT(element_,
                 "frame %" G_GUINT64_FORMAT " (%" GST_TIME_FORMAT ") queued for a caption",
                 frame_number, GST_TIME_ARGS(GST_BUFFER_PTS(buffer)));
}

void CaptionState::attach(GstBuffer* buffer, std::vector<Scheduler::Finished> finished) {
  for (const auto& done : finished) attach_one(buffer, done);
  if (!finished.empty()) record_queue_depth(*inference_.metrics, *inference_.engine);
}

void CaptionState::attach_one(GstBuffer* buffer, const Scheduler::Finished& done) {
  if (!done.result) {  // counted kFailed by the scheduler
    const uint64_t failures = counters_.drops(pipeline::DropReason::kFailed);
    if (warn_now(failures)) {
      GST_WARNING_OBJECT(element_,
                         "caption of frame %" G_GUINT64_FORMAT " failed (%" G_GUINT64_FORMAT
                         " failures so far): %s",
                         done.frame_number, failures, done.error.c_str());
    }
    return;
  }
  const pipeline::CaptionResult& result = *done.result;
  pipeline::ResultEntry entry;
  entry.type = pipeline::ResultType::kCaption;
  entry.element = element_name_;
  entry.model_name = model_name_;
  entry.mode = "caption";
  entry.caption = pipeline::CaptionRecord{result.text, caption_.prompt,
                                          static_cast<int64_t>(result.token_ids.size()),
                                          result.num_input_tokens};
  // The segment is the frame the caption describes, not the frame that carries it.
  entry.segment.first_frame = entry.segment.last_frame = done.frame_number;
  entry.segment.first_pts = entry.segment.last_pts = done.pts;
  entry.timing = result.timing;
  entry.timing.latency_seconds =
      std::chrono::duration<double>(scheduler_.now() - done.sampled_at).count();
  GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(buffer);
  if (meta == nullptr) {
    counters_.dropped(pipeline::DropReason::kFailed);
    GST_WARNING_OBJECT(element_, "could not add the result meta; a caption was dropped");
    return;
  }
  const double latency = entry.timing.latency_seconds;
  meta->records->entries.push_back(std::move(entry));
  counters_.attached(latency);
  inference_.metrics->metrics().caption_tokens().Increment(
      static_cast<double>(result.token_ids.size()));
  GST_DEBUG_OBJECT(element_,
                   "caption of frame %" G_GUINT64_FORMAT " on %" GST_TIME_FORMAT ": \"%s\"",
                   done.frame_number, GST_TIME_ARGS(GST_BUFFER_PTS(buffer)), result.text.c_str());
}

GstBuffer* CaptionState::out(Scheduler::Released released) {
  if (released.results.empty()) return released.item.take_buffer();
  GstBuffer* buffer = released.item.writable_buffer();
  attach(buffer, std::move(released.results));
  return released.item.take_buffer();
}

GstBuffer* CaptionState::queue_frame(GstBuffer* buffer) {
  scheduler_.push(GstItem(buffer));
  return next_frame();
}

GstBuffer* CaptionState::next_frame() {
  auto released = scheduler_.try_pop();
  return released ? out(std::move(*released)) : nullptr;
}

std::vector<GstBuffer*> CaptionState::finish() {
  const size_t dropped = scheduler_.finish();
  if (dropped > 0) {
    GST_INFO_OBJECT(element_, "end of stream: %zu caption(s) in flight dropped", dropped);
  }
  return release_all();
}

std::vector<GstBuffer*> CaptionState::release_all() {
  std::vector<GstBuffer*> buffers;
  for (auto& released : scheduler_.release_all()) buffers.push_back(out(std::move(released)));
  return buffers;
}

void CaptionState::flush() {
  const size_t dropped = scheduler_.flush();
  if (dropped > 0) GST_INFO_OBJECT(element_, "flush: %zu caption(s) in flight dropped", dropped);
  sampler_.reset();
  liveness_known_ = false;
}

}  // namespace ivs::plugins
