// SPDX-License-Identifier: Apache-2.0
// Many writers (one per stream, as the elements of a service are) and readers at once, and a
// read-only index opened by another "process" while the writer writes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sinks/index/search_index.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/index/eventually.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

using test::ClusteredVectors;
using test::make_frame;
using test::test_epoch;

constexpr int kWriters = 4;
constexpr int kFramesPerWriter = 3000;

TEST(ConcurrencyTest, writer_threads_and_readers_at_once) {
  const auto dir = ivs::test::scratch_dir("concurrency");
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0;
  options.max_disk_gb = 0;
  options.exact_limit = 5000;  // the IVF switch happens under load
  options.queue_capacity = 1000;
  options.commit_interval = std::chrono::milliseconds(20);
  options.save_interval = std::chrono::seconds(1);  // background saves while rows arrive
  auto index = open_shared_index(options);
  std::atomic<int> writers_left{kWriters};
  std::atomic<uint64_t> accepted{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      // Each writer opens the shared index itself, as each element does.
      auto shared = open_shared_index(options);
      ClusteredVectors gen(48, 10, 0.05f, 50 + w);
      for (int i = 0; i < kFramesPerWriter; ++i) {
        if (shared->add(make_frame("cam" + std::to_string(w), i, i, test_epoch(), gen.next()))) {
          ++accepted;
        }
        if (i % 500 == 499) shared->flush();  // bounds drops without sleeping
      }
      --writers_left;
    });
  }
  std::atomic<int> searches{0};
  std::atomic<int> bad_results{0};
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      ClusteredVectors gen(48, 10, 0.05f, 60 + r);
      while (writers_left > 0) {
        SearchFilter filter;
        if (r == 1) filter.streams = {"cam1"};
        for (const Moment& m : index->search(gen.next(), 5, filter)) {
          const bool ok = m.stream.rfind("cam", 0) == 0 && m.score <= 1.01 && m.score >= -1.01 &&
                          (r == 0 || m.stream == "cam1");
          if (!ok) ++bad_results;
        }
        ++searches;
      }
    });
  }
  // Another process's reader (the CLI) opens mid-ingest and sees a consistent snapshot.
  ASSERT_TRUE(test::eventually([&] { return index->stats().frames >= 2000; }));
  SearchIndexOptions reader_options = options;
  reader_options.read_only = true;
  reader_options.log = [](const std::string&) {};  // it rebuilds: no vector file saved yet
  auto reader = SearchIndex::open(reader_options);
  const uint64_t seen = reader->stats().frames;
  EXPECT_GE(seen, 2000u);
  EXPECT_FALSE(reader->search(ClusteredVectors(48, 10, 0.05f, 70).next(), 3).empty());

  for (auto& thread : threads) thread.join();
  index->flush();
  const auto stats = index->stats();
  EXPECT_EQ(stats.frames, accepted.load());
  EXPECT_EQ(stats.frames + stats.frames_dropped, uint64_t{kWriters * kFramesPerWriter});
  EXPECT_TRUE(test::eventually([&] { return index->stats().structure == "ivf-sq8"; }));
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(bad_results.load(), 0);
  EXPECT_EQ(reader->stats().frames, seen);  // a snapshot: it does not follow the writer
  // Every accepted frame is searchable, and the vector file written at close holds them all.
  index.reset();
  reader = SearchIndex::open(reader_options);
  EXPECT_EQ(reader->stats().frames, accepted.load());
}

}  // namespace
}  // namespace ivs::search
