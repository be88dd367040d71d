// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/open_files_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace ivs::service {

uint64_t raise_open_files_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
  if (files.rlim_cur != files.rlim_max) {
    rlimit raised{files.rlim_max, files.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
  }
  return files.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(files.rlim_cur);
}

unsigned http_connections_within(unsigned wanted, uint64_t open_files) {
  constexpr unsigned kFewest = 8;
  if (open_files >= uint64_t{wanted} + kFilesBesideHttp) return wanted;
  const uint64_t room = open_files > kFilesBesideHttp ? open_files - kFilesBesideHttp : 0;
  return static_cast<unsigned>(std::max<uint64_t>(std::min<uint64_t>(room, wanted), kFewest));
}

}  // namespace ivs::service
