// SPDX-License-Identifier: Apache-2.0
#include "sinks/jsonl_writer.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sinks/result_json.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/sample_results.h"

namespace {

using ivs::sinks::JsonLinesWriter;
using ivs::test::read_lines;

TEST(JsonLinesWriterTest, writes_one_message_per_line) {
  const auto path = ivs::test::scratch_dir("jsonl_one_per_line") / "results.jsonl";
  JsonLinesWriter writer(path.string());
  EXPECT_EQ(writer.path(), path.string());
  EXPECT_TRUE(writer.publish(ivs::test::sample_classification()));
  EXPECT_TRUE(writer.publish(ivs::test::sample_caption()));
  EXPECT_TRUE(writer.publish(ivs::test::sample_unicode()));
  writer.flush();
  EXPECT_EQ(writer.written(), 3u);
  EXPECT_EQ(writer.errors(), 0u);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], ivs::sinks::result_to_json(ivs::test::sample_classification()));
  EXPECT_EQ(ivs::sinks::result_from_json(lines[1]).caption->text,
            "a red panda sitting on a wooden platform");
  EXPECT_EQ(ivs::sinks::result_from_json(lines[2]).classification[0].label, "弹吉他");
}

TEST(JsonLinesWriterTest, appends_to_an_existing_file) {
  const auto path = ivs::test::scratch_dir("jsonl_appends") / "results.jsonl";
  {
    JsonLinesWriter first(path.string());
    ASSERT_TRUE(first.publish(ivs::test::sample_classification()));
  }
  JsonLinesWriter second(path.string());
  ASSERT_TRUE(second.publish(ivs::test::sample_event()));
  second.flush();
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ivs::sinks::result_from_json(lines[1]).kind, ivs::sinks::ResultKind::kEvent);
}

TEST(JsonLinesWriterTest, missing_directory_throws_naming_the_path) {
  const auto path = ivs::test::scratch_dir("jsonl_missing_dir") / "no-such-dir" / "results.jsonl";
  try {
    JsonLinesWriter writer(path.string());
    FAIL() << "opened " << path;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(JsonLinesWriterTest, write_errors_are_counted_not_thrown) {
  // /dev/full accepts open() and fails every write with ENOSPC: a full disk on demand.
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "/dev/full not available";
  JsonLinesWriter writer("/dev/full");
  EXPECT_FALSE(writer.publish(ivs::test::sample_classification()));
  EXPECT_FALSE(writer.publish(ivs::test::sample_caption()));
  writer.flush();
  EXPECT_EQ(writer.errors(), 2u);
  EXPECT_EQ(writer.written(), 0u);
}

// Lowers the process's file size limit (RLIMIT_FSIZE) for its lifetime: a write past it stores
// what fits and fails with EFBIG, as a write that fills the disk stores what fits and fails with
// ENOSPC. SIGXFSZ, which would kill the process, is ignored meanwhile.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
};

TEST(JsonLinesWriterTest, a_line_cut_short_by_a_full_disk_is_removed_not_kept) {
  const auto path = ivs::test::scratch_dir("jsonl_cut_short") / "results.jsonl";
  JsonLinesWriter writer(path.string());
  std::vector<std::string> logged;
  writer.set_log([&logged](const std::string& message) { logged.push_back(message); });
  ASSERT_TRUE(writer.publish(ivs::test::sample_classification()));
  const auto caption_line = ivs::sinks::result_to_json(ivs::test::sample_caption());
  {
    // Room for half of the next line: the write stores part of it and fails.
    FileSizeLimit limit(std::filesystem::file_size(path) + caption_line.size() / 2);
    EXPECT_FALSE(writer.publish(ivs::test::sample_caption()));
    EXPECT_FALSE(writer.publish(ivs::test::sample_unicode()));
  }
  // Space is back: later results are written whole, and nothing of the refused ones.
  ASSERT_TRUE(writer.publish(ivs::test::sample_event()));
  writer.flush();
  EXPECT_EQ(writer.errors(), 2u);
  EXPECT_EQ(writer.written(), 2u);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], ivs::sinks::result_to_json(ivs::test::sample_classification()));
  EXPECT_EQ(lines[1], ivs::sinks::result_to_json(ivs::test::sample_event()));
  // The operator is told once when it fails and once when it works again, naming the file.
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[0].find(path.string()), std::string::npos) << logged[0];
  EXPECT_NE(logged[0].find("File too large; 1 line lost so far"), std::string::npos) << logged[0];
  EXPECT_NE(logged[1].find("writing again after 2 lost lines (2 in all)"), std::string::npos)
      << logged[1];
}

TEST(JsonLinesWriterTest, concurrent_publishers_never_interleave_lines) {
  const auto path = ivs::test::scratch_dir("jsonl_concurrent") / "results.jsonl";
  JsonLinesWriter writer(path.string());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, t] {
      auto result = ivs::test::sample_caption();
      result.sensor_id = "cam" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        result.start_frame_id = i;
        writer.publish(result);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  writer.flush();
  EXPECT_EQ(writer.written(), static_cast<uint64_t>(kThreads * kPerThread));
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& line : lines) ASSERT_NO_THROW(ivs::sinks::result_from_json(line)) << line;
}

}  // namespace
