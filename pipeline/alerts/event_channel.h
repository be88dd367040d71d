// SPDX-License-Identifier: Apache-2.0
// Alert events of the streams of one pipeline (or process), keyed by stream id: internvlalert
// publishes, internvlrecord (in another branch of the same stream, after a tee) and others listen.
// Shared between elements through the "internvl.events" GstContext (pipeline/event_context.h).
// Thread-safe; listeners run on the publisher's thread and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "pipeline/alerts/alert_event.h"

namespace ivs::pipeline {

class EventChannel {
 public:
  using Listener = std::function<void(const AlertEvent&)>;

  /// Calls `listener` for every event of `stream_id` published from now on; the returned id
  /// unsubscribes.
  uint64_t subscribe(const std::string& stream_id, Listener listener);
  void unsubscribe(uint64_t id);

  /// Hands `event` to the listeners of event.stream_id, in subscription order.
  void publish(const AlertEvent& event);

  /// internvlrecord says where the clip of event `id` goes (when its start arrives), so that
  /// the end event can name it. Bounded: the oldest notes are forgotten past kMaxClipNotes.
  void note_clip(const std::string& event_id, const std::string& path);
  /// The clip noted for `event_id` ("" when none), forgotten once read.
  std::string clip_of(const std::string& event_id);

  static constexpr size_t kMaxClipNotes = 1024;

  /// A publisher (internvlalert) of `stream_id` starts, or reaches its end of stream (after its
  /// last events) or stops. Balanced calls; a stream may have several publishers.
  void publisher_started(const std::string& stream_id);
  void publisher_finished(const std::string& stream_id);
  /// Waits until no publisher of `stream_id` is running, at most `timeout`; false when one still
  /// is. internvlrecord calls it at its end of stream: the encoded branch usually gets there
  /// before the analysis has decided the last events.
  bool wait_for_publishers(const std::string& stream_id, std::chrono::milliseconds timeout);

  /// A publisher of `stream_id` has decided everything up to stream time `pts` (ns).
  void note_progress(const std::string& stream_id, uint64_t pts);
  /// Waits until the publishers of `stream_id` have decided up to `pts`, at most `timeout`; true
  /// then, or at once when the stream has no publisher running. internvlrecord uses it to stay
  /// at most max-lag ahead of the decisions, however fast its branch could run.
  bool wait_for_progress(const std::string& stream_id, uint64_t pts,
                         std::chrono::milliseconds timeout);

 private:
  struct Subscription {
    std::string stream_id;
    Listener listener;
  };
  std::mutex mutex_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Subscription> subscriptions_;
  std::map<std::string, std::string> clips_;  // event id -> clip path
  std::map<std::string, int> publishers_;     // stream id -> publishers running
  std::map<std::string, uint64_t> progress_;  // stream id -> stream time decided
  std::condition_variable publishers_changed_;
  std::deque<std::string> clip_order_;  // ids in the order noted
};

}  // namespace ivs::pipeline
