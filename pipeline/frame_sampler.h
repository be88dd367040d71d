// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>

namespace ivs::pipeline {

/// Chooses which frames an element runs the model on.
/// - interval (DeepStream's meaning): frames skipped between two samples; 0 samples every
///   frame, 4 samples frames 0, 5, 10, ...
/// - selection_fps > 0 (overrides interval): time-based, at most that many samples per second
///   of stream time: a frame is sampled when its PTS reaches the next slot on a fixed grid
///   (first sample's PTS + k / fps), so jitter does not drift the rate. Frames without a PTS
///   fall back to interval counting.
/// Not thread-safe: one per element, used from its streaming thread.
class FrameSampler {
 public:
  struct Options {
    uint32_t interval = 0;
    double selection_fps = 0.0;
  };

  explicit FrameSampler(Options options);

  /// Decides for the next frame (pts in nanoseconds of stream time, if known).
  bool should_sample(std::optional<uint64_t> pts_ns);

  /// Forgets history (flush, new segment, restart): the next frame is sampled.
  void reset();

  /// Frames seen since the last reset (the next frame's number).
  uint64_t frames_seen() const { return frames_seen_; }

 private:
  Options options_;
  uint64_t frames_seen_ = 0;
  uint64_t since_last_sample_ = 0;
  bool sampled_any_ = false;
  std::optional<uint64_t> grid_origin_ns_;
  uint64_t next_slot_ = 0;
};

}  // namespace ivs::pipeline
