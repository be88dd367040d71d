// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/pre_roll_window.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace ivs::pipeline {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kFrame = kSecond / 10;  // 10 fps

// Unit n of a stream at 10 fps with a keyframe every `gop` units.
EncodedUnit unit(uint64_t n, uint64_t gop, uint64_t bytes = 100) {
  return EncodedUnit{n * kFrame, n % gop == 0, bytes, nullptr};
}

TEST(PreRollWindowTest, starts_at_a_keyframe_and_drops_delta_units_before_the_first) {
  PreRollWindow window(2 * kSecond, UINT64_MAX);
  EXPECT_FALSE(window.push(unit(1, 5)));
  EXPECT_FALSE(window.push(unit(4, 5)));
  EXPECT_TRUE(window.empty());
  EXPECT_TRUE(window.push(unit(5, 5)));
  EXPECT_TRUE(window.push(unit(6, 5)));
  EXPECT_EQ(window.size(), 2u);
  EXPECT_EQ(window.first_pts(), 5 * kFrame);
}

TEST(PreRollWindowTest, holds_the_span_plus_at_most_one_gop_and_drops_whole_gops) {
  PreRollWindow window(2 * kSecond, UINT64_MAX);
  for (uint64_t n = 0; n < 200; ++n) {
    window.push(unit(n, 7));
    const uint64_t span = window.newest_pts() - window.first_pts();
    const bool front_is_keyframe = (window.first_pts() / kFrame) % 7 == 0;
    EXPECT_TRUE(front_is_keyframe) << n;
    if (n >= 30) {
      EXPECT_GE(span, 2 * kSecond) << n;
      EXPECT_LT(span, 2 * kSecond + 7 * kFrame) << n;
    }
  }
}

TEST(PreRollWindowTest, the_byte_cap_drops_gops_but_keeps_the_newest) {
  PreRollWindow window(100 * kSecond, 1000);
  for (uint64_t n = 0; n < 40; ++n) window.push(unit(n, 5, 100));
  EXPECT_LE(window.bytes(), 1000u);
  EXPECT_EQ(window.first_pts(), 30 * kFrame);  // 25..39 would be 1500 bytes
  EXPECT_EQ(window.bytes(), 1000u);
  // One GOP larger than the cap is kept whole: a clip needs its keyframe.
  PreRollWindow small(100 * kSecond, 150);
  for (uint64_t n = 0; n < 4; ++n) small.push(unit(n, 10, 100));
  EXPECT_EQ(small.size(), 4u);
  EXPECT_EQ(small.first_pts(), 0u);
}

TEST(PreRollWindowTest, from_rounds_back_to_a_keyframe) {
  PreRollWindow window(10 * kSecond, UINT64_MAX);
  for (uint64_t n = 0; n < 30; ++n) window.push(unit(n, 10));
  auto units = window.from(15 * kFrame);
  ASSERT_EQ(units.size(), 20u);
  EXPECT_EQ(units.front().pts, 10 * kFrame);
  EXPECT_TRUE(units.front().keyframe);
  EXPECT_EQ(window.from(20 * kFrame).front().pts, 20 * kFrame);
  EXPECT_EQ(window.from(0).size(), 30u);
  window.clear();
  EXPECT_TRUE(window.from(0).empty());
}

TEST(PreRollWindowTest, reordered_b_frames_keep_the_newest_time) {
  PreRollWindow window(kSecond, UINT64_MAX);
  window.push({0, true, 1, nullptr});
  window.push({3 * kFrame, false, 1, nullptr});
  window.push({kFrame, false, 1, nullptr});
  EXPECT_EQ(window.newest_pts(), 3 * kFrame);
}

TEST(PreRollWindowTest, releases_payloads_it_drops) {
  PreRollWindow window(kFrame, UINT64_MAX);
  auto payload = std::make_shared<int>(1);
  window.push({0, true, 1, payload});
  EXPECT_EQ(payload.use_count(), 2);
  window.push({kFrame, true, 1, nullptr});
  window.push({2 * kFrame, true, 1, nullptr});
  EXPECT_EQ(payload.use_count(), 1);
}

}  // namespace
}  // namespace ivs::pipeline
