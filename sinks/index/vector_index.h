// SPDX-License-Identifier: Apache-2.0
// The in-memory search structure over the embeddings, keyed by the SQLite ids: exact inner
// product (IndexFlatIP) while small, an IVF with 8-bit scalar quantisation (768 B a 768-d
// vector) once it passes the exact limit. Filters arrive as a FAISS IDSelector and are
// applied inside the scan, before ranking.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <faiss/Index.h>
#include <faiss/impl/IDSelector.h>

namespace ivs::search {

struct VectorHit {
  int64_t id = 0;
  float score = 0.0f;  // inner product = cosine for unit vectors
};

/// Not thread-safe: the index serialises writers against readers with its lock. search() is
/// const and may run on several threads at once.
class VectorIndex {
 public:
  /// exact_limit: the size above which the exact index is replaced by the IVF.
  VectorIndex(int dim, size_t exact_limit);
  ~VectorIndex();

  int dim() const { return dim_; }
  size_t size() const;
  bool approximate() const { return ivf_ != nullptr; }
  std::string structure() const { return approximate() ? "ivf-sq8" : "exact"; }

  /// Adds n vectors ([n, dim], row-major) with their ids (ascending, above every present id).
  void add(size_t n, const float* vectors, const int64_t* ids);

  /// True when exact and past the exact limit: time to move to the IVF.
  bool needs_ivf() const;
  /// Trains the IVF on everything present and moves to it, on this thread (loading).
  void switch_to_ivf();

  /// The same in two steps, so that training (seconds at 50,000 x 768) runs on another thread
  /// while this index goes on serving and growing. ivf_trainer() copies the vectors (call it
  /// under the lock guarding this index); the function it returns trains and fills an IVF on
  /// any thread; adopt_ivf() (under the exclusive lock) catches that IVF up with the vectors
  /// added and removed since the copy and moves to it.
  struct TrainedIvf {
    std::unique_ptr<faiss::Index> index;
    int64_t last_id = 0;      // the newest id it holds
    size_t trained_size = 0;  // vectors present when it was trained (sets its lists)
  };
  std::function<TrainedIvf()> ivf_trainer() const;
  void adopt_ivf(TrainedIvf trained);

  /// Retraining. An IVF trained on the first ~25,000 vectors and grown 40x keeps its lists
  /// (probing 1 in 32 of them misses whole scenes at 1M), so once it holds kRetrainGrowth times
  /// its training size it is trained again with lists for its new size. Its floats are not in
  /// memory (the budget has no room), so the caller streams them from SQLite on another
  /// thread: new_ivf() trains an empty IVF for `size` vectors on a sample of
  /// training_sample_size(size) of them, add_to() fills it (ids ascending, above its last_id),
  /// and adopt_retrained() (under the exclusive lock) drops the ids `gone` admits (removed
  /// since) and moves to it.
  bool needs_retrain() const;
  static size_t training_sample_size(size_t size);
  static TrainedIvf new_ivf(int dim, size_t size, size_t n, const float* sample);
  static void add_to(TrainedIvf& trained, size_t n, const float* vectors, const int64_t* ids);
  void adopt_retrained(TrainedIvf trained, const faiss::IDSelector& gone);
  /// Vectors present when the IVF in use was trained; 0 while exact.
  size_t trained_size() const { return trained_size_; }

  /// Removes every vector whose id the selector admits; returns how many.
  size_t remove(const faiss::IDSelector& selector);

  /// The k best vectors by inner product among those `selector` admits (null: all).
  /// `selectivity` (admitted / all, in (0, 1]) widens the IVF's probes for narrow filters so
  /// they still find their k.
  std::vector<VectorHit> search(const float* query, size_t k, const faiss::IDSelector* selector,
                                double selectivity) const;

  /// Estimated resident bytes (codes, ids, centroids, list slack).
  size_t memory_bytes() const;

  /// Writes the structure with the last id it covers, atomically (temporary file + rename).
  void save(const std::filesystem::path& file, int64_t last_id) const;

  /// Reads a saved structure; nullopt (with the reason in `why`) when it is missing, unreadable
  /// or of another dim.
  struct Loaded;
  static std::optional<Loaded> load(const std::filesystem::path& file, int dim, size_t exact_limit,
                                    std::string& why);

  /// IVF lists and probes used by default (after training); 0 while exact.
  size_t nlist() const;
  size_t nprobe() const;

 private:
  int dim_;
  size_t exact_limit_;
  std::unique_ptr<faiss::Index> flat_;  // IndexIDMap over IndexFlatIP while exact
  std::unique_ptr<faiss::Index> ivf_;   // IndexIVFScalarQuantizer once approximate
  size_t trained_size_ = 0;             // see trained_size()
};

struct VectorIndex::Loaded {
  std::unique_ptr<VectorIndex> index;
  int64_t last_id = 0;
};

}  // namespace ivs::search
