// SPDX-License-Identifier: Apache-2.0
// Exact re-ranking of the IVF's candidates. 8-bit quantisation errs by ~3e-4 on a score, more
// than separates near-identical frames of one scene (video), so the IVF returns the right
// scenes in a shuffled order; reading the candidates' float16 vectors back from SQLite (in
// the OS page cache) and scoring them exactly restores the exact tier's order among them
// without a float copy in memory.
#pragma once

#include <cstddef>
#include <vector>

#include "sinks/index/sqlite_store.h"
#include "sinks/index/vector_index.h"

namespace ivs::search {

/// The `keep` best of `candidates` by the exact inner product of `query` ([dim]) with their
/// stored vectors, best first; candidates retention deleted meanwhile are dropped.
std::vector<VectorHit> rerank(SqliteStore& store, const float* query, int dim,
                              const std::vector<VectorHit>& candidates, size_t keep);

}  // namespace ivs::search
