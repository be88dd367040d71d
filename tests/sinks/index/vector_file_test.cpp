// SPDX-License-Identifier: Apache-2.0
// <dir>/vectors.faiss: caught up from SQLite when stale, rebuilt (with one log line) when
// missing or corrupt.
#include <gtest/gtest.h>

#include <fstream>

#include "sinks/index/search_index.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/index/eventually.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

using test::ClusteredVectors;
using test::make_frame;
using test::test_epoch;

struct Fixture {
  explicit Fixture(std::filesystem::path dir) : dir(std::move(dir)) {}
  std::filesystem::path dir;
  std::vector<std::vector<float>> embeddings;  // by frame id
  std::vector<std::string> logs;

  SearchIndexOptions options(size_t exact_limit) {
    SearchIndexOptions options;
    options.dir = dir;
    options.retention_hours = 0;
    options.max_disk_gb = 0;
    options.exact_limit = exact_limit;
    options.log = [this](const std::string& message) { logs.push_back(message); };
    return options;
  }

  /// Indexes frames [from, to) and closes (which saves the vector file).
  void index_frames(int from, int to, size_t exact_limit, ClusteredVectors& gen) {
    auto index = SearchIndex::open(options(exact_limit));
    for (int i = from; i < to; ++i) {
      embeddings.push_back(gen.next());
      index->add(make_frame("cam", i, i, test_epoch(), embeddings.back()));
      if (i % 1000 == 999) index->flush();
    }
  }

  /// Every `step`-th frame is found first by its own embedding.
  void expect_all_found(SearchIndex& index, int step) {
    for (size_t i = 0; i < embeddings.size(); i += static_cast<size_t>(step)) {
      const auto moments = index.search(embeddings[i], 1);
      ASSERT_EQ(moments.size(), 1u);
      EXPECT_EQ(moments[0].best_frame_id, static_cast<int64_t>(i));
    }
  }
};

class VectorFileTest : public ::testing::TestWithParam<size_t> {};

TEST_P(VectorFileTest, missing_or_corrupt_file_is_rebuilt_with_a_log_line) {
  Fixture f{ivs::test::scratch_dir("vector_file_rebuild_" + std::to_string(GetParam()))};
  ClusteredVectors gen(32, 20, 0.05f, 41);
  f.index_frames(0, 3000, GetParam(), gen);
  const auto file = f.dir / "vectors.faiss";
  ASSERT_TRUE(std::filesystem::exists(file));
  for (const std::string damage : {"missing", "corrupt", "truncated"}) {
    if (damage == "missing") std::filesystem::remove(file);
    if (damage == "corrupt") std::ofstream(file) << "not a vector file";
    if (damage == "truncated") {
      auto bytes = ivs::test::read_bytes(file);
      bytes.resize(bytes.size() / 2);
      ivs::test::write_bytes(file, bytes);
    }
    f.logs.clear();
    auto index = SearchIndex::open(f.options(GetParam()));
    ASSERT_EQ(f.logs.size(), 1u) << damage;
    EXPECT_NE(f.logs[0].find(file.string()), std::string::npos) << f.logs[0];
    EXPECT_NE(f.logs[0].find("3000 frames"), std::string::npos) << f.logs[0];
    EXPECT_EQ(index->stats().structure, GetParam() < 3000 ? "ivf-sq8" : "exact");
    f.expect_all_found(*index, 101);
  }
}

// A vector file older than the database (a crash between saves) is caught up, not rebuilt:
// rows added since are added, rows deleted since are removed.
TEST_P(VectorFileTest, stale_file_is_caught_up) {
  Fixture f{ivs::test::scratch_dir("vector_file_stale_" + std::to_string(GetParam()))};
  ClusteredVectors gen(32, 20, 0.05f, 42);
  f.index_frames(0, 3000, GetParam(), gen);
  const auto file = f.dir / "vectors.faiss";
  const auto stale = ivs::test::read_bytes(file);
  f.index_frames(3000, 4000, GetParam(), gen);
  {  // an hour later, age retention deletes the first 500 frames
    auto options = f.options(GetParam());
    options.retention_hours = 1.0;
    options.now = [] { return test_epoch() + std::chrono::seconds(3600 + 500); };
    auto index = SearchIndex::open(options);
    ASSERT_TRUE(test::eventually([&] { return index->stats().frames == 3500; }));
  }
  ivs::test::write_bytes(file, stale);
  f.logs.clear();
  auto index = SearchIndex::open(f.options(GetParam()));
  EXPECT_TRUE(f.logs.empty()) << f.logs[0];
  EXPECT_EQ(index->stats().frames, 3500u);
  f.embeddings.erase(f.embeddings.begin(), f.embeddings.begin() + 500);
  for (size_t i = 0; i < f.embeddings.size(); i += 97) {
    const auto moments = index->search(f.embeddings[i], 1);
    ASSERT_EQ(moments.size(), 1u);
    EXPECT_EQ(moments[0].best_frame_id, static_cast<int64_t>(i + 500));
  }
}

// Exact throughout, and a switch to the IVF on the way.
INSTANTIATE_TEST_SUITE_P(Structures, VectorFileTest, ::testing::Values(100000, 1000));

}  // namespace
}  // namespace ivs::search
