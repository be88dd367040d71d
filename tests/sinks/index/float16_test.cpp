// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/float16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ivs::search {
namespace {

float round_trip(float value) {
  std::vector<float> out;
  const auto halves = to_float16({value});
  append_from_float16(halves.data(), halves.size(), out);
  return out.at(0);
}

TEST(Float16Test, exact_values_survive) {
  for (float value : {0.0f, -0.0f, 1.0f, -2.5f, 0.5f, 65504.0f, 6.103515625e-05f,
                      5.960464477539063e-08f /* smallest subnormal */}) {
    EXPECT_EQ(round_trip(value), value) << value;
  }
}

TEST(Float16Test, rounds_to_nearest_even_within_half_precision) {
  for (float value = -1.0f; value <= 1.0f; value += 0.000731f) {
    const float back = round_trip(value);
    EXPECT_LE(std::fabs(back - value), std::fabs(value) * 4.9e-4f + 3e-8f) << value;
  }
  EXPECT_EQ(round_trip(1.0f + 1.0f / 2048.0f), 1.0f);  // halfway: to even
  EXPECT_EQ(round_trip(1.0f + 3.0f / 2048.0f), 1.0f + 2.0f / 1024.0f);
}

TEST(Float16Test, overflow_and_specials) {
  EXPECT_TRUE(std::isinf(round_trip(1e6f)));
  EXPECT_TRUE(std::isinf(round_trip(-std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_trip(1e-10f), 0.0f);
}

}  // namespace
}  // namespace ivs::search
