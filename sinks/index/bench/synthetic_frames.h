// SPDX-License-Identifier: Apache-2.0
// The search benchmark's data: `count` sampled frames of `streams` cameras at 1 fps, with unit
// embeddings clustered like real ones. Every camera shows a scene for `scene_frames` seconds;
// each scene belongs to one of `clusters` topics (random unit centres). A frame's embedding is
// normalise(centre + scene offset + frame noise): frames of one scene sit close together, scenes
// of one topic further apart, topics nearly orthogonal. Everything is a pure function of the
// seed and the frame's number, so the exact search regenerates vectors instead of holding a
// second copy of them (which would dwarf the index's own memory).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sinks/index/search_index.h"

namespace ivs::search {

struct SyntheticFramesConfig {
  size_t count = 1000000;  // frames
  int dim = 768;
  int streams = 100;    // cameras
  int clusters = 2000;  // topics
  int scene_frames = 30;
  double scene_spread = 0.6;  // norm of a scene's offset from its topic's centre
  double frame_spread = 0.3;  // norm of a frame's offset from its scene
  uint64_t seed = 0;
};

class SyntheticFrames {
 public:
  explicit SyntheticFrames(const SyntheticFramesConfig& config);

  const SyntheticFramesConfig& config() const { return config_; }

  /// Frame i is frame i / streams of camera i % streams, seen i / streams seconds after epoch().
  std::string stream(size_t i) const;  // "cam007"
  int64_t frame_id(size_t i) const;
  std::chrono::system_clock::time_point wall_time(size_t i) const;
  /// The wall time of the last frame (the data's span starts at epoch()).
  std::chrono::system_clock::time_point last_wall_time() const;
  static std::chrono::system_clock::time_point epoch();  // 2026-12-07T00:00:00Z

  /// Which scene frame i shows: equal for the frames of one camera's scene, distinct otherwise.
  uint64_t scene(size_t i) const;

  /// Frame i's unit embedding into out[0, dim).
  void embedding(size_t i, float* out) const;

  /// Query q: a noisy point of a random topic, not one of the frames. Unit length.
  std::vector<float> query(size_t q) const;

  /// Frame i as the index takes it (mode "c"), with a JPEG thumbnail when asked.
  IndexedFrame frame(size_t i, bool thumbnail) const;

 private:
  // normalise(centre(topic) + scene offset(key) + frame noise) with noise drawn from `key`.
  void point(int topic, uint64_t scene_key, uint64_t frame_key, float* out) const;

  SyntheticFramesConfig config_;
  std::vector<float> centres_;  // [clusters, dim], unit rows
};

/// A textured picture of the frame's topic (colour from the topic, stripes and noise from the
/// frame), `width` x `height`, as the JPEG internvlindex would store (quality 85).
std::vector<uint8_t> synthetic_thumbnail(uint64_t topic, uint64_t frame_key, int width = 160,
                                         int height = 90);

}  // namespace ivs::search
