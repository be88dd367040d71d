// SPDX-License-Identifier: Apache-2.0
#include "pipeline/scheduling/clip_window.h"

#include <utility>

namespace ivs::pipeline {

std::optional<ClipWindow::Clip> ClipWindow::add(std::vector<float> embedding, uint64_t pts,
                                                uint64_t frame_number) {
  if (frames_ == 0) return std::nullopt;
  samples_.push_back({std::move(embedding), pts, frame_number});
  while (samples_.size() > frames_) samples_.pop_front();
  if (samples_.size() < frames_) return std::nullopt;
  Clip clip;
  clip.embeddings.reserve(samples_.size());
  for (const auto& sample : samples_) clip.embeddings.push_back(sample.embedding);
  clip.first_pts = samples_.front().pts;
  clip.first_frame = samples_.front().frame_number;
  return clip;
}

}  // namespace ivs::pipeline
