// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <vector>

#include "pipeline/alerts/lag_line.h"

namespace ivs::pipeline {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

EncodedUnit unit(double seconds, uint64_t bytes = 100) {
  EncodedUnit u;
  u.pts = static_cast<uint64_t>(seconds * kSecond);
  u.bytes = bytes;
  return u;
}

std::vector<double> times(const std::vector<EncodedUnit>& units) {
  std::vector<double> out;
  for (const auto& u : units) out.push_back(static_cast<double>(u.pts) / kSecond);
  return out;
}

TEST(LagLineTest, units_leave_once_they_are_lag_older_than_the_newest) {
  LagLine line(2 * kSecond, 0);
  EXPECT_TRUE(line.push(unit(0.0)).empty());
  EXPECT_TRUE(line.push(unit(1.0)).empty());
  EXPECT_EQ(times(line.push(unit(2.0))), std::vector<double>{0.0});
  EXPECT_EQ(times(line.push(unit(3.5))), (std::vector<double>{1.0}));
  EXPECT_EQ(times(line.push(unit(4.0))), (std::vector<double>{2.0}));
  EXPECT_EQ(times(line.drain()), (std::vector<double>{3.5, 4.0}));
  EXPECT_EQ(line.size(), 0u);
}

TEST(LagLineTest, the_byte_cap_lets_the_oldest_leave_early) {
  LagLine line(10 * kSecond, 250);
  line.push(unit(0.0));
  line.push(unit(0.1));
  EXPECT_EQ(times(line.push(unit(0.2))), std::vector<double>{0.0});
  EXPECT_EQ(line.bytes(), 200u);
}

TEST(LagLineTest, zero_lag_passes_every_unit_through) {
  LagLine line(0, 0);
  EXPECT_EQ(times(line.push(unit(5.0))), std::vector<double>{5.0});
}

}  // namespace
}  // namespace ivs::pipeline
