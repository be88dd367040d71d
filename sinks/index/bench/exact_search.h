// SPDX-License-Identifier: Apache-2.0
// The search benchmark's ground truth: exact float32 top-k over the synthetic frames, with the
// same stream and time filter each query gives the index.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "sinks/index/bench/synthetic_frames.h"

namespace ivs::search {

/// A query with the filter it is searched under (in frame terms: camera numbers and frame ids).
struct BenchQuery {
  std::vector<float> embedding;  // [dim], unit
  std::vector<int> cameras;      // empty: every camera
  int64_t first_frame_id = 0;    // inclusive window of frame ids (= seconds after the epoch)
  int64_t last_frame_id = INT64_MAX;

  bool admits(const SyntheticFrames& data, size_t i) const;
  SearchFilter filter(const SyntheticFrames& data) const;  // the same filter for the index
};

/// The k best frame numbers of each query among the frames it admits, best first, by exact
/// float32 inner product. One pass over the data, regenerating each vector once; uses
/// `threads` threads (split by query).
std::vector<std::vector<size_t>> exact_top_k(const SyntheticFrames& data,
                                             const std::vector<BenchQuery>& queries, size_t k,
                                             int threads);

}  // namespace ivs::search
