// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_sampler.h"

#include <algorithm>
#include <cmath>

namespace ivs::pipeline {
namespace {

constexpr double kNanosPerSecond = 1e9;

// Offset of grid slot `slot` from the origin. Computed from the slot number every time rather
// than by adding a rounded period, so rounding never accumulates into drift.
uint64_t slot_offset_ns(uint64_t slot, double fps) {
  return static_cast<uint64_t>(std::llround(static_cast<double>(slot) * kNanosPerSecond / fps));
}

}  // namespace

FrameSampler::FrameSampler(Options options) : options_(options) {
  // NaN or negative rates mean "not time-based" rather than a grid that never advances.
  if (!(options_.selection_fps > 0.0) || !std::isfinite(options_.selection_fps)) {
    options_.selection_fps = 0.0;
  }
}

bool FrameSampler::should_sample(std::optional<uint64_t> pts_ns) {
  ++frames_seen_;
  bool sample = false;
  if (options_.selection_fps > 0.0 && pts_ns.has_value()) {
    const double fps = options_.selection_fps;
    const uint64_t pts = *pts_ns;
    // PTS before the slot last sampled means time went backwards (a loop or a segment the
    // caller did not reset() for): start a new grid there instead of waiting to catch up.
    const bool backwards =
        grid_origin_ns_.has_value() &&
        (pts < *grid_origin_ns_ || pts - *grid_origin_ns_ < slot_offset_ns(next_slot_ - 1, fps));
    if (!grid_origin_ns_.has_value() || backwards) {
      grid_origin_ns_ = pts;
      next_slot_ = 1;
      sample = true;
    } else if (pts - *grid_origin_ns_ >= slot_offset_ns(next_slot_, fps)) {
      // The next slot is the first one after this PTS, so a gap in the stream skips the slots it
      // covered instead of sampling a burst of frames to catch up.
      const double elapsed = static_cast<double>(pts - *grid_origin_ns_);
      const auto slot = static_cast<uint64_t>(std::floor(elapsed * fps / kNanosPerSecond));
      next_slot_ = std::max(next_slot_, slot) + 1;
      sample = true;
    }
  } else {
    // Interval counting, also the fallback for time-based sampling of frames without a PTS.
    sample = !sampled_any_ || since_last_sample_ >= options_.interval;
  }
  if (sample) {
    sampled_any_ = true;
    since_last_sample_ = 0;
  } else {
    ++since_last_sample_;
  }
  return sample;
}

void FrameSampler::reset() {
  frames_seen_ = 0;
  since_last_sample_ = 0;
  sampled_any_ = false;
  grid_origin_ns_.reset();
  next_slot_ = 0;
}

}  // namespace ivs::pipeline
