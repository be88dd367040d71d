// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sinks/index/search_index.h"

namespace ivs::search {

DirLock::DirLock(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "index.lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw IndexError("cannot create the lock file " + file.string() + ": " + std::strerror(errno) +
                     " (is the search index directory writable?)");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw IndexError("search index directory " + dir.string() +
                     " is already written by another index (" + std::strerror(error) +
                     "): one writer per directory; stop the other writer, give this one its "
                     "own directory, or share one writer in a process with open_shared_index");
  }
  // The holder's pid, for an operator wondering who holds it (the lock itself is the flock).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const auto written = ::write(fd_, pid.data(), pid.size());
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace ivs::search
