// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/moments.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ivs::search {
namespace {

Moment start_moment(const FrameHit& hit) {
  Moment moment;
  moment.stream = hit.stream;
  moment.start_seconds = moment.end_seconds = static_cast<double>(hit.pts_ns) * 1e-9;
  moment.start_wall = moment.end_wall = hit.wall_time;
  moment.score = hit.score;
  moment.best_frame_id = hit.frame_id;
  moment.best_id = hit.id;
  moment.has_thumbnail = hit.has_thumbnail;
  moment.frames = 1;
  return moment;
}

void extend_moment(Moment& moment, const FrameHit& hit) {
  moment.end_seconds = static_cast<double>(hit.pts_ns) * 1e-9;
  moment.start_wall = std::min(moment.start_wall, hit.wall_time);
  moment.end_wall = std::max(moment.end_wall, hit.wall_time);
  ++moment.frames;
  if (hit.score > moment.score) {
    moment.score = hit.score;
    moment.best_frame_id = hit.frame_id;
    moment.best_id = hit.id;
    moment.has_thumbnail = hit.has_thumbnail;
  }
}

/// Appends the moments of `hits` (one tier) to `moments`; `max_step` is the largest score
/// change between consecutive hits of one moment.
void group(std::vector<FrameHit> hits, std::chrono::nanoseconds merge_gap, double max_step,
           std::vector<Moment>& moments) {
  // In the order they were seen: a stream that restarts (a looping file, a camera that
  // reconnects) starts its stream time again, and its passes must not interleave.
  std::sort(hits.begin(), hits.end(), [](const FrameHit& a, const FrameHit& b) {
    return std::tie(a.stream, a.wall_time, a.id) < std::tie(b.stream, b.wall_time, b.id);
  });
  for (size_t i = 0; i < hits.size(); ++i) {
    const FrameHit& hit = hits[i];
    const bool joins = i > 0 && hits[i - 1].stream == hit.stream &&
                       hit.pts_ns >= hits[i - 1].pts_ns &&
                       hit.pts_ns - hits[i - 1].pts_ns <= merge_gap.count() &&
                       std::abs(hit.score - hits[i - 1].score) <= max_step;
    if (joins) {
      extend_moment(moments.back(), hit);
    } else {
      moments.push_back(start_moment(hit));
    }
  }
}

}  // namespace

std::vector<Moment> build_moments(std::vector<FrameHit> hits, std::chrono::nanoseconds merge_gap,
                                  size_t k) {
  std::vector<Moment> moments;
  if (hits.empty()) return moments;
  const auto [worst, best] =
      std::minmax_element(hits.begin(), hits.end(),
                          [](const FrameHit& a, const FrameHit& b) { return a.score < b.score; });
  const double range = best->score - worst->score;
  const double threshold = best->score - range / 4.0;
  const double max_step = range / 16.0;
  const auto weak_begin = std::stable_partition(
      hits.begin(), hits.end(), [&](const FrameHit& hit) { return hit.score >= threshold; });
  std::vector<FrameHit> weak(std::make_move_iterator(weak_begin),
                             std::make_move_iterator(hits.end()));
  hits.erase(weak_begin, hits.end());
  group(std::move(hits), merge_gap, max_step, moments);
  group(std::move(weak), merge_gap, max_step, moments);
  std::stable_sort(moments.begin(), moments.end(), [](const Moment& a, const Moment& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.start_wall < b.start_wall;
  });
  if (moments.size() > k) moments.resize(k);
  return moments;
}

}  // namespace ivs::search
