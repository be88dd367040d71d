// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "sinks/index/search_index.h"

namespace ivs::search {
namespace {

using faiss::Index;
using idx_t = faiss::Index::idx_t;

constexpr char kMagic[8] = {'I', 'V', 'S', 'V', 'E', 'C', '0', '1'};
// k-means iterations when training the IVF: 10 reach the recall target on clustered data
// (tests/sinks/index) at a third of FAISS's default 25, which matters as training stalls ingest.
constexpr int kTrainIterations = 10;
// FAISS wants at least 39 training points per list; more lists than this would warn and cluster
// badly.
constexpr size_t kMinPointsPerList = 39;

/// Admits a position of the flat index when the selector admits the id stored there (FAISS
/// 1.7.3's IndexIDMap refuses search parameters, so the flat index is searched directly).
struct PositionSelector : faiss::IDSelector {
  PositionSelector(const std::vector<idx_t>& ids, const faiss::IDSelector& inner)
      : ids(ids), inner(inner) {}
  bool is_member(idx_t position) const override {
    return inner.is_member(ids[static_cast<size_t>(position)]);
  }
  const std::vector<idx_t>& ids;
  const faiss::IDSelector& inner;
};

/// One query runs on its caller's thread: split across OpenMP threads it was 3x slower on a
/// busy 2-core machine (threads spinning for cores other work holds), and concurrent queries
/// (REST threads) parallelise by themselves. OpenMP's thread count is per calling thread, so
/// this changes nothing for other threads.
class SingleThreadedQuery {
 public:
  SingleThreadedQuery() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedQuery() { omp_set_num_threads(previous_); }
  SingleThreadedQuery(const SingleThreadedQuery&) = delete;
  SingleThreadedQuery& operator=(const SingleThreadedQuery&) = delete;

 private:
  int previous_;
};

faiss::IndexIDMap* as_id_map(const std::unique_ptr<Index>& index) {
  return static_cast<faiss::IndexIDMap*>(index.get());
}

faiss::IndexIVFScalarQuantizer* as_ivf(const std::unique_ptr<Index>& index) {
  return static_cast<faiss::IndexIVFScalarQuantizer*>(index.get());
}

/// Adds to the IVF with its lists grown by 1/8 at a time instead of std::vector's doubling:
/// doubling leaves lists ~44% over their size on average (1.1 KB a 768-d vector, against the
/// 1.2 KB budget with the catalogue); 1/8 leaves ~6% for eight copies of each code over its
/// life, cheap next to encoding it.
void add_to_ivf(faiss::IndexIVFScalarQuantizer& ivf, size_t n, const float* vectors,
                const idx_t* ids) {
  std::vector<idx_t> lists(n);
  ivf.quantizer->assign(static_cast<idx_t>(n), vectors, lists.data());
  if (auto* array = dynamic_cast<faiss::ArrayInvertedLists*>(ivf.invlists)) {
    std::vector<size_t> incoming(array->nlist, 0);
    for (idx_t list : lists) {
      if (list >= 0) ++incoming[static_cast<size_t>(list)];
    }
    for (size_t list = 0; list < array->nlist; ++list) {
      auto& list_ids = array->ids[list];
      const size_t needed = list_ids.size() + incoming[list];
      if (needed <= list_ids.capacity()) continue;
      const size_t capacity = std::max(needed, list_ids.size() + list_ids.size() / 8);
      list_ids.reserve(capacity);
      array->codes[list].reserve(capacity * array->code_size);
    }
  }
  ivf.add_core(static_cast<idx_t>(n), vectors, ids, lists.data());
}

std::unique_ptr<Index> new_flat(int dim) {
  auto map = std::make_unique<faiss::IndexIDMap>(new faiss::IndexFlatIP(dim));
  map->own_fields = true;
  return map;
}

// Retrain once the IVF holds this many times its training size: lists then hold 4x the
// vectors they were sized for. Training at 1M x 768 costs tens of seconds of a core, so more
// often would make retraining a steady load on ingest; 8x left scene recall short (0.89 at
// 40x).
constexpr size_t kRetrainGrowth = 4;
// Training points per list when retraining: FAISS asks for at least 39; more would cost memory
// (a float copy of the sample) and k-means time in proportion.
constexpr size_t kRetrainPointsPerList = 40;

/// Lists for n training vectors: ~4 sqrt(n) keeps lists short enough for a fast scan as the
/// index grows 20x past its training size, while each list still gets 39+ training points.
size_t choose_nlist(size_t n) {
  const auto by_sqrt = static_cast<size_t>(4.0 * std::sqrt(static_cast<double>(n)));
  return std::clamp<size_t>(std::min(by_sqrt, n / kMinPointsPerList), 1, 65536);
}

/// Probes for unfiltered searches: one list in 32 (at least 8). On clustered unit vectors at
/// dim 768 (100-1000 clusters, near and far queries) recall@10 against exact search stays at
/// 0.98-0.99 from 1/8 down to 1/64, where 8-bit quantisation rather than probing limits it, and
/// first drops (0.94) at 1/128; 1/32 keeps a 2x margin and halves the scan of 1/16 (1M x 768:
/// p50 47 ms at 1/16).
size_t default_nprobe(size_t nlist) {
  return std::min<size_t>(nlist, std::max<size_t>(8, nlist / 32));
}

}  // namespace

VectorIndex::VectorIndex(int dim, size_t exact_limit)
    : dim_(dim), exact_limit_(exact_limit), flat_(new_flat(dim)) {}

VectorIndex::~VectorIndex() = default;

size_t VectorIndex::size() const {
  return static_cast<size_t>(ivf_ ? ivf_->ntotal : flat_->ntotal);
}

size_t VectorIndex::nlist() const { return ivf_ ? as_ivf(ivf_)->nlist : 0; }
size_t VectorIndex::nprobe() const { return ivf_ ? as_ivf(ivf_)->nprobe : 0; }

void VectorIndex::add(size_t n, const float* vectors, const int64_t* ids) {
  if (n == 0) return;
  static_assert(sizeof(idx_t) == sizeof(int64_t));
  const auto* faiss_ids = reinterpret_cast<const idx_t*>(ids);
  if (ivf_) {
    add_to_ivf(*as_ivf(ivf_), n, vectors, faiss_ids);
  } else {
    flat_->add_with_ids(static_cast<idx_t>(n), vectors, faiss_ids);
  }
}

bool VectorIndex::needs_ivf() const {
  return !ivf_ && size() > exact_limit_ && size() >= kMinPointsPerList;
}

std::function<VectorIndex::TrainedIvf()> VectorIndex::ivf_trainer() const {
  const auto* map = as_id_map(flat_);
  const float* xb = static_cast<const faiss::IndexFlat*>(map->index)->get_xb();
  auto vectors = std::make_shared<std::vector<float>>(xb, xb + size() * static_cast<size_t>(dim_));
  auto ids = std::make_shared<std::vector<idx_t>>(map->id_map);
  const int dim = dim_;
  return [dim, vectors, ids] {
    const size_t n = ids->size();
    TrainedIvf trained = new_ivf(dim, n, n, vectors->data());
    add_to(trained, n, vectors->data(), ids->data());
    return trained;
  };
}

void VectorIndex::switch_to_ivf() { adopt_ivf(ivf_trainer()()); }

bool VectorIndex::needs_retrain() const {
  return ivf_ && size() > kRetrainGrowth * std::max<size_t>(trained_size_, 1);
}

size_t VectorIndex::training_sample_size(size_t size) {
  return std::min(size, choose_nlist(size) * kRetrainPointsPerList);
}

VectorIndex::TrainedIvf VectorIndex::new_ivf(int dim, size_t size, size_t n, const float* sample) {
  const size_t nlist = std::min(choose_nlist(size), std::max<size_t>(1, n / kMinPointsPerList));
  auto ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(
      new faiss::IndexFlatIP(dim), dim, nlist, faiss::ScalarQuantizer::QT_8bit,
      faiss::METRIC_INNER_PRODUCT);
  ivf->own_fields = true;
  ivf->cp.niter = kTrainIterations;
  ivf->train(static_cast<idx_t>(n), sample);
  ivf->nprobe = default_nprobe(nlist);
  return TrainedIvf{std::move(ivf), 0, size};
}

void VectorIndex::add_to(TrainedIvf& trained, size_t n, const float* vectors, const int64_t* ids) {
  if (n == 0) return;
  add_to_ivf(*as_ivf(trained.index), n, vectors, reinterpret_cast<const idx_t*>(ids));
  trained.last_id = ids[n - 1];
}

void VectorIndex::adopt_retrained(TrainedIvf trained, const faiss::IDSelector& gone) {
  trained.index->remove_ids(gone);
  ivf_ = std::move(trained.index);
  trained_size_ = trained.trained_size;
  flat_.reset();
}

void VectorIndex::adopt_ivf(TrainedIvf trained) {
  const auto* map = as_id_map(flat_);
  const std::vector<idx_t>& ids = map->id_map;  // ascending: added so, removals keep order
  // Removed from this index (retention) since the copy.
  struct Gone : faiss::IDSelector {
    explicit Gone(const std::vector<idx_t>& ids) : ids(ids) {}
    bool is_member(idx_t id) const override {
      return !std::binary_search(ids.begin(), ids.end(), id);
    }
    const std::vector<idx_t>& ids;
  };
  trained.index->remove_ids(Gone(ids));
  // Added since the copy.
  const auto first_new =
      static_cast<size_t>(std::upper_bound(ids.begin(), ids.end(), trained.last_id) - ids.begin());
  const float* xb = static_cast<const faiss::IndexFlat*>(map->index)->get_xb();
  add_to(trained, ids.size() - first_new, xb + first_new * static_cast<size_t>(dim_),
         reinterpret_cast<const int64_t*>(ids.data()) + first_new);
  ivf_ = std::move(trained.index);
  trained_size_ = trained.trained_size;
  flat_.reset();
}

size_t VectorIndex::remove(const faiss::IDSelector& selector) {
  return ivf_ ? ivf_->remove_ids(selector) : flat_->remove_ids(selector);
}

std::vector<VectorHit> VectorIndex::search(const float* query, size_t k,
                                           const faiss::IDSelector* selector,
                                           double selectivity) const {
  const size_t wanted = std::min(k, size());
  if (wanted == 0) return {};
  std::vector<float> scores(wanted);
  std::vector<idx_t> labels(wanted, -1);
  SingleThreadedQuery single_threaded;
  if (ivf_) {
    auto* ivf = as_ivf(ivf_);
    faiss::SearchParametersIVF params;
    params.sel = const_cast<faiss::IDSelector*>(selector);
    // A filter admitting a fraction s of the vectors leaves ~nprobe*s lists' worth of
    // candidates; probing nprobe/s lists scans as many candidates as an unfiltered query.
    const double widen = selector ? 1.0 / std::max(selectivity, 1e-9) : 1.0;
    params.nprobe = std::min<size_t>(
        ivf->nlist, static_cast<size_t>(std::ceil(static_cast<double>(ivf->nprobe) * widen)));
    ivf->search(1, query, static_cast<idx_t>(wanted), scores.data(), labels.data(), &params);
  } else {
    auto* map = as_id_map(flat_);
    if (selector) {
      PositionSelector positions(map->id_map, *selector);
      faiss::SearchParameters params;
      params.sel = &positions;
      map->index->search(1, query, static_cast<idx_t>(wanted), scores.data(), labels.data(),
                         &params);
      for (idx_t& label : labels) {
        if (label >= 0) label = map->id_map[static_cast<size_t>(label)];
      }
    } else {
      map->search(1, query, static_cast<idx_t>(wanted), scores.data(), labels.data());
    }
  }
  std::vector<VectorHit> hits;
  for (size_t i = 0; i < wanted; ++i) {
    if (labels[i] >= 0) hits.push_back({labels[i], scores[i]});
  }
  return hits;
}

size_t VectorIndex::memory_bytes() const {
  if (!ivf_) {
    const auto* map = as_id_map(flat_);
    return size() * static_cast<size_t>(dim_) * sizeof(float) +
           map->id_map.capacity() * sizeof(idx_t);
  }
  const auto* ivf = as_ivf(ivf_);
  size_t bytes = ivf->nlist * static_cast<size_t>(dim_) * sizeof(float);  // centroids
  if (const auto* lists = dynamic_cast<const faiss::ArrayInvertedLists*>(ivf->invlists)) {
    for (size_t i = 0; i < lists->nlist; ++i) {
      bytes += lists->codes[i].capacity() + lists->ids[i].capacity() * sizeof(idx_t);
    }
  }
  return bytes;
}

void VectorIndex::save(const std::filesystem::path& file, int64_t last_id) const {
  const std::filesystem::path tmp = file.string() + ".tmp";
  FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out)
    throw IndexError("cannot write the vector file " + tmp.string() + ": " + std::strerror(errno));
  bool ok = std::fwrite(kMagic, 1, sizeof kMagic, out) == sizeof kMagic &&
            std::fwrite(&last_id, sizeof last_id, 1, out) == 1;
  try {
    if (ok) faiss::write_index(ivf_ ? ivf_.get() : flat_.get(), out);
  } catch (const std::exception&) {
    ok = false;
  }
  ok = std::fflush(out) == 0 && ok;
  ok = ::fsync(fileno(out)) == 0 && ok;
  ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    std::filesystem::remove(tmp);
    throw IndexError("cannot write the vector file " + tmp.string() + " (disk full?)");
  }
  std::filesystem::rename(tmp, file);
}

std::optional<VectorIndex::Loaded> VectorIndex::load(const std::filesystem::path& file, int dim,
                                                     size_t exact_limit, std::string& why) {
  FILE* in = std::fopen(file.c_str(), "rb");
  if (!in) {
    why = "missing";
    return std::nullopt;
  }
  char magic[sizeof kMagic] = {};
  int64_t last_id = 0;
  std::unique_ptr<Index> index;
  if (std::fread(magic, 1, sizeof magic, in) != sizeof magic ||
      std::memcmp(magic, kMagic, sizeof kMagic) != 0 ||
      std::fread(&last_id, sizeof last_id, 1, in) != 1) {
    why = "not a vector file of this version";
  } else {
    try {
      index.reset(faiss::read_index(in));
    } catch (const std::exception&) {
      why = "unreadable";
    }
  }
  std::fclose(in);
  if (!index) return std::nullopt;
  if (index->d != dim) {
    why = "of dim " + std::to_string(index->d) + ", the database's is " + std::to_string(dim);
    return std::nullopt;
  }
  auto loaded = std::make_unique<VectorIndex>(dim, exact_limit);
  if (auto* ivf = dynamic_cast<faiss::IndexIVFScalarQuantizer*>(index.get())) {
    // The file keeps no training size; choose_nlist() inverted gives the least it can have
    // been (both of its bounds held).
    const double quarter = static_cast<double>(ivf->nlist) / 4.0;
    loaded->trained_size_ =
        std::max(static_cast<size_t>(quarter * quarter), ivf->nlist * kMinPointsPerList);
    loaded->ivf_ = std::move(index);
    loaded->flat_.reset();
  } else if (auto* map = dynamic_cast<faiss::IndexIDMap*>(index.get());
             map && dynamic_cast<faiss::IndexFlatIP*>(map->index)) {
    loaded->flat_ = std::move(index);
  } else {
    why = "of an unknown structure";
    return std::nullopt;
  }
  return Loaded{std::move(loaded), last_id};
}

}  // namespace ivs::search
