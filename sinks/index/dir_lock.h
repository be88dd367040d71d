// SPDX-License-Identifier: Apache-2.0
// One writer per index directory: an flock on <dir>/index.lock, released by the kernel when
// the process dies, so a killed writer never leaves a stale lock behind.
#pragma once

#include <filesystem>

namespace ivs::search {

class DirLock {
 public:
  /// Takes the lock or throws IndexError naming the directory.
  explicit DirLock(const std::filesystem::path& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ivs::search
