// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <chrono>

#include "pipeline/scheduling/inference_wait.h"
#include "tests/common/fake_clock.h"

namespace ivs::pipeline {
namespace {

using namespace std::chrono_literals;

TEST(InferenceWaitTest, reports_how_long_the_current_wait_lasts_and_zero_outside) {
  testing::FakeClock clock;
  InferenceWait wait;
  EXPECT_EQ(wait.current(clock), 0ns);
  {
    InferenceWait::Scope scope(wait, clock);
    EXPECT_GT(wait.current(clock), 0ns) << "visible at once";
    clock.advance(12s);
    EXPECT_EQ(wait.current(clock), 12s);
  }
  EXPECT_EQ(wait.current(clock), 0ns);
}

}  // namespace
}  // namespace ivs::pipeline
