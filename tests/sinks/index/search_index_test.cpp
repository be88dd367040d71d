// SPDX-License-Identifier: Apache-2.0
// The index end to end on real files: SQLite database, vector file, lock file, writer thread.
#include "sinks/index/search_index.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/index/eventually.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

using test::ClusteredVectors;
using test::make_frame;
using test::test_epoch;

SearchIndexOptions options_for(const std::filesystem::path& dir) {
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0;
  options.max_disk_gb = 0;
  options.log = [](const std::string&) {};
  return options;
}

TEST(SearchIndexTest, round_trip_on_real_files) {
  const auto dir = ivs::test::scratch_dir("search_index_round_trip");
  ClusteredVectors gen(64, 8, 0.05f, 11);
  {
    auto index = SearchIndex::open(options_for(dir));
    for (int i = 0; i < 100; ++i) {
      // Scene 3 from second 50 to 59 of cam01; elsewhere other scenes.
      const int scene = (i >= 50 && i < 60) ? 3 : i % 3;
      ASSERT_TRUE(index->add(make_frame("cam01", i, i, test_epoch(), gen.near(scene), i % 2)));
    }
    index->flush();
    const auto stats = index->stats();
    EXPECT_EQ(stats.frames, 100u);
    EXPECT_EQ(stats.frames_indexed, 100u);
    EXPECT_EQ(stats.dim, 64);
    EXPECT_EQ(stats.mode, "c");
    EXPECT_EQ(stats.structure, "exact");
    EXPECT_GT(stats.disk_bytes, 0u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "index.sqlite"));
  EXPECT_TRUE(std::filesystem::exists(dir / "vectors.faiss"));
  auto options = options_for(dir);
  options.read_only = true;
  auto reader = SearchIndex::open(options);
  const auto moments = reader->search(gen.centre(3), 3);
  ASSERT_FALSE(moments.empty());
  EXPECT_EQ(moments[0].stream, "cam01");
  EXPECT_DOUBLE_EQ(moments[0].start_seconds, 50.0);
  EXPECT_DOUBLE_EQ(moments[0].end_seconds, 59.0);
  EXPECT_EQ(moments[0].frames, 10);
  EXPECT_GT(moments[0].score, 0.5);
  EXPECT_EQ(moments[0].start_wall, test_epoch() + std::chrono::seconds(50));
  const auto best = moments[0].best_id;
  EXPECT_EQ(reader->thumbnail(best).has_value(), moments[0].has_thumbnail);
  const auto latest = reader->latest_thumbnail_id("cam01");
  ASSERT_TRUE(latest);
  const auto jpeg = reader->thumbnail(*latest);
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(jpeg->at(2), 99);  // frame 99 is the newest with a thumbnail
  EXPECT_FALSE(reader->latest_thumbnail_id("nope"));
  EXPECT_FALSE(reader->thumbnail(123456));
  EXPECT_THROW(reader->add(make_frame("cam01", 1, 1, test_epoch(), gen.next())), IndexError);
}

// Nobody calls flush() in a pipeline: the writer commits on its own every commit_interval.
TEST(SearchIndexTest, frames_become_searchable_without_flush) {
  const auto dir = ivs::test::scratch_dir("search_index_freshness");
  ClusteredVectors gen(32, 4, 0.1f, 16);
  auto index = SearchIndex::open(options_for(dir));
  const auto embedding = gen.next();
  ASSERT_TRUE(index->add(make_frame("cam", 7, 0.5, test_epoch(), embedding, true)));
  ASSERT_TRUE(test::eventually([&] { return !index->search(embedding, 1).empty(); }));
  const Moment moment = index->search(embedding, 1).at(0);
  EXPECT_EQ(moment.best_frame_id, 7);
  EXPECT_NEAR(moment.score, 1.0, 1e-3);  // float16 storage costs at most ~1e-3 of cosine
  EXPECT_EQ(index->latest_thumbnail_id("cam"), moment.best_id);
}

// A narrow stream + time filter returns its best frames even when other streams match the query
// far better: the filter chooses the candidates before ranking.
TEST(SearchIndexTest, filters_restrict_candidates_before_ranking) {
  const auto dir = ivs::test::scratch_dir("search_index_filters");
  ClusteredVectors gen(32, 4, 0.05f, 12);
  auto index = SearchIndex::open(options_for(dir));
  for (int i = 0; i < 3000; ++i) {
    index->add(make_frame("busy", i, i, test_epoch(), gen.near(0)));  // matches the query well
  }
  for (int i = 0; i < 100; ++i) {
    index->add(make_frame("quiet", i, i * 10.0, test_epoch(), gen.near(i % 2 ? 1 : 2)));
  }
  index->flush();
  SearchFilter filter;
  filter.streams = {"quiet"};
  filter.from = test_epoch() + std::chrono::seconds(200);
  filter.to = test_epoch() + std::chrono::seconds(400);
  const auto moments = index->search(gen.centre(0), 5, filter);
  ASSERT_FALSE(moments.empty());
  for (const Moment& m : moments) {
    EXPECT_EQ(m.stream, "quiet");
    EXPECT_GE(m.start_seconds, 200.0);
    EXPECT_LE(m.end_seconds, 400.0);
  }
  EXPECT_EQ(index->search(gen.centre(0), 1)[0].stream, "busy");
  filter.streams = {"unknown"};
  EXPECT_TRUE(index->search(gen.centre(0), 5, filter).empty());
}

TEST(SearchIndexTest, exact_to_ivf_switch_keeps_results) {
  const auto dir = ivs::test::scratch_dir("search_index_switch");
  ClusteredVectors gen(32, 16, 0.05f, 13);
  auto options = options_for(dir);
  options.exact_limit = 1000;
  options.merge_gap = std::chrono::milliseconds(0);
  auto index = SearchIndex::open(options);
  std::vector<std::vector<float>> kept;
  for (int i = 0; i < 4000; ++i) {
    auto v = gen.next();
    if (i % 400 == 0) kept.push_back(v);
    index->add(make_frame("s", i, i, test_epoch(), v));
    if (i % 1000 == 999) index->flush();  // the queue holds 4096
  }
  index->flush();
  // The IVF trains in the background; searches stay exact (and right) meanwhile.
  ASSERT_TRUE(test::eventually([&] { return index->stats().structure == "ivf-sq8"; }));
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto moments = index->search(kept[i], 1);
    ASSERT_EQ(moments.size(), 1u);
    EXPECT_EQ(moments[0].best_frame_id, static_cast<int64_t>(i * 400));
  }
}

TEST(SearchIndexTest, mismatching_dim_or_mode_is_refused_naming_both) {
  const auto dir = ivs::test::scratch_dir("search_index_dim");
  ClusteredVectors gen(16, 2, 0.1f, 14);
  auto index = SearchIndex::open(options_for(dir));
  index->add(make_frame("s", 0, 0, test_epoch(), gen.next()));
  try {
    index->add(make_frame("s", 1, 1, test_epoch(), std::vector<float>(8, 0.1f)));
    FAIL() << "a frame of another dim was accepted";
  } catch (const IndexError& error) {
    EXPECT_NE(std::string(error.what()).find("dim 16"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("dim 8"), std::string::npos) << error.what();
  }
  auto frame = make_frame("s", 1, 1, test_epoch(), gen.next());
  frame.mode = "g";
  EXPECT_THROW(index->add(frame), IndexError);
  index->flush();
  EXPECT_THROW(index->search(std::vector<float>(8, 0.1f), 1), IndexError);
  index.reset();
  // The dim and mode are in the database: a reopened index still refuses.
  index = SearchIndex::open(options_for(dir));
  EXPECT_THROW(index->add(frame), IndexError);
}

TEST(SearchIndexTest, second_writer_is_refused_naming_the_directory) {
  const auto dir = ivs::test::scratch_dir("search_index_second_writer");
  auto first = SearchIndex::open(options_for(dir));
  try {
    SearchIndex::open(options_for(dir));
    FAIL() << "a second writer opened";
  } catch (const IndexError& error) {
    EXPECT_NE(std::string(error.what()).find(dir.string()), std::string::npos) << error.what();
  }
  auto options = options_for(dir);
  options.read_only = true;
  EXPECT_NO_THROW(SearchIndex::open(options));  // readers are always welcome
}

TEST(SearchIndexTest, shared_index_is_one_writer_per_directory) {
  const auto dir = ivs::test::scratch_dir("search_index_shared");
  auto a = open_shared_index(options_for(dir));
  auto b = open_shared_index(options_for(dir / "." / ""));
  EXPECT_EQ(a.get(), b.get());
  a.reset();
  b.reset();
  auto c = open_shared_index(options_for(dir));  // closed when the last holder let go
  EXPECT_NE(c, nullptr);
}

/// Opening fails with an IndexError naming the database and the fix.
void expect_unusable_database(const SearchIndexOptions& options) {
  try {
    SearchIndex::open(options);
    ADD_FAILURE() << "an unusable database opened";
  } catch (const IndexError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find((options.dir / "index.sqlite").string()), std::string::npos) << message;
    EXPECT_NE(message.find("move it away"), std::string::npos) << message;
  }
}

TEST(SearchIndexTest, corrupt_database_is_an_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("search_index_corrupt_db");
  std::ofstream(dir / "index.sqlite") << std::string(8192, 'x');
  for (bool read_only : {false, true}) {
    auto options = options_for(dir);
    options.read_only = read_only;
    expect_unusable_database(options);
  }
}

// A real database damaged past its header (a disk error, a half-copied file) is found when
// the rows are loaded, and reported the same way.
TEST(SearchIndexTest, truncated_database_is_an_error_naming_it) {
  const auto dir = ivs::test::scratch_dir("search_index_truncated_db");
  ClusteredVectors gen(64, 4, 0.1f, 15);
  {
    auto index = SearchIndex::open(options_for(dir));
    for (int i = 0; i < 3000; ++i) index->add(make_frame("s", i, i, test_epoch(), gen.next()));
  }
  const auto file = dir / "index.sqlite";
  auto bytes = ivs::test::read_bytes(file);
  ASSERT_GT(bytes.size(), 100000u);
  bytes.resize(bytes.size() / 2);
  ivs::test::write_bytes(file, bytes);
  expect_unusable_database(options_for(dir));
}

TEST(SearchIndexTest, reader_of_a_missing_index_is_told_where) {
  const auto dir = ivs::test::scratch_dir("search_index_missing");
  auto options = options_for(dir / "nothing");
  options.read_only = true;
  EXPECT_THROW(SearchIndex::open(options), IndexError);
}

}  // namespace
}  // namespace ivs::search
