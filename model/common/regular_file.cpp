// SPDX-License-Identifier: Apache-2.0
#include "model/common/regular_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace ivs::model {
namespace {

constexpr const char* kMissing = "does not exist";

}  // namespace

std::string not_a_regular_file(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return errno == ENOENT ? kMissing
                           : std::string("cannot be inspected (") + std::strerror(errno) + ")";
  }
  if (S_ISREG(status.st_mode)) return "";
  if (S_ISDIR(status.st_mode)) return "is a directory";
  if (S_ISFIFO(status.st_mode)) return "is a FIFO (named pipe), not a file";
  if (S_ISSOCK(status.st_mode)) return "is a socket, not a file";
  return "is a device, not a file";
}

std::string special_file_kind(const std::string& path) {
  const std::string why = not_a_regular_file(path);
  return why == kMissing ? "" : why;
}

}  // namespace ivs::model
