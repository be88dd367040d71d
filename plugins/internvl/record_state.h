// SPDX-License-Identifier: Apache-2.0
// What internvlrecord runs on: its settings, its counters, and the state built in start() that
// turns the plan of pipeline/alerts/clip_planner.h into files (clip_writer.h) and completes them
// on a thread of its own. gstinternvlrecord.cpp is the GObject shell.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/alerts/clip_planner.h"
#include "pipeline/alerts/lag_line.h"
#include "pipeline/alerts/disk_budget.h"
#include "pipeline/alerts/event_channel.h"
#include "plugins/internvl/clip_writer.h"

namespace ivs::plugins {

/// internvlrecord's property values; copied under the element's lock when it starts.
struct RecordSettings {
  std::string location = "internvl-%s.mp4";  // "%s": the event id
  std::string stream_id;                     // empty: the element's name
  pipeline::ClipLimits limits;
  uint64_t max_disk_bytes = 0;  // of the clips written since start; 0: no cap
};

/// The element's read-only counters: reset by start(), readable after stop().
struct RecordCounters {
  std::atomic<uint64_t> started{0};   // clips opened
  std::atomic<uint64_t> finished{0};  // files complete (an internvl-recording message each)
  std::atomic<uint64_t> failed{0};    // clips that could not be opened or completed
  std::atomic<uint64_t> deleted{0};   // older clips deleted to stay within max-disk-bytes
  std::atomic<uint64_t> dropped{0};   // delta units before the first keyframe (not recordable)
  void reset();
};

/// The file for `event_id`: `location` with its "%s" replaced by the id, in which characters
/// other than letters, digits, '.', '_' and '-' become '_' (an id cannot leave the directory).
std::string clip_path(const std::string& location, const std::string& event_id);

/// Checks `location` (exactly one "%s") and makes its directory (created when missing) ready
/// for writing. Throws std::runtime_error naming the property, the problem and the fix.
void prepare_location(const std::string& location);

class RecordState {
 public:
  /// Listens to `stream_id`'s events on `channel`. `element` outlives the state: its finishing
  /// thread posts the internvl-recording messages and warnings on it.
  RecordState(GstElement* element, const RecordSettings& settings, const std::string& stream_id,
              std::shared_ptr<pipeline::EventChannel> channel, RecordCounters& counters);
  /// Stops listening, completes open clips (bounded wait) and joins the finishing thread.
  ~RecordState();
  RecordState(const RecordState&) = delete;
  RecordState& operator=(const RecordState&) = delete;

  /// The caps clips are written with (checked by the caller with clip_parser_for).
  void set_caps(GstCaps* caps);
  /// The streaming thread's next buffer, at stream time `pts` (ns). Never blocks on the disk.
  void render(GstBuffer* buffer, uint64_t pts);
  /// EOS: waits (at most kAlertEosWait, or until unblock) for the stream's alert publishers to
  /// reach their end, then finish_all().
  void finish_at_eos();
  /// Closes every clip and waits until their files are complete (bounded).
  void finish_all();
  /// BaseSink's unlock (true) / unlock_stop (false): a waiting finish_at_eos() returns.
  void unblock(bool unblock) { unblocked_ = unblock; }
  /// A flush: as finish_all, and the pre-roll (from before the seek) is dropped.
  void flush();

 private:
  struct Inbox {  // the channel's listener may run on any thread
    std::mutex lock;
    std::vector<pipeline::AlertEvent> events;
  };
  struct Closing {
    std::unique_ptr<ClipWriter> writer;
    std::string event_id;
  };

  void take_events();
  void feed(pipeline::EncodedUnit unit);
  void apply(const pipeline::ClipActions& actions, GstBuffer* current);
  void open(const pipeline::ClipStart& start);
  void run_finisher();
  void complete(Closing closing);
  void wait_until_idle();

  GstElement* element_;
  RecordSettings settings_;
  std::string stream_id_;
  std::shared_ptr<pipeline::EventChannel> channel_;
  uint64_t subscription_ = 0;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  RecordCounters& counters_;
  std::atomic<bool> unblocked_{false};
  pipeline::LagLine lag_;  // units wait here, so late decisions still land on time
  pipeline::ClipPlanner planner_;
  GstCaps* caps_ = nullptr;
  std::map<std::string, std::unique_ptr<ClipWriter>> writers_;  // open clips by event id

  // The finishing thread waits for ended clips to be complete, then reports and applies the cap.
  std::mutex finish_lock_;
  std::condition_variable finish_cv_;
  std::deque<Closing> closing_;
  bool finishing_ = false;  // the thread is completing a clip
  bool quit_ = false;
  pipeline::DiskBudget budget_;  // the finishing thread's only
  std::thread finisher_;
};

}  // namespace ivs::plugins
