// SPDX-License-Identifier: Apache-2.0
// Ranked frames to ranked moments: what a user wants is "when", not forty near-identical
// frames of the same few seconds. Pure, so it is tested without an index.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sinks/index/search_index.h"

namespace ivs::search {

/// One ranked frame, with what a moment needs to know about it.
struct FrameHit {
  std::string stream;
  int64_t pts_ns = 0;
  std::chrono::system_clock::time_point wall_time;
  int64_t frame_id = 0;
  int64_t id = 0;  // the index's id
  bool has_thumbnail = false;
  double score = 0.0;
};

/// Groups the hits of each stream that follow one another (in wall-clock order) with stream
/// times at most `merge_gap` apart (chained: a-b and b-c close merge a, b, c; a stream time
/// that goes back, as when a stream restarts, never merges), scores each moment by its best hit, and returns the `k`
/// best moments, best first (ties: the earlier moment first, so the order is stable).
/// A moment is one scene, so two neighbours also merge only when their scores are close: a
/// step of more than a sixteenth of the hits' score range between consecutive hits is a scene
/// change. And strong hits (the top quarter of that range) are grouped apart from the rest:
/// when a filter leaves few candidates every frame is a hit, and a matching scene must not
/// merge with the unrelated frames around it, even when they change slowly.
std::vector<Moment> build_moments(std::vector<FrameHit> hits, std::chrono::nanoseconds merge_gap,
                                  size_t k);

}  // namespace ivs::search
