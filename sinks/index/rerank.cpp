// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/rerank.h"

#include <algorithm>

#include "sinks/index/float16.h"

namespace ivs::search {

std::vector<VectorHit> rerank(SqliteStore& store, const float* query, int dim,
                              const std::vector<VectorHit>& candidates, size_t keep) {
  std::vector<int64_t> ids;
  ids.reserve(candidates.size());
  for (const VectorHit& hit : candidates) ids.push_back(hit.id);
  // Ascending ids walk the table's b-tree in order: fewer page visits than the score order.
  std::sort(ids.begin(), ids.end());
  std::vector<VectorHit> scored;
  scored.reserve(ids.size());
  std::vector<float> vector;
  store.embeddings(ids, [&](int64_t id, const uint16_t* half, size_t count) {
    if (count != static_cast<size_t>(dim)) throw store.wrong_dim(id, count, dim);
    vector.clear();
    append_from_float16(half, count, vector);
    float score = 0.0f;
    for (size_t i = 0; i < count; ++i) score += vector[i] * query[i];
    scored.push_back({id, score});
  });
  const size_t kept = std::min(keep, scored.size());
  // Equal scores (duplicate frames) rank the older frame first, as the exact tier's scan does.
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(kept),
                    scored.end(), [](const VectorHit& a, const VectorHit& b) {
                      return a.score != b.score ? a.score > b.score : a.id < b.id;
                    });
  scored.resize(kept);
  return scored;
}

}  // namespace ivs::search
