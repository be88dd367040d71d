// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
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

faiss::IndexIDMap* as_id_map(const std::unique_ptr<Index>& index) {
  return static_cast<faiss::IndexIDMap*>(index.get());
}

faiss::IndexIVFScalarQuantizer* as_ivf(const std::unique_ptr<Index>& index) {
  return static_cast<faiss::IndexIVFScalarQuantizer*>(index.get());
}

std::unique_ptr<Index> new_flat(int dim) {
  auto map = std::make_unique<faiss::IndexIDMap>(new faiss::IndexFlatIP(dim));
  map->own_fields = true;
  return map;
}

/// Lists for n training vectors: ~4 sqrt(n) keeps lists short enough for a fast scan as the
/// index grows 20x past its training size, while each list still gets 39+ training points.
size_t choose_nlist(size_t n) {
  const auto by_sqrt = static_cast<size_t>(4.0 * std::sqrt(static_cast<double>(n)));
  return std::clamp<size_t>(std::min(by_sqrt, n / kMinPointsPerList), 1, 65536);
}

/// Probes for unfiltered searches: one list in 16, measured for recall@10 >= 0.95 on clustered
/// unit vectors (tests/sinks/index/vector_index_test.cpp).
size_t default_nprobe(size_t nlist) { return std::max<size_t>(1, nlist / 16); }

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
    ivf_->add_with_ids(static_cast<idx_t>(n), vectors, faiss_ids);
    return;
  }
  flat_->add_with_ids(static_cast<idx_t>(n), vectors, faiss_ids);
  if (size() > exact_limit_ && size() >= kMinPointsPerList) switch_to_ivf();
}

void VectorIndex::switch_to_ivf() {
  auto* map = as_id_map(flat_);
  const auto* flat = static_cast<const faiss::IndexFlat*>(map->index);
  const size_t n = static_cast<size_t>(flat->ntotal);
  const float* vectors = flat->get_xb();
  const size_t nlist = choose_nlist(n);
  auto ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(
      new faiss::IndexFlatIP(dim_), dim_, nlist, faiss::ScalarQuantizer::QT_8bit,
      faiss::METRIC_INNER_PRODUCT);
  ivf->own_fields = true;
  ivf->cp.niter = kTrainIterations;
  ivf->verbose = false;
  ivf->train(static_cast<idx_t>(n), vectors);
  ivf->nprobe = default_nprobe(nlist);
  ivf->add_with_ids(static_cast<idx_t>(n), vectors, map->id_map.data());
  ivf_ = std::move(ivf);
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
  if (dynamic_cast<faiss::IndexIVFScalarQuantizer*>(index.get())) {
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
