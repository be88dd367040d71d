// SPDX-License-Identifier: Apache-2.0
// Seeded unit vectors for the index tests: clustered like real embeddings (frames of one scene
// sit close together), so recall numbers mean something.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sinks/index/search_index.h"

namespace ivs::search::test {

/// `clusters` random unit centres; each vector is a centre plus noise of `spread` per
/// dimension, normalised.
class ClusteredVectors {
 public:
  ClusteredVectors(int dim, int clusters, float spread, uint32_t seed);
  std::vector<float> next();             // from a random cluster
  std::vector<float> near(int cluster);  // from a given cluster
  std::vector<float> centre(int cluster) const { return centres_[static_cast<size_t>(cluster)]; }
  int dim() const { return dim_; }

 private:
  int dim_;
  float spread_;
  std::mt19937 rng_;
  std::vector<std::vector<float>> centres_;
};

void normalise(std::vector<float>& v);

/// A frame of `stream` at second `second` of stream time and of wall time after `epoch`.
IndexedFrame make_frame(const std::string& stream, int64_t frame_id, double second,
                        std::chrono::system_clock::time_point epoch, std::vector<float> embedding,
                        bool thumbnail = false);

/// A fixed wall clock origin (2026-12-01T00:00:00Z), so tests never depend on today.
std::chrono::system_clock::time_point test_epoch();

}  // namespace ivs::search::test
