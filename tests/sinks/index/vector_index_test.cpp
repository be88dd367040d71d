// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/vector_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>

#include "tests/common/test_paths.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

using test::ClusteredVectors;

struct EvenIds : faiss::IDSelector {
  bool is_member(idx_t id) const override { return id % 2 == 0; }
};

struct Data {
  std::vector<float> vectors;  // [n, dim]
  std::vector<int64_t> ids;
};

Data make_data(ClusteredVectors& gen, size_t n, int64_t first_id) {
  Data data;
  for (size_t i = 0; i < n; ++i) {
    const auto v = gen.next();
    data.vectors.insert(data.vectors.end(), v.begin(), v.end());
    data.ids.push_back(first_id + static_cast<int64_t>(i));
  }
  return data;
}

/// Ground truth: the k best ids by brute force among those `admit` accepts.
std::vector<int64_t> brute_force(const Data& data, int dim, const std::vector<float>& query,
                                 size_t k, const faiss::IDSelector* admit) {
  std::vector<std::pair<float, int64_t>> scored;
  for (size_t i = 0; i < data.ids.size(); ++i) {
    if (admit && !admit->is_member(data.ids[i])) continue;
    const float* v = &data.vectors[i * static_cast<size_t>(dim)];
    scored.emplace_back(std::inner_product(v, v + dim, query.begin(), 0.0f), data.ids[i]);
  }
  const size_t top = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(top), scored.end(),
                    std::greater<>());
  std::vector<int64_t> ids;
  for (size_t i = 0; i < top; ++i) ids.push_back(scored[i].second);
  return ids;
}

/// Adds `data` `batch` vectors at a time, moving to the IVF when it is time, as a load does.
void add_in_batches(VectorIndex& index, const Data& data, size_t batch) {
  const auto dim = static_cast<size_t>(index.dim());
  for (size_t start = 0; start < data.ids.size(); start += batch) {
    index.add(batch, &data.vectors[start * dim], &data.ids[start]);
    if (index.needs_ivf()) index.switch_to_ivf();
  }
}

double recall_at_10(const VectorIndex& index, const Data& data, ClusteredVectors& gen,
                    const faiss::IDSelector* admit, double selectivity) {
  size_t found = 0, wanted = 0;
  for (int q = 0; q < 100; ++q) {
    const auto query = gen.next();
    const auto truth = brute_force(data, gen.dim(), query, 10, admit);
    const std::set<int64_t> expected(truth.begin(), truth.end());
    for (const VectorHit& hit : index.search(query.data(), 10, admit, selectivity)) {
      found += expected.count(hit.id);
    }
    wanted += truth.size();
  }
  return static_cast<double>(found) / static_cast<double>(wanted);
}

// FAISS 1.7.3 honours SearchParameters::sel in IndexFlat::search and IndexIVF::search (not in
// IndexIDMap::search, which VectorIndex therefore bypasses); this proves it for both structures.
TEST(VectorIndexTest, search_honours_the_selector_in_both_structures) {
  for (const size_t limit : {size_t{1000000}, size_t{1000}}) {
    ClusteredVectors gen(32, 20, 0.1f, 1);
    const Data data = make_data(gen, 4000, 100);
    VectorIndex index(32, limit);
    add_in_batches(index, data, data.ids.size());
    EXPECT_EQ(index.structure(), limit > 4000 ? "exact" : "ivf-sq8");
    EvenIds even;
    for (int q = 0; q < 10; ++q) {
      const auto query = gen.next();
      std::vector<int64_t> ids;
      for (const auto& hit : index.search(query.data(), 10, &even, 0.5)) ids.push_back(hit.id);
      ASSERT_EQ(ids.size(), 10u);
      for (int64_t id : ids) EXPECT_EQ(id % 2, 0) << id;
      if (!index.approximate()) {
        EXPECT_EQ(ids, brute_force(data, 32, query, 10, &even));
      }
    }
  }
}

TEST(VectorIndexTest, switch_from_exact_to_ivf_keeps_every_vector_findable) {
  ClusteredVectors gen(64, 30, 0.05f, 3);
  const Data data = make_data(gen, 3000, 7);
  VectorIndex index(64, 1000);
  for (size_t start = 0; start < data.ids.size(); start += 500) {
    index.add(500, &data.vectors[start * 64], &data.ids[start]);
    EXPECT_EQ(index.needs_ivf(), start + 500 > 1000 && !index.approximate()) << start;
    if (index.needs_ivf()) index.switch_to_ivf();
  }
  EXPECT_EQ(index.size(), 3000u);
  for (size_t i = 0; i < data.ids.size(); i += 97) {
    const auto hits = index.search(&data.vectors[i * 64], 1, nullptr, 1.0);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, data.ids[i]);
  }
}

// The writer trains on a copy while the exact index goes on growing and losing old vectors;
// the adopted IVF holds exactly what the exact index holds by then.
TEST(VectorIndexTest, ivf_trained_in_the_background_catches_up) {
  ClusteredVectors gen(32, 20, 0.05f, 8);
  const Data data = make_data(gen, 3000, 1);
  VectorIndex index(32, 1000);
  index.add(2000, data.vectors.data(), data.ids.data());
  ASSERT_TRUE(index.needs_ivf());
  auto train = index.ivf_trainer();
  index.add(1000, &data.vectors[2000 * 32], &data.ids[2000]);  // ingest goes on
  index.remove(faiss::IDSelectorRange(0, 301));                // and retention
  VectorIndex::TrainedIvf trained = train();
  EXPECT_EQ(trained.last_id, 2000);
  index.adopt_ivf(std::move(trained));
  EXPECT_EQ(index.structure(), "ivf-sq8");
  EXPECT_EQ(index.size(), 2700u);
  for (size_t i = 0; i < data.ids.size(); i += 37) {
    const auto hits = index.search(&data.vectors[i * 32], 1, nullptr, 1.0);
    ASSERT_EQ(hits.size(), 1u);
    if (data.ids[i] > 300) {
      EXPECT_EQ(hits[0].id, data.ids[i]);
    } else {
      EXPECT_GT(hits[0].id, 300);
    }
  }
}

// Recall@10 of the IVF against exact search, at dim 768 (the real model's), unfiltered and with
// a filter admitting 1% of the vectors (nprobe widens with the filter's selectivity); and the
// resident memory per vector.
TEST(VectorIndexTest, ivf_recall_and_memory_at_dim_768) {
  ClusteredVectors gen(768, 200, 0.03f, 4);
  const Data data = make_data(gen, 20000, 1);
  VectorIndex index(768, 10000);
  add_in_batches(index, data, 5000);
  ASSERT_EQ(index.structure(), "ivf-sq8");
  const double recall = recall_at_10(index, data, gen, nullptr, 1.0);
  std::cout << "recall@10 " << recall << " (nlist " << index.nlist() << ", nprobe "
            << index.nprobe() << ")\n";
  EXPECT_GE(recall, 0.95);
  const faiss::IDSelectorRange narrow(5000, 5200);
  const double filtered = recall_at_10(index, data, gen, &narrow, 200.0 / 20000.0);
  std::cout << "recall@10 with a 1% filter " << filtered << "\n";
  EXPECT_GE(filtered, 0.95);
  const double per_vector = static_cast<double>(index.memory_bytes()) / 20000.0;
  std::cout << "memory per vector " << per_vector << " B\n";
  EXPECT_LE(per_vector, 1200.0);
}

TEST(VectorIndexTest, remove_drops_the_admitted_ids) {
  ClusteredVectors gen(16, 5, 0.1f, 5);
  for (size_t limit : {size_t{100000}, size_t{200}}) {
    const Data data = make_data(gen, 1000, 1);
    VectorIndex index(16, limit);
    add_in_batches(index, data, data.ids.size());
    EXPECT_EQ(index.remove(faiss::IDSelectorRange(0, 401)), 400u);
    EXPECT_EQ(index.size(), 600u);
    for (const auto& hit : index.search(data.vectors.data(), 50, nullptr, 1.0)) {
      EXPECT_GT(hit.id, 400);
    }
  }
}

TEST(VectorIndexTest, save_and_load_round_trip_both_structures) {
  const auto dir = ivs::test::scratch_dir("vector_index_save");
  ClusteredVectors gen(32, 10, 0.1f, 6);
  for (size_t limit : {size_t{100000}, size_t{500}}) {
    const Data data = make_data(gen, 2000, 10);
    VectorIndex index(32, limit);
    add_in_batches(index, data, data.ids.size());
    index.save(dir / "v.faiss", 2009);
    std::string why;
    auto loaded = VectorIndex::load(dir / "v.faiss", 32, limit, why);
    ASSERT_TRUE(loaded) << why;
    EXPECT_EQ(loaded->last_id, 2009);
    EXPECT_EQ(loaded->index->structure(), index.structure());
    EXPECT_EQ(loaded->index->size(), 2000u);
    const auto query = gen.next();
    const auto a = index.search(query.data(), 5, nullptr, 1.0);
    const auto b = loaded->index->search(query.data(), 5, nullptr, 1.0);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_FALSE(VectorIndex::load(dir / "v.faiss", 16, limit, why));
    EXPECT_NE(why.find("dim 32"), std::string::npos) << why;
  }
}

TEST(VectorIndexTest, missing_or_garbage_file_is_reported_not_thrown) {
  const auto dir = ivs::test::scratch_dir("vector_index_garbage");
  std::string why;
  EXPECT_FALSE(VectorIndex::load(dir / "none.faiss", 8, 10, why));
  EXPECT_EQ(why, "missing");
  std::ofstream(dir / "bad.faiss") << "IVSVEC01xxxxxxxxgarbage";
  EXPECT_FALSE(VectorIndex::load(dir / "bad.faiss", 8, 10, why));
  EXPECT_EQ(why, "unreadable");
}

}  // namespace
}  // namespace ivs::search
