// SPDX-License-Identifier: Apache-2.0
#include "pipeline/keyframe_filter.h"

#include <algorithm>
#include <cmath>

namespace ivs::pipeline {
namespace {

constexpr double kNanosPerSecond = 1e9;

}  // namespace

const std::vector<std::string>& decode_frames_names() {
  static const std::vector<std::string> names{"auto", "all", "keyframes"};
  return names;
}

const std::string& decode_frames_name(DecodeFrames mode) {
  return decode_frames_names().at(static_cast<size_t>(mode));
}

KeyframeFilter::KeyframeFilter(Options options) { set_options(options); }

void KeyframeFilter::set_options(Options options) {
  options_ = options;
  if (!(options_.fps > 0.0) || !std::isfinite(options_.fps)) options_.fps = 0.0;
}

KeyframeFilter::Verdict KeyframeFilter::push(std::optional<uint64_t> pts_ns, bool key_frame,
                                             const SamplingNeed& need) {
  ++frames_in_;
  if (pts_ns.has_value()) latest_pts_ns_ = std::max(latest_pts_ns_, *pts_ns);
  Verdict verdict = Verdict::kPass;
  if (key_frame) {
    if (pts_ns.has_value()) measure_key_frame(*pts_ns);
    decoding_ = decide(need);
    const bool thinned = decoding_ == DecodeFrames::kKeyframes && pts_ns.has_value();
    // Out of key-frame decoding the grid still follows every frame passed, as the consumers do.
    if (pts_ns.has_value() && !grid_takes(latest_pts_ns_) && thinned) verdict = Verdict::kDrop;
  } else if (decoding_ == DecodeFrames::kKeyframes) {
    if (options_.mode == DecodeFrames::kAuto && pts_ns.has_value() && key_frame_overdue(*pts_ns)) {
      decoding_ = DecodeFrames::kAll;
      verdict = Verdict::kResume;
      grid_takes(latest_pts_ns_);
    } else {
      verdict = Verdict::kDrop;
    }
  } else if (pts_ns.has_value()) {
    grid_takes(latest_pts_ns_);
  }
  if (verdict != Verdict::kDrop) ++frames_passed_;
  return verdict;
}

void KeyframeFilter::restart() {
  last_key_ns_.reset();
  latest_pts_ns_ = 0;
  grid_.reset();
}

KeyframeFilter::Status KeyframeFilter::status() const {
  Status status;
  status.decoding = decoding_;
  if (const auto longest = longest_spacing_ns()) status.gop_seconds = *longest / kNanosPerSecond;
  status.fps = fps_;
  status.frames_in = frames_in_;
  status.frames_passed = frames_passed_;
  return status;
}

DecodeFrames KeyframeFilter::decide(const SamplingNeed& need) {
  double fps = options_.fps;
  if (fps == 0.0 && need.consumers > 0 && !need.every_frame && std::isfinite(need.fps)) {
    fps = std::max(0.0, need.fps);
  }
  if (fps != fps_) {
    // A new rate: a new grid, as the consumers start one when their rate changes.
    fps_ = fps;
    grid_ = FrameSampler({0, fps_});
  }
  switch (options_.mode) {
    case DecodeFrames::kAll:
      return DecodeFrames::kAll;
    case DecodeFrames::kKeyframes:
      return DecodeFrames::kKeyframes;
    case DecodeFrames::kAuto:
      break;
  }
  const std::optional<uint64_t> gop = longest_spacing_ns();
  if (fps_ <= 0.0) return DecodeFrames::kAll;
  if (!gop.has_value()) return DecodeFrames::kKeyframes;  // until measured: see the class
  const double period_ns = kNanosPerSecond / fps_;
  return static_cast<double>(*gop) <= period_ns * (1.0 + kSpacingTolerance)
             ? DecodeFrames::kKeyframes
             : DecodeFrames::kAll;
}

void KeyframeFilter::measure_key_frame(uint64_t pts_ns) {
  // A key frame at or before the last one means timestamps started over without a restart():
  // its distance is not a spacing.
  if (last_key_ns_.has_value() && pts_ns > *last_key_ns_) {
    spacings_ns_.push_back(pts_ns - *last_key_ns_);
    if (spacings_ns_.size() > kSpacingWindow) spacings_ns_.pop_front();
  }
  last_key_ns_ = pts_ns;
}

std::optional<uint64_t> KeyframeFilter::longest_spacing_ns() const {
  if (spacings_ns_.empty()) return std::nullopt;
  return *std::max_element(spacings_ns_.begin(), spacings_ns_.end());
}

bool KeyframeFilter::key_frame_overdue(uint64_t pts_ns) const {
  if (!last_key_ns_.has_value() || pts_ns <= *last_key_ns_ || fps_ <= 0.0) return false;
  const std::optional<uint64_t> gop = longest_spacing_ns();
  const double wait_ns = gop.has_value() ? kOverdueGops * static_cast<double>(*gop)
                                         : kFirstGopPeriods * kNanosPerSecond / fps_;
  return static_cast<double>(pts_ns - *last_key_ns_) > wait_ns;
}

bool KeyframeFilter::grid_takes(uint64_t pts_ns) {
  return fps_ <= 0.0 || grid_.should_sample(pts_ns);
}

}  // namespace ivs::pipeline
