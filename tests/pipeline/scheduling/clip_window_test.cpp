// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "pipeline/scheduling/clip_window.h"

namespace ivs::pipeline {
namespace {

TEST(ClipWindowTest, a_clip_comes_once_the_window_is_full_and_then_slides_by_one) {
  ClipWindow window(3);
  EXPECT_FALSE(window.add({1.0f}, 0, 0));
  EXPECT_FALSE(window.add({2.0f}, 100, 4));
  auto clip = window.add({3.0f}, 200, 8);
  ASSERT_TRUE(clip);
  ASSERT_EQ(clip->embeddings.size(), 3u);
  EXPECT_EQ(clip->embeddings[0][0], 1.0f);
  EXPECT_EQ(clip->embeddings[2][0], 3.0f);
  EXPECT_EQ(clip->first_pts, 0u);
  EXPECT_EQ(clip->first_frame, 0u);
  clip = window.add({4.0f}, 300, 12);
  ASSERT_TRUE(clip);
  EXPECT_EQ(clip->embeddings[0][0], 2.0f);
  EXPECT_EQ(clip->first_pts, 100u);
  EXPECT_EQ(clip->first_frame, 4u);
}

TEST(ClipWindowTest, clear_starts_the_next_clip_from_scratch) {
  ClipWindow window(2);
  window.add({1.0f}, 0, 0);
  window.clear();
  EXPECT_FALSE(window.add({2.0f}, 10, 1));
  EXPECT_TRUE(window.add({3.0f}, 20, 2));
}

TEST(ClipWindowTest, zero_frames_never_makes_a_clip) {
  ClipWindow window(0);
  EXPECT_FALSE(window.add({1.0f}, 0, 0));
  EXPECT_FALSE(window.add({1.0f}, 1, 1));
}

}  // namespace
}  // namespace ivs::pipeline
