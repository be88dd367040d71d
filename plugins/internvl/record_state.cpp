// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/record_state.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

GST_DEBUG_CATEGORY_EXTERN(gst_internvl_record_debug);
#define GST_CAT_DEFAULT gst_internvl_record_debug

namespace ivs::plugins {
namespace {

// mp4mux writes its index when the end arrives: seconds at most, unless the disk hangs.
constexpr GstClockTime kCompleteTimeout = 30 * GST_SECOND;
constexpr const char* kPattern = "%s";

GstBuffer* buffer_of(const pipeline::EncodedUnit& unit) {
  return GST_BUFFER_CAST(const_cast<void*>(unit.payload.get()));
}

// The longest wait at EOS for the alert's last events: the analysis branch may still be busy.
constexpr std::chrono::seconds kAlertEosWait{60};

}  // namespace

void RecordCounters::reset() {
  started = 0;
  finished = 0;
  failed = 0;
  deleted = 0;
  dropped = 0;
}

std::string clip_path(const std::string& location, const std::string& event_id) {
  std::string name = event_id;
  for (char& c : name) {
    if (!g_ascii_isalnum(c) && c != '.' && c != '_' && c != '-') c = '_';
  }
  std::string path = location;
  const size_t at = path.find(kPattern);
  if (at != std::string::npos) path.replace(at, 2, name);
  return path;
}

void prepare_location(const std::string& location) {
  const size_t at = location.find(kPattern);
  if (at == std::string::npos || location.find(kPattern, at + 1) != std::string::npos) {
    throw std::runtime_error("location \"" + location +
                             "\" must contain \"%s\" exactly once (it becomes the event id): set "
                             "location to a pattern such as clips/%s.mp4");
  }
  namespace fs = std::filesystem;
  fs::path dir = fs::path(location).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code error;
  fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir) || access(dir.c_str(), W_OK) != 0) {
    throw std::runtime_error("the directory of location \"" + location + "\" (" + dir.string() +
                             ") cannot be written" + (error ? ": " + error.message() : "") +
                             ": make it writable or point location elsewhere");
  }
}

RecordState::RecordState(GstElement* element, const RecordSettings& settings,
                         const std::string& stream_id,
                         std::shared_ptr<pipeline::EventChannel> channel, RecordCounters& counters)
    : element_(element),
      settings_(settings),
      stream_id_(stream_id),
      channel_(std::move(channel)),
      counters_(counters),
      lag_(pipeline::seconds_to_ns(settings.limits.max_lag_seconds),
           settings.limits.max_pre_roll_bytes),
      planner_(settings.limits),
      budget_(settings.max_disk_bytes) {
  finisher_ = std::thread([this] { run_finisher(); });
  // The listener runs on the alert element's thread: it only queues (and holds the inbox, not
  // this state, so a call still running after unsubscribe touches nothing freed).
  // It also says where the clip goes, so that the alert's end event names it.
  subscription_ = channel_->subscribe(
      stream_id_,
      [inbox = inbox_, location = settings.location,
       channel = std::weak_ptr<pipeline::EventChannel>(channel_)](const pipeline::AlertEvent& e) {
        if (e.state == pipeline::AlertState::kStart) {
          if (auto shared = channel.lock()) shared->note_clip(e.id, clip_path(location, e.id));
        }
        std::lock_guard<std::mutex> lock(inbox->lock);
        inbox->events.push_back(e);
      });
}

RecordState::~RecordState() {
  channel_->unsubscribe(subscription_);
  finish_all();
  {
    std::lock_guard<std::mutex> lock(finish_lock_);
    quit_ = true;
  }
  finish_cv_.notify_all();
  finisher_.join();
  if (caps_ != nullptr) gst_caps_unref(caps_);
}

void RecordState::set_caps(GstCaps* caps) { gst_caps_replace(&caps_, caps); }

void RecordState::render(GstBuffer* buffer, uint64_t pts) {
  // Stay at most max-lag ahead of the alert's decisions: a file's encoded branch could run
  // arbitrarily far ahead of the analysis (queues, inference, a synced analysis sink).
  const uint64_t lag = pipeline::seconds_to_ns(settings_.limits.max_lag_seconds);
  if (pts > lag) {
    while (!unblocked_ &&
           !channel_->wait_for_progress(stream_id_, pts - lag, std::chrono::milliseconds(100))) {
    }
  }
  take_events();
  pipeline::EncodedUnit unit;
  unit.pts = pts;
  unit.keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  unit.bytes = gst_buffer_get_size(buffer);
  unit.payload = std::shared_ptr<const void>(gst_buffer_ref(buffer), [](const void* b) {
    gst_buffer_unref(GST_BUFFER_CAST(const_cast<void*>(b)));
  });
  for (auto& out : lag_.push(std::move(unit))) feed(std::move(out));
}

void RecordState::feed(pipeline::EncodedUnit unit) {
  const uint64_t dropped_before = planner_.units_dropped();
  const std::shared_ptr<const void> hold = unit.payload;  // the planner may drop its copy
  apply(planner_.push(std::move(unit)), GST_BUFFER_CAST(const_cast<void*>(hold.get())));
  if (planner_.units_dropped() != dropped_before) ++counters_.dropped;
}

void RecordState::finish_at_eos() {
  const auto deadline = std::chrono::steady_clock::now() + kAlertEosWait;
  while (!unblocked_ && std::chrono::steady_clock::now() < deadline) {
    if (channel_->wait_for_publishers(stream_id_, std::chrono::milliseconds(100))) break;
  }
  finish_all();
}

void RecordState::finish_all() {
  take_events();
  for (auto& unit : lag_.drain()) feed(std::move(unit));
  apply(planner_.finish_all(), nullptr);
  wait_until_idle();
}

void RecordState::flush() {
  finish_all();
  planner_ = pipeline::ClipPlanner(settings_.limits);
}

void RecordState::take_events() {
  std::vector<pipeline::AlertEvent> events;
  {
    std::lock_guard<std::mutex> lock(inbox_->lock);
    events.swap(inbox_->events);
  }
  for (const auto& event : events) {
    GST_DEBUG_OBJECT(element_, "event %s %s of stream %s", event.id.c_str(),
                     pipeline::alert_state_name(event.state), event.stream_id.c_str());
    apply(planner_.on_event(event), nullptr);
  }
}

void RecordState::apply(const pipeline::ClipActions& actions, GstBuffer* current) {
  for (const auto& start : actions.started) open(start);
  for (const auto& id : actions.append) {
    auto it = writers_.find(id);
    if (it != writers_.end() && current != nullptr) it->second->write(current);
  }
  for (const auto& id : actions.finished) {
    auto it = writers_.find(id);
    if (it == writers_.end()) continue;  // its file could not be opened
    it->second->end();
    {
      std::lock_guard<std::mutex> lock(finish_lock_);
      closing_.push_back(Closing{std::move(it->second), id});
    }
    writers_.erase(it);
    finish_cv_.notify_all();
  }
}

void RecordState::open(const pipeline::ClipStart& start) {
  const std::string path = clip_path(settings_.location, start.event_id);
  try {
    auto writer = std::make_unique<ClipWriter>(path, caps_);
    for (const auto& unit : start.units) writer->write(buffer_of(unit));
    writers_[start.event_id] = std::move(writer);
    ++counters_.started;
    GST_INFO_OBJECT(element_, "recording event %s into %s (pre-roll: %zu buffers)",
                    start.event_id.c_str(), path.c_str(), start.units.size());
  } catch (const std::exception& e) {
    ++counters_.failed;
    GST_ELEMENT_WARNING(
        element_, RESOURCE, OPEN_WRITE,
        ("Could not record event %s into %s.", start.event_id.c_str(), path.c_str()),
        ("%s", e.what()));
  }
}

void RecordState::run_finisher() {
  std::unique_lock<std::mutex> lock(finish_lock_);
  for (;;) {
    finish_cv_.wait(lock, [this] { return quit_ || !closing_.empty(); });
    if (closing_.empty()) return;  // quit, and nothing left to complete
    Closing closing = std::move(closing_.front());
    closing_.pop_front();
    finishing_ = true;
    lock.unlock();
    complete(std::move(closing));
    lock.lock();
    finishing_ = false;
    finish_cv_.notify_all();
  }
}

void RecordState::complete(Closing closing) {
  const std::string error = closing.writer->wait(kCompleteTimeout);
  const std::string path = closing.writer->path();
  const uint64_t duration = closing.writer->duration_ns();
  closing.writer.reset();  // the file is closed when its pipeline stops
  if (!error.empty()) {
    ++counters_.failed;
    GST_ELEMENT_WARNING(
        element_, RESOURCE, WRITE,
        ("Could not complete the clip %s of event %s.", path.c_str(), closing.event_id.c_str()),
        ("%s", error.c_str()));
    return;
  }
  std::error_code size_error;
  const uint64_t bytes = std::filesystem::file_size(path, size_error);
  ++counters_.finished;
  GST_INFO_OBJECT(element_, "clip %s complete: %" GST_TIME_FORMAT ", %" G_GUINT64_FORMAT " bytes",
                  path.c_str(), GST_TIME_ARGS(duration), bytes);
  GstStructure* s = gst_structure_new(
      "internvl-recording", "path", G_TYPE_STRING, path.c_str(), "event-id", G_TYPE_STRING,
      closing.event_id.c_str(), "stream-id", G_TYPE_STRING, stream_id_.c_str(), "duration",
      G_TYPE_UINT64, duration, "bytes", G_TYPE_UINT64, bytes, nullptr);
  gst_element_post_message(element_, gst_message_new_element(GST_OBJECT(element_), s));
  for (const auto& doomed : budget_.add(path, size_error ? 0 : bytes)) {
    std::error_code remove_error;
    if (std::filesystem::remove(doomed, remove_error)) {
      ++counters_.deleted;
      GST_INFO_OBJECT(element_, "deleted %s to stay within max-disk-bytes", doomed.c_str());
    } else if (remove_error) {
      GST_WARNING_OBJECT(element_, "could not delete %s (max-disk-bytes): %s", doomed.c_str(),
                         remove_error.message().c_str());
    }
  }
}

void RecordState::wait_until_idle() {
  std::unique_lock<std::mutex> lock(finish_lock_);
  finish_cv_.wait(lock, [this] { return closing_.empty() && !finishing_; });
}

}  // namespace ivs::plugins
