// SPDX-License-Identifier: Apache-2.0
#include "tests/fuzz/fuzz_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ivs::fuzz {

std::string memory_file(const uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("internvl-fuzz", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace ivs::fuzz
