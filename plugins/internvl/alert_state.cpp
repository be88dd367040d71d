// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/alert_state.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <exception>
#include <filesystem>
#include <utility>

#include "model/common/jpeg_writer.h"
#include "pipeline/event_context.h"
#include "pipeline/result_meta.h"

GST_DEBUG_CATEGORY_EXTERN(gst_internvl_alert_debug);
#define GST_CAT_DEFAULT gst_internvl_alert_debug

namespace ivs::plugins {
namespace {

// Letters, digits, '.', '_' and '-' kept, anything else '_': ids name files.
std::string file_safe(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return out;
}

// "<stream>-<rule>-<UTC time of the start>-<n>", n counting the process's events: unique across
// restarts of the pipeline (even within one second) and readable, so snapshots and clips of an
// earlier run are never overwritten.
pipeline::AlertTracker::IdMaker id_maker(const std::string& stream) {
  return [stream](const pipeline::AlertRule& rule, uint64_t /*rule's own count*/) {
    static std::atomic<uint64_t> events{0};
    const uint64_t n = ++events;
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
    return file_safe(stream) + "-" + file_safe(rule.name) + "-" + stamp + "-" + std::to_string(n);
  };
}

void post_message(GstElement* element, const pipeline::AlertEvent& event) {
  GstStructure* s = gst_structure_new(
      "internvl-alert", "id", G_TYPE_STRING, event.id.c_str(), "stream-id", G_TYPE_STRING,
      event.stream_id.c_str(), "rule", G_TYPE_STRING, event.rule.c_str(), "prompt", G_TYPE_STRING,
      event.prompt.c_str(), "state", G_TYPE_STRING, pipeline::alert_state_name(event.state),
      "start-time", G_TYPE_UINT64, event.start_pts, "end-time", G_TYPE_UINT64, event.end_pts,
      "time", G_TYPE_UINT64, event.pts, "probability", G_TYPE_DOUBLE, event.probability,
      "peak-probability", G_TYPE_DOUBLE, event.peak_probability, "snapshot", G_TYPE_STRING,
      event.snapshot_path.c_str(), "clip", G_TYPE_STRING, event.clip_path.c_str(), nullptr);
  gst_element_post_message(element, gst_message_new_element(GST_OBJECT(element), s));
}

}  // namespace

std::unique_ptr<AlertState> AlertState::start(GstElement* element,
                                              const AlertElementSettings& settings) {
  if (!settings.snapshot_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(settings.snapshot_dir, error);
    if (!std::filesystem::is_directory(settings.snapshot_dir, error)) {
      throw std::runtime_error("snapshot-dir '" + settings.snapshot_dir +
                               "' is not a directory and cannot be created: set snapshot-dir to "
                               "a writable folder, or leave it empty for no snapshots");
    }
  }
  settings.resolve_rules();  // fails here, before the model loads, when a rule is bad
  InferenceResources inference = acquire_inference(element, settings.engine);
  auto state = std::make_unique<AlertState>(element, std::move(inference), settings);
  state->rules_ = state->build_rules(settings);
  state->rule_generation_ = settings.rule_generation;
  GST_INFO_OBJECT(element, "watching %zu alert rule(s) on stream %s", state->rules_.size(),
                  state->stream_.c_str());
  return state;
}

AlertState::AlertState(GstElement* element, InferenceResources inference,
                       const AlertElementSettings& settings)
    : element_(element),
      inference_(std::move(inference)),
      channel_(pipeline::acquire_event_channel(element)),
      stream_(pipeline::stream_name_of(element, settings.engine.stream_id)),
      snapshot_dir_(settings.snapshot_dir),
      to_rgb_(inference_.engine->processor()) {
  gst_video_info_init(&info_);
  channel_->publisher_started(stream_);
}

AlertState::~AlertState() {
  if (publishing_) channel_->publisher_finished(stream_);
}

std::vector<AlertState::Rule> AlertState::build_rules(const AlertElementSettings& settings) {
  const auto templates = settings.resolve_templates();
  std::vector<Rule> rules;
  for (const auto& rule : settings.resolve_rules()) {
    std::vector<std::string> labels{rule.prompt};
    for (const auto& negative : rule.effective_negatives()) labels.push_back(negative);
    rules.push_back(Rule{pipeline::AlertTracker(rule, stream_, id_maker(stream_)),
                         inference_.engine->label_scorer(labels, templates)});
    auto& metrics = inference_.metrics->metrics();
    metrics.alert_active(stream_, rule.name).Set(0);
    metrics.events(stream_, rule.name);  // exported as 0 before the first event
  }
  return rules;
}

void AlertState::update_rules(const AlertElementSettings& settings) {
  if (settings.rule_generation == rule_generation_) return;
  rule_generation_ = settings.rule_generation;
  try {
    std::vector<Rule> rules = build_rules(settings);
    for (auto& old : rules_) {  // an event of a replaced rule ends now
      if (auto end = old.tracker.finish(last_pts_, frames_)) emit(*end, old, nullptr);
    }
    rules_ = std::move(rules);
    GST_INFO_OBJECT(element_, "alert rules changed: %zu rule(s)", rules_.size());
  } catch (const std::exception& e) {
    GST_ELEMENT_WARNING(element_, RESOURCE, SETTINGS, ("new alert rules not used: %s", e.what()),
                        ("keeping the previous rules"));
  }
}

bool AlertState::set_caps(GstCaps* caps) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps)) return false;
  info_ = info;
  have_info_ = true;
  to_rgb_.reset();
  return true;
}

void AlertState::on_frame(GstBuffer* buffer) {
  const uint64_t frame = frames_++;
  // Everything up to this frame is decided once it leaves here (internvlrecord paces on it).
  struct Progress {
    pipeline::EventChannel& channel;
    const std::string& stream;
    uint64_t pts;
    ~Progress() {
      if (pts != pipeline::kNoClockTime) channel.note_progress(stream, pts);
    }
  } progress{*channel_, stream_, GST_BUFFER_PTS(buffer)};
  const pipeline::ResultEntry* sampled = pipeline::sampled_embedding_entry(buffer);
  if (sampled == nullptr) return;
  const auto embedding = sampled->embedding;  // shared: the meta may grow below
  mode_ = sampled->mode;
  last_pts_ = GST_BUFFER_PTS(buffer);
  ++samples_scored_;
  auto& metrics = inference_.metrics->metrics();
  for (auto& rule : rules_) {
    double probability = 0.0;
    for (const auto& score : rule.scorer->scores(*embedding, rule.scorer->labels().size())) {
      if (score.label_id == 0) probability = score.confidence;
    }
    auto event = rule.tracker.update(last_pts_, frame, probability);
    metrics.alert_probability(stream_, rule.tracker.rule().name).Set(rule.tracker.probability());
    if (event) emit(std::move(*event), rule, buffer);
  }
}

void AlertState::emit(pipeline::AlertEvent event, Rule& rule, GstBuffer* buffer) {
  auto& metrics = inference_.metrics->metrics();
  const std::string& name = rule.tracker.rule().name;
  if (event.state == pipeline::AlertState::kStart) {
    ++events_started_;
    metrics.events(stream_, name).Increment();
    metrics.alert_active(stream_, name).Set(1);
    if (!snapshot_dir_.empty() && buffer != nullptr) {
      event.snapshot_path = write_snapshot(event, buffer);
      rule.tracker.set_snapshot_path(event.snapshot_path);
    }
  } else {
    metrics.alert_active(stream_, name).Set(0);
    event.clip_path = channel_->clip_of(event.id);
  }
  GST_INFO_OBJECT(element_, "%s %s: rule '%s' p=%.3f at %" GST_TIME_FORMAT,
                  pipeline::alert_state_name(event.state), event.id.c_str(), name.c_str(),
                  event.probability, GST_TIME_ARGS(event.pts));
  if (buffer != nullptr) {
    GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(buffer);
    if (meta != nullptr) {
      pipeline::ResultEntry entry;
      entry.type = pipeline::ResultType::kEvent;
      entry.element = GST_OBJECT_NAME(element_);
      entry.model_name = inference_.engine->model_name();
      entry.mode = mode_;  // the embedding's (InternVL-C or -G): what the probability rests on
      entry.segment.first_pts = event.start_pts;
      entry.segment.last_pts = event.pts;
      entry.segment.first_frame = event.start_frame;
      entry.segment.last_frame = event.frame;
      entry.event = event;
      meta->records->entries.push_back(std::move(entry));
    }
  }
  post_message(element_, event);
  channel_->publish(event);
}

std::string AlertState::write_snapshot(const pipeline::AlertEvent& event, GstBuffer* buffer) {
  if (!have_info_) return "";
  const std::string path = (std::filesystem::path(snapshot_dir_) / (event.id + ".jpg")).string();
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info_, buffer, GST_MAP_READ)) return "";
  try {
    model::RgbImage image;
    try {
      image = to_rgb_.to_rgb(frame);
    } catch (...) {
      gst_video_frame_unmap(&frame);
      throw;
    }
    gst_video_frame_unmap(&frame);
    model::write_jpeg_file(path, image);
    return path;
  } catch (const std::exception& e) {
    if (warn_now(++snapshot_failures_)) {
      GST_WARNING_OBJECT(element_, "snapshot of %s not written: %s", event.id.c_str(), e.what());
    }
    return "";
  }
}

GstBuffer* AlertState::queue_frame(GstBuffer* buffer) {
  held_.emplace_back(buffer);
  return next_frame();
}

GstBuffer* AlertState::next_frame() {
  if (held_.empty()) return nullptr;
  const bool active =
      std::any_of(rules_.begin(), rules_.end(), [](const Rule& r) { return r.tracker.active(); });
  if (active && held_.size() == 1) return nullptr;  // may have to carry the end at EOS
  GstBuffer* buffer = held_.front().take_buffer();
  held_.pop_front();
  return buffer;
}

std::vector<GstBuffer*> AlertState::finish() {
  GstBuffer* last = held_.empty() ? nullptr : held_.back().writable_buffer();
  uint64_t pts = last_pts_;
  if (last != nullptr && GST_BUFFER_PTS_IS_VALID(last)) pts = GST_BUFFER_PTS(last);
  for (auto& rule : rules_) {
    if (auto end = rule.tracker.finish(pts, frames_)) emit(std::move(*end), rule, last);
  }
  if (publishing_) {  // every event of the stream is out: internvlrecord may close its clips
    channel_->publisher_finished(stream_);
    publishing_ = false;
  }
  return release_all();
}

std::vector<GstBuffer*> AlertState::release_all() {
  std::vector<GstBuffer*> out;
  for (auto& item : held_) out.push_back(item.take_buffer());
  held_.clear();
  return out;
}

void AlertState::flush() {
  held_.clear();
  if (!publishing_) {  // a seek after the end of the stream: events come again
    channel_->publisher_started(stream_);
    publishing_ = true;
  }
  for (auto& rule : rules_) {
    rule.tracker.reset();
    inference_.metrics->metrics().alert_active(stream_, rule.tracker.rule().name).Set(0);
  }
}

}  // namespace ivs::plugins
