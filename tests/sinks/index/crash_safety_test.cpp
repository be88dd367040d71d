// SPDX-License-Identifier: Apache-2.0
// kill -9 a process while it indexes; the index reopens intact with every frame it had
// committed, and searches work.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "sinks/index/search_index.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/index/synthetic_vectors.h"

namespace ivs::search {
namespace {

/// Starts the crash writer on `dir`; returns its pid and the read end of its stdout.
pid_t start_writer(const std::filesystem::path& dir, FILE** output) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(INTERNVL_CRASH_WRITER, INTERNVL_CRASH_WRITER, dir.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  *output = ::fdopen(fds[0], "r");
  return pid;
}

std::string integrity_check(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr);
  std::string result = "no result";
  if (sqlite3_step(statement) == SQLITE_ROW) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return result;
}

TEST(CrashSafetyTest, killed_writer_loses_nothing_it_committed) {
  const auto dir = ivs::test::scratch_dir("crash_safety");
  FILE* output = nullptr;
  const pid_t pid = start_writer(dir, &output);
  ASSERT_GT(pid, 0);
  ASSERT_NE(output, nullptr);
  // Let it index past the IVF switch and through a few vector file saves, then kill it.
  long long flushed = -1;
  char line[128];
  while (flushed < 20000 && std::fgets(line, sizeof line, output)) {
    std::sscanf(line, "flushed %lld", &flushed);
  }
  {  // Another process (this one) reads while the child writes: WAL readers never wait.
    SearchIndexOptions reader;
    reader.dir = dir;
    reader.read_only = true;
    reader.log = [](const std::string&) {};
    auto index = SearchIndex::open(reader);
    EXPECT_GE(index->stats().frames, static_cast<uint64_t>(flushed + 1));
    EXPECT_FALSE(index->search(test::ClusteredVectors(32, 8, 0.1f, 32).next(), 3).empty());
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::fclose(output);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended by itself: status " << status;
  ASSERT_GE(flushed, 20000) << "the writer stopped reporting";

  EXPECT_EQ(integrity_check(dir / "index.sqlite"), "ok");
  std::vector<std::string> logs;
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0;
  options.max_disk_gb = 0;
  options.exact_limit = 2000;
  options.log = [&](const std::string& message) { logs.push_back(message); };
  auto index = SearchIndex::open(options);  // takes the lock the dead writer held
  const auto stats = index->stats();
  EXPECT_GE(stats.frames, static_cast<uint64_t>(flushed + 1));
  EXPECT_EQ(stats.structure, "ivf-sq8");
  // Every committed frame is findable: the first, the last reported, one in the middle.
  test::ClusteredVectors gen(32, 8, 0.1f, 31);
  for (int64_t frame = 0; frame <= flushed; ++frame) {
    const auto embedding = gen.next();
    if (frame != 0 && frame != flushed / 2 && frame != flushed) continue;
    SearchFilter filter;
    filter.streams = {frame % 2 ? "a" : "b"};
    filter.from = filter.to =
        test::make_frame("", frame, frame * 0.1, test::test_epoch(), {}).wall_time;
    const auto moments = index->search(embedding, 1, filter);
    ASSERT_EQ(moments.size(), 1u) << "frame " << frame;
    EXPECT_EQ(moments[0].best_frame_id, frame);
  }
  for (const std::string& message : logs) std::cout << "log: " << message << "\n";
}

}  // namespace
}  // namespace ivs::search
