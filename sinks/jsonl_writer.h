// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "sinks/result_sink.h"

namespace ivs::sinks {

/// Appends one JSON object per line (result_to_json) to a file. Thread-safe. Write errors (a full
/// disk) are counted and make publish() return false; they never throw. The file only ever holds
/// whole lines: a line the disk took part of is cut off again, and a refused line is never written
/// later, so a reader can trust every line and the error count is the number of lines lost.
class JsonLinesWriter : public ResultSink {
 public:
  /// Opens (creates or appends to) `path`. Throws std::runtime_error naming the path when it
  /// cannot be opened (missing directory, permissions).
  explicit JsonLinesWriter(std::string path);
  ~JsonLinesWriter() override;
  JsonLinesWriter(const JsonLinesWriter&) = delete;
  JsonLinesWriter& operator=(const JsonLinesWriter&) = delete;

  /// Told, on the publishing thread and under the writer's lock, when writing fails after a
  /// success (then every 100th failure) and when it works again, with a message naming the file,
  /// the error and the lines lost ("JSON-lines file '/data/results.jsonl': cannot write: No
  /// space left on device; 1 line lost so far"). Must neither throw nor call the writer; may be
  /// empty (the default). Thread-safe.
  void set_log(std::function<void(const std::string& message)> log);

  bool publish(const FrameResult& result) override;
  /// Nothing to do: each line goes to the kernel in publish().
  void flush() override {}
  const char* name() const override { return "jsonl"; }

  uint64_t written() const;
  uint64_t errors() const;
  const std::string& path() const { return path_; }

 private:
  bool append(const std::string& line);  // under mutex_
  bool cut_torn_line();                  // under mutex_
  void count_error(int error);           // under mutex_

  std::string path_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  off_t torn_at_ = -1;  // under mutex_: where a partly written line starts that is not cut yet
  std::function<void(const std::string&)> log_;  // under mutex_
  uint64_t written_ = 0;
  uint64_t errors_ = 0;
  uint64_t failing_ = 0;  // under mutex_: errors since the last line written
};

}  // namespace ivs::sinks
