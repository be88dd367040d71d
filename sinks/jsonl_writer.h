// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>

#include "sinks/result_sink.h"

namespace ivs::sinks {

/// Appends one JSON object per line (result_to_json) to a file. Thread-safe. Write errors are
/// counted and make publish() return false; they never throw.
class JsonLinesWriter : public ResultSink {
 public:
  /// Opens (creates or appends to) `path`. Throws std::runtime_error naming the path when it
  /// cannot be opened (missing directory, permissions).
  explicit JsonLinesWriter(std::string path);

  bool publish(const FrameResult& result) override;
  void flush() override;
  const char* name() const override { return "jsonl"; }

  uint64_t written() const;
  uint64_t errors() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::ofstream out_;
  uint64_t written_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace ivs::sinks
