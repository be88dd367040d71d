// SPDX-License-Identifier: Apache-2.0
// internvlrecord's disk cap (`max-disk-bytes`): the files it completed, oldest first, and which of
// them to delete so that their total stays within the cap. Only files the element wrote since it
// started count; it never deletes anything else. Plain bookkeeping: the caller deletes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace ivs::pipeline {

/// Not thread-safe: the element's finishing thread is the only caller.
class DiskBudget {
 public:
  /// `max_bytes` 0: no cap.
  explicit DiskBudget(uint64_t max_bytes);

  /// Records a completed file and returns the older files to delete, oldest first, to bring the
  /// total within the cap. The file just added is never returned: when it alone is over the cap
  /// it is the only file kept (the newest clip is the one an operator wants).
  std::vector<std::string> add(const std::string& path, uint64_t bytes);

  uint64_t total_bytes() const { return total_; }
  size_t files() const { return files_.size(); }

 private:
  struct File {
    std::string path;
    uint64_t bytes = 0;
  };
  uint64_t max_bytes_;
  std::deque<File> files_;  // oldest first
  uint64_t total_ = 0;
};

}  // namespace ivs::pipeline
