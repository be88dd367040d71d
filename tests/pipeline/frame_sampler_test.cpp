// SPDX-License-Identifier: Apache-2.0
#include "pipeline/frame_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <vector>

namespace {

using ivs::pipeline::FrameSampler;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kFrames = 300;  // 10 s at 30 fps

// 30 fps PTS with seeded jitter of up to +-5 ms (a third of the gap to the next frame's jitter
// window), like a live source's timestamps.
std::vector<uint64_t> jittered_pts_30fps(uint64_t frames, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> jitter(-5'000'000, 5'000'000);
  std::vector<uint64_t> pts;
  for (uint64_t i = 0; i < frames; ++i) {
    const auto nominal = static_cast<int64_t>(i * kSecond / 30);
    pts.push_back(static_cast<uint64_t>(std::max<int64_t>(0, nominal + jitter(rng))));
  }
  return pts;
}

std::vector<uint64_t> sampled_indices(FrameSampler& sampler, const std::vector<uint64_t>& pts) {
  std::vector<uint64_t> indices;
  for (uint64_t i = 0; i < pts.size(); ++i) {
    if (sampler.should_sample(pts[i])) indices.push_back(i);
  }
  return indices;
}

TEST(FrameSamplerTest, interval_skips_that_many_frames_between_samples) {
  struct Case {
    uint32_t interval;
  };
  for (const Case& c : {Case{0}, Case{1}, Case{4}}) {
    SCOPED_TRACE("interval " + std::to_string(c.interval));
    FrameSampler sampler({c.interval, 0.0});
    const std::vector<uint64_t> indices = sampled_indices(sampler, jittered_pts_30fps(30, 1));
    std::vector<uint64_t> expected;
    for (uint64_t i = 0; i < 30; i += c.interval + 1) expected.push_back(i);
    EXPECT_EQ(indices, expected);
    EXPECT_EQ(sampler.frames_seen(), 30u);
  }
}

TEST(FrameSamplerTest, selection_fps_samples_one_frame_per_grid_slot_despite_jitter) {
  struct Case {
    double fps;
    uint64_t expected_samples;  // slots 0, 1/fps, ... up to the last frame (9.97 s)
  };
  for (const Case& c : {Case{0.5, 5}, Case{1.0, 10}, Case{2.0, 20}}) {
    for (uint32_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE("fps " + std::to_string(c.fps) + " seed " + std::to_string(seed));
      // interval is ignored while frames have a PTS
      FrameSampler sampler({7, c.fps});
      const std::vector<uint64_t> indices =
          sampled_indices(sampler, jittered_pts_30fps(kFrames, seed));
      ASSERT_EQ(indices.size(), c.expected_samples);
      // Slot k falls on frame k * 30 / fps; jitter may make that frame a little early, and then
      // the next one is sampled. Never later, so the rate does not drift.
      const auto frames_per_slot = static_cast<uint64_t>(std::lround(30.0 / c.fps));
      for (uint64_t k = 0; k < indices.size(); ++k) {
        EXPECT_GE(indices[k], k * frames_per_slot) << "slot " << k;
        EXPECT_LE(indices[k], k * frames_per_slot + 1) << "slot " << k;
      }
    }
  }
}

TEST(FrameSamplerTest, frames_without_pts_fall_back_to_interval_counting) {
  FrameSampler sampler({2, 1.0});
  std::vector<bool> decisions;
  for (int i = 0; i < 7; ++i) decisions.push_back(sampler.should_sample(std::nullopt));
  EXPECT_EQ(decisions, (std::vector<bool>{true, false, false, true, false, false, true}));
}

TEST(FrameSamplerTest, pts_returning_after_frames_without_pts_starts_the_grid) {
  FrameSampler sampler({2, 1.0});
  EXPECT_TRUE(sampler.should_sample(std::nullopt));
  EXPECT_FALSE(sampler.should_sample(std::nullopt));
  EXPECT_TRUE(sampler.should_sample(5 * kSecond));  // first PTS anchors the grid
  EXPECT_FALSE(sampler.should_sample(5 * kSecond + kSecond / 2));
  EXPECT_TRUE(sampler.should_sample(6 * kSecond));
}

TEST(FrameSamplerTest, gap_in_pts_skips_missed_slots_instead_of_bursting) {
  FrameSampler sampler({0, 1.0});
  EXPECT_TRUE(sampler.should_sample(0));
  EXPECT_TRUE(sampler.should_sample(5 * kSecond + kSecond / 10));
  EXPECT_FALSE(sampler.should_sample(5 * kSecond + kSecond / 2));
  EXPECT_FALSE(sampler.should_sample(6 * kSecond - 1));
  EXPECT_TRUE(sampler.should_sample(6 * kSecond));
}

TEST(FrameSamplerTest, pts_going_backwards_restarts_the_grid) {
  FrameSampler sampler({0, 1.0});
  EXPECT_TRUE(sampler.should_sample(10 * kSecond));
  EXPECT_TRUE(sampler.should_sample(11 * kSecond));
  EXPECT_TRUE(sampler.should_sample(kSecond / 5));  // looped without a reset()
  EXPECT_FALSE(sampler.should_sample(kSecond));
  EXPECT_TRUE(sampler.should_sample(kSecond + kSecond / 5));
}

TEST(FrameSamplerTest, reset_forgets_history_and_samples_the_next_frame) {
  struct Case {
    uint32_t interval;
    double fps;
  };
  for (const Case& c : {Case{4, 0.0}, Case{0, 1.0}}) {
    SCOPED_TRACE("interval " + std::to_string(c.interval) + " fps " + std::to_string(c.fps));
    FrameSampler sampler({c.interval, c.fps});
    EXPECT_TRUE(sampler.should_sample(20 * kSecond));
    EXPECT_FALSE(sampler.should_sample(20 * kSecond + kSecond / 30));
    EXPECT_EQ(sampler.frames_seen(), 2u);
    sampler.reset();
    EXPECT_EQ(sampler.frames_seen(), 0u);
    EXPECT_TRUE(sampler.should_sample(20 * kSecond + 2 * kSecond / 30));
    EXPECT_FALSE(sampler.should_sample(20 * kSecond + 3 * kSecond / 30));
    EXPECT_EQ(sampler.frames_seen(), 2u);
  }
}

TEST(FrameSamplerTest, invalid_selection_fps_means_interval_sampling) {
  for (double fps :
       {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(fps);
    FrameSampler sampler({1, fps});
    const std::vector<uint64_t> indices = sampled_indices(sampler, jittered_pts_30fps(6, 1));
    EXPECT_EQ(indices, (std::vector<uint64_t>{0, 2, 4}));
  }
}

}  // namespace
