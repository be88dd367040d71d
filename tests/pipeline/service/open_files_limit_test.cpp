// SPDX-License-Identifier: Apache-2.0
// The open-files limit at start-up: raised to the hard limit, and HTTP connections kept within it
// (run_chaos.py half_open_http: under systemd's soft 1,024 the service ran out of descriptors
// before its connection limit).
#include "pipeline/service/open_files_limit.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

namespace ivs::service {
namespace {

TEST(OpenFilesLimitTest, raises_the_soft_limit_to_the_hard_one) {
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_GT(files.rlim_max, rlim_t{64}) << "the open-files hard limit is too low to test";
  rlimit lowered{64, files.rlim_max};  // as a service manager may start us
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const uint64_t now = raise_open_files_limit();
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  EXPECT_EQ(files.rlim_cur, files.rlim_max);
  EXPECT_EQ(now, files.rlim_max == RLIM_INFINITY ? UINT64_MAX : uint64_t{files.rlim_max});
}

TEST(OpenFilesLimitTest, keeps_http_connections_within_the_limit) {
  EXPECT_EQ(http_connections_within(4096, 1 << 20), 4096u);
  EXPECT_EQ(http_connections_within(4096, 4096 + kFilesBesideHttp), 4096u);
  EXPECT_EQ(http_connections_within(4096, 1024), 1024u - kFilesBesideHttp);
  EXPECT_EQ(http_connections_within(100, 1024), 100u);
  EXPECT_EQ(http_connections_within(4096, 100), 8u);  // the fewest the server works with
}

}  // namespace
}  // namespace ivs::service
