// SPDX-License-Identifier: Apache-2.0
// When internvlrecord's clips start and stop: the alert events of its stream against the encoded
// units it sees, without GStreamer (tested in simulated time). One clip per event: a start opens
// a clip with the pre-roll from `pre_roll` before the event's start (rounded back to a keyframe);
// every later unit is added until `post_roll` after the event's end, or until the clip spans
// `max_duration`, whichever comes first. Overlapping events of the stream each get their own
// clip, so every event id names one self-contained file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/alerts/alert_event.h"
#include "pipeline/alerts/pre_roll_window.h"

namespace ivs::pipeline {

/// internvlrecord's time and size limits (its properties).
struct ClipLimits {
  double pre_roll_seconds = 5.0;              // kept before an event's start
  double post_roll_seconds = 5.0;             // kept after an event's end
  double max_duration_seconds = 300.0;        // of one clip, pre-roll included
  uint64_t max_pre_roll_bytes = 64ull << 20;  // the pre-roll's cap (whole GOPs are dropped)
  // How late an event may be decided, in stream time, and still land on time: the units wait
  // this long (LagLine) before the planner sees them.
  double max_lag_seconds = 10.0;
};

/// A clip to open: its event and its first units (the pre-roll), oldest first.
struct ClipStart {
  std::string event_id;
  std::vector<EncodedUnit> units;
};

/// What the caller does after a push or an event, in this order: open `started` (writing their
/// units), write the pushed unit to the clips in `append`, then close the clips in `finished`.
struct ClipActions {
  std::vector<ClipStart> started;
  std::vector<std::string> append;
  std::vector<std::string> finished;
};

/// Not thread-safe: the element's streaming thread calls every method (events are queued by
/// the channel's listener and handed over there).
class ClipPlanner {
 public:
  explicit ClipPlanner(const ClipLimits& limits);

  /// A start opens a clip (or waits for the stream to reach the pre-roll's start when the event
  /// is ahead of it); an end sets when its clip stops, closing it now when that time has passed.
  /// Events whose id is unknown (an end without its start) or already open are ignored.
  ClipActions on_event(const AlertEvent& event);

  /// The stream's next unit. A unit at or after a clip's stop time closes the clip (and is not
  /// part of it).
  ClipActions push(EncodedUnit unit);

  /// End of stream or a flush: every clip closes (a waiting start opens with what there is).
  ClipActions finish_all();

  /// Delta units seen before any keyframe (they cannot start a clip and were not kept).
  uint64_t units_dropped() const { return units_dropped_; }
  size_t open_clips() const { return clips_.size(); }
  const PreRollWindow& window() const { return window_; }

 private:
  struct Clip {
    std::string event_id;
    uint64_t from = 0;           // pre-roll start: event start - pre_roll
    uint64_t stop = UINT64_MAX;  // units at or after this are not part of the clip
    bool open = false;           // false: waiting until the stream reaches `from`
  };
  void open(Clip& clip, ClipActions& actions);
  Clip* find(const std::string& event_id);

  uint64_t pre_roll_ns_;
  uint64_t post_roll_ns_;
  uint64_t max_duration_ns_;
  PreRollWindow window_;
  std::vector<Clip> clips_;  // in start order
  uint64_t units_dropped_ = 0;
};

/// Seconds (a property value) as nanoseconds, saturating; negative counts as zero.
uint64_t seconds_to_ns(double seconds);

}  // namespace ivs::pipeline
