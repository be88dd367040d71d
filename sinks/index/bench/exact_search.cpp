// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/bench/exact_search.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <thread>
#include <utility>

#include <faiss/utils/distances.h>

namespace ivs::search {
namespace {

// Frames regenerated per pass step: 4096 x 768 floats = 12 MB.
constexpr size_t kChunk = 4096;

using Scored = std::pair<float, size_t>;  // (score, frame); the heap keeps the k best
using MinHeap = std::priority_queue<Scored, std::vector<Scored>, std::greater<Scored>>;

void offer(MinHeap& heap, size_t k, float score, size_t frame) {
  if (heap.size() < k) {
    heap.emplace(score, frame);
  } else if (score > heap.top().first) {
    heap.pop();
    heap.emplace(score, frame);
  }
}

// Scores one chunk [begin, begin + n) of frames for the queries [q0, q1).
void score_chunk(const SyntheticFrames& data, const std::vector<BenchQuery>& queries, size_t q0,
                 size_t q1, size_t begin, size_t n, const float* vectors, size_t k,
                 std::vector<MinHeap>& heaps, std::vector<float>& scores) {
  const auto d = static_cast<size_t>(data.config().dim);
  scores.resize(n);
  for (size_t q = q0; q < q1; ++q) {
    const auto& query = queries[q];
    if (query.cameras.empty() && query.first_frame_id == 0 && query.last_frame_id == INT64_MAX) {
      faiss::fvec_inner_products_ny(scores.data(), query.embedding.data(), vectors, d, n);
      for (size_t j = 0; j < n; ++j) offer(heaps[q], k, scores[j], begin + j);
      continue;
    }
    for (size_t j = 0; j < n; ++j) {
      if (!query.admits(data, begin + j)) continue;
      offer(heaps[q], k, faiss::fvec_inner_product(query.embedding.data(), vectors + j * d, d),
            begin + j);
    }
  }
}

}  // namespace

bool BenchQuery::admits(const SyntheticFrames& data, size_t i) const {
  const int64_t frame = data.frame_id(i);
  if (frame < first_frame_id || frame > last_frame_id) return false;
  if (cameras.empty()) return true;
  const int camera = static_cast<int>(i % static_cast<size_t>(data.config().streams));
  return std::find(cameras.begin(), cameras.end(), camera) != cameras.end();
}

SearchFilter BenchQuery::filter(const SyntheticFrames& data) const {
  SearchFilter f;
  for (int camera : cameras) f.streams.push_back(data.stream(static_cast<size_t>(camera)));
  if (first_frame_id > 0) f.from = SyntheticFrames::epoch() + std::chrono::seconds(first_frame_id);
  if (last_frame_id != INT64_MAX) {
    f.to = SyntheticFrames::epoch() + std::chrono::seconds(last_frame_id);
  }
  return f;
}

std::vector<std::vector<size_t>> exact_top_k(const SyntheticFrames& data,
                                             const std::vector<BenchQuery>& queries, size_t k,
                                             int threads) {
  const auto d = static_cast<size_t>(data.config().dim);
  const size_t count = data.config().count;
  std::vector<MinHeap> heaps(queries.size());
  std::vector<float> vectors(kChunk * d);
  const auto workers = static_cast<size_t>(std::max(1, threads));
  std::vector<std::vector<float>> scores(workers);
  for (size_t begin = 0; begin < count; begin += kChunk) {
    const size_t n = std::min(kChunk, count - begin);
    std::vector<std::thread> pool;
    for (size_t w = 0; w < workers; ++w) {  // regenerate the chunk's vectors
      pool.emplace_back([&, w] {
        for (size_t j = n * w / workers; j < n * (w + 1) / workers; ++j) {
          data.embedding(begin + j, vectors.data() + j * d);
        }
      });
    }
    for (auto& t : pool) t.join();
    pool.clear();
    for (size_t w = 0; w < workers; ++w) {  // score it, each worker its share of the queries
      const size_t q0 = queries.size() * w / workers, q1 = queries.size() * (w + 1) / workers;
      pool.emplace_back([&, w, q0, q1] {
        score_chunk(data, queries, q0, q1, begin, n, vectors.data(), k, heaps, scores[w]);
      });
    }
    for (auto& t : pool) t.join();
  }
  std::vector<std::vector<size_t>> out(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    for (; !heaps[q].empty(); heaps[q].pop()) out[q].push_back(heaps[q].top().second);
    std::reverse(out[q].begin(), out[q].end());
  }
  return out;
}

}  // namespace ivs::search
