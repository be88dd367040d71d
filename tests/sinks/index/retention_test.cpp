// SPDX-License-Identifier: Apache-2.0
// Retention by age (on an injected clock: no sleeping) and by disk size, on real files, while
// ingest goes on.
#include <gtest/gtest.h>

#include <atomic>

#include "sinks/index/search_index.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/index/eventually.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

using test::ClusteredVectors;
using test::eventually;
using test::make_frame;
using test::test_epoch;

SearchFilter between_seconds(double from, double to) {
  SearchFilter filter;
  filter.from = test_epoch() + std::chrono::milliseconds(static_cast<int64_t>(from * 1000));
  filter.to = test_epoch() + std::chrono::milliseconds(static_cast<int64_t>(to * 1000));
  return filter;
}

TEST(RetentionTest, deletes_by_age_and_keeps_later_frames) {
  const auto dir = ivs::test::scratch_dir("retention_age");
  ClusteredVectors gen(32, 4, 0.1f, 21);
  std::atomic<int64_t> now_seconds{0};  // seconds after test_epoch()
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 1.0;
  options.max_disk_gb = 0;
  options.now = [&] { return test_epoch() + std::chrono::seconds(now_seconds.load()); };
  auto index = SearchIndex::open(options);
  for (int i = 0; i < 10000; ++i) {  // one frame a second for 10000 s, more than the chunk
    index->add(make_frame("cam", i, i, test_epoch(), gen.next()));
    if (i % 2000 == 1999) index->flush();
  }
  index->flush();
  ASSERT_EQ(index->stats().frames, 10000u);
  now_seconds = 3600 + 6000;  // everything before second 6000 is now older than an hour
  ASSERT_TRUE(eventually([&] { return index->stats().frames == 4000; })) << index->stats().frames;
  EXPECT_EQ(index->stats().frames_deleted, 6000u);
  EXPECT_TRUE(index->search(gen.next(), 10, between_seconds(0, 5999.5)).empty());
  EXPECT_FALSE(index->search(gen.next(), 10, between_seconds(6000, 6000)).empty());
  // New frames keep coming and are kept.
  for (int i = 10000; i < 10100; ++i) {
    index->add(make_frame("cam", i, i, test_epoch(), gen.next()));
  }
  index->flush();
  EXPECT_EQ(index->stats().frames, 4100u);
  // The deletes are in the database: a reopened index agrees.
  index.reset();
  options.now = [] { return test_epoch() + std::chrono::seconds(3600 + 6000); };
  index = SearchIndex::open(options);
  EXPECT_EQ(index->stats().frames, 4100u);
}

TEST(RetentionTest, deletes_oldest_by_disk_size_and_keeps_the_newest) {
  const auto dir = ivs::test::scratch_dir("retention_size");
  ClusteredVectors gen(64, 4, 0.1f, 22);
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0;
  options.max_disk_gb = 0.008;  // 8 MB; the frames below take about 30
  options.queue_capacity = 100000;
  auto index = SearchIndex::open(options);
  std::vector<float> newest;
  for (int i = 0; i < 12000; ++i) {
    auto frame = make_frame("cam", i, i, test_epoch(), gen.next());
    frame.thumbnail_jpeg.assign(2000, static_cast<uint8_t>(i));
    if (i == 11999) newest = frame.embedding;
    ASSERT_TRUE(index->add(std::move(frame)));
  }
  index->flush();
  ASSERT_TRUE(eventually([&] { return index->stats().disk_bytes <= 8'500'000; }))
      << index->stats().disk_bytes << " bytes, " << index->stats().frames << " frames, "
      << index->stats().frames_deleted << " deleted";
  const auto stats = index->stats();
  EXPECT_GT(stats.frames_deleted, 0u);
  EXPECT_EQ(stats.frames + stats.frames_deleted, 12000u);
  // What is left is the newest frames, contiguous up to the last one.
  const auto best = index->search(newest, 1);
  ASSERT_EQ(best.size(), 1u);
  EXPECT_EQ(best[0].best_frame_id, 11999);
  const double first_kept = 12000.0 - static_cast<double>(stats.frames);
  EXPECT_TRUE(index->search(gen.next(), 1, between_seconds(0, first_kept - 0.5)).empty());
  EXPECT_EQ(index->thumbnail(best[0].best_id)->at(0), static_cast<uint8_t>(11999));
}

}  // namespace
}  // namespace ivs::search
