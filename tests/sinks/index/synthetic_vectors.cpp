// SPDX-License-Identifier: Apache-2.0
#include "tests/sinks/index/synthetic_vectors.h"

#include <cmath>

namespace ivs::search::test {

void normalise(std::vector<float>& v) {
  double norm = 0.0;
  for (float x : v) norm += static_cast<double>(x) * x;
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= scale;
}

ClusteredVectors::ClusteredVectors(int dim, int clusters, float spread, uint32_t seed)
    : dim_(dim), spread_(spread), rng_(seed) {
  std::normal_distribution<float> gauss;
  for (int c = 0; c < clusters; ++c) {
    std::vector<float> centre(static_cast<size_t>(dim));
    for (float& x : centre) x = gauss(rng_);
    normalise(centre);
    centres_.push_back(std::move(centre));
  }
}

std::vector<float> ClusteredVectors::near(int cluster) {
  std::normal_distribution<float> gauss(0.0f, spread_);
  std::vector<float> v = centres_[static_cast<size_t>(cluster)];
  for (float& x : v) x += gauss(rng_);
  normalise(v);
  return v;
}

std::vector<float> ClusteredVectors::next() {
  std::uniform_int_distribution<int> pick(0, static_cast<int>(centres_.size()) - 1);
  return near(pick(rng_));
}

IndexedFrame make_frame(const std::string& stream, int64_t frame_id, double second,
                        std::chrono::system_clock::time_point epoch, std::vector<float> embedding,
                        bool thumbnail) {
  IndexedFrame frame;
  frame.stream = stream;
  frame.frame_id = frame_id;
  frame.pts_ns = static_cast<int64_t>(second * 1e9);
  frame.wall_time = epoch + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                std::chrono::duration<double>(second));
  frame.mode = "c";
  frame.embedding = std::move(embedding);
  if (thumbnail) {
    // Not a real JPEG: the index stores bytes, it never decodes them.
    frame.thumbnail_jpeg = {0xff, 0xd8, static_cast<uint8_t>(frame_id & 0xff), 0xff, 0xd9};
  }
  return frame;
}

std::chrono::system_clock::time_point test_epoch() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1796083200));
}

}  // namespace ivs::search::test
