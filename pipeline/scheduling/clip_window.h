// SPDX-License-Identifier: Apache-2.0
// The sliding window of a stream's last N sampled embeddings that internvlclassify scores as
// one clip (InternVL's video evaluation averages the frame embeddings of a clip).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace ivs::pipeline {

class ClipWindow {
 public:
  /// `frames` samples per clip; 0 never makes a clip.
  explicit ClipWindow(size_t frames) : frames_(frames) {}

  struct Clip {
    std::vector<std::vector<float>> embeddings;  // oldest first
    uint64_t first_pts = 0;                      // of the oldest sample
    uint64_t first_frame = 0;
  };

  /// Adds a sampled frame; returns the window once it holds `frames` samples (then on every
  /// later sample, sliding by one).
  std::optional<Clip> add(std::vector<float> embedding, uint64_t pts, uint64_t frame_number);

  /// Forgets every sample (a flush: the next clip starts from scratch).
  void clear() { samples_.clear(); }

 private:
  struct Sample {
    std::vector<float> embedding;
    uint64_t pts = 0;
    uint64_t frame_number = 0;
  };
  size_t frames_;
  std::deque<Sample> samples_;
};

}  // namespace ivs::pipeline
