// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/stop_deadline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

namespace ivs::service {
namespace {

using std::chrono::milliseconds;

// A stop that hangs past its limit: the deadline acts on its own thread while the stop (here,
// this test's thread) is still blocked.
TEST(StopDeadlineTest, acts_when_the_stop_hangs_past_its_limit) {
  std::promise<void> acted;
  std::future<void> done = acted.get_future();
  const StopDeadline deadline(milliseconds(20), [&acted] { acted.set_value(); });
  // Bounded wait for something that must happen; the stop "hangs" until then.
  EXPECT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

// A stop that finishes in time disarms the deadline: it never acts, and destroying it does not
// wait for the limit (an hour here; the test would time out in CTest if it did).
TEST(StopDeadlineTest, a_stop_in_time_disarms_it) {
  bool acted = false;
  {
    const StopDeadline deadline(std::chrono::hours(1), [&acted] { acted = true; });
  }
  EXPECT_FALSE(acted);
}

}  // namespace
}  // namespace ivs::service
