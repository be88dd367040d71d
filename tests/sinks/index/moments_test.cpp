// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/moments.h"

#include <gtest/gtest.h>

namespace ivs::search {
namespace {

using std::chrono::seconds;

FrameHit hit(const std::string& stream, double second, double score, int64_t id) {
  FrameHit h;
  h.stream = stream;
  h.pts_ns = static_cast<int64_t>(second * 1e9);
  h.wall_time = std::chrono::system_clock::time_point(seconds(1000)) +
                std::chrono::milliseconds(static_cast<int64_t>(second * 1000));
  h.frame_id = static_cast<int64_t>(second * 10);
  h.id = id;
  h.has_thumbnail = id % 2 == 0;
  h.score = score;
  return h;
}

TEST(MomentsTest, close_hits_of_one_stream_merge_around_the_best) {
  const auto moments =
      build_moments({hit("a", 10.0, 0.88, 1), hit("a", 11.0, 0.9, 2), hit("a", 13.5, 0.87, 3),
                     hit("a", 30.0, 0.7, 4), hit("b", 11.0, 0.8, 5), hit("a", 100.0, 0.1, 6)},
                    seconds(3), 10);
  ASSERT_EQ(moments.size(), 4u);
  EXPECT_EQ(moments[0].stream, "a");
  EXPECT_DOUBLE_EQ(moments[0].start_seconds, 10.0);
  EXPECT_DOUBLE_EQ(moments[0].end_seconds, 13.5);  // 10 -> 11 -> 13.5: chained
  EXPECT_EQ(moments[0].frames, 3);
  EXPECT_DOUBLE_EQ(moments[0].score, 0.9);
  EXPECT_EQ(moments[0].best_id, 2);
  EXPECT_EQ(moments[0].best_frame_id, 110);
  EXPECT_TRUE(moments[0].has_thumbnail);
  EXPECT_EQ(moments[0].end_wall - moments[0].start_wall, std::chrono::milliseconds(3500));
  EXPECT_EQ(moments[1].stream, "b");  // another stream never merges, even at the same time
  EXPECT_EQ(moments[2].stream, "a");
  EXPECT_DOUBLE_EQ(moments[2].start_seconds, 30.0);
  EXPECT_EQ(moments[2].frames, 1);
  EXPECT_EQ(moments[3].best_id, 6);
}

TEST(MomentsTest, returns_the_k_best_and_handles_no_hits) {
  std::vector<FrameHit> hits;
  for (int i = 0; i < 10; ++i) hits.push_back(hit("s", i * 10.0, 0.1 * i, i));
  const auto moments = build_moments(hits, seconds(1), 3);
  ASSERT_EQ(moments.size(), 3u);
  EXPECT_EQ(moments[0].best_id, 9);
  EXPECT_EQ(moments[1].best_id, 8);
  EXPECT_EQ(moments[2].best_id, 7);
  EXPECT_TRUE(build_moments({}, seconds(1), 3).empty());
}

TEST(MomentsTest, zero_gap_merges_only_same_time_hits) {
  const auto moments = build_moments(
      {hit("s", 1.0, 0.59, 1), hit("s", 1.0, 0.6, 2), hit("s", 1.1, 0.1, 3)}, seconds(0), 10);
  ASSERT_EQ(moments.size(), 2u);
  EXPECT_EQ(moments[0].frames, 2);
}

// When every frame is a hit (a narrow filter, a small index), the matching scene stays one
// moment of its own instead of merging with the unrelated frames around it.
TEST(MomentsTest, strong_hits_do_not_merge_with_weak_neighbours) {
  std::vector<FrameHit> hits;
  for (int i = 0; i < 30; ++i) {
    const bool scene = i >= 10 && i < 20;
    hits.push_back(hit("s", i, scene ? 0.8 + 0.001 * i : 0.1 + 0.001 * i, i));
  }
  const auto moments = build_moments(hits, seconds(3), 5);
  ASSERT_EQ(moments.size(), 3u);
  EXPECT_DOUBLE_EQ(moments[0].start_seconds, 10.0);
  EXPECT_DOUBLE_EQ(moments[0].end_seconds, 19.0);
  EXPECT_EQ(moments[0].frames, 10);
  // The weak frames before and after, 11 s apart: two moments of their own, ranked after.
  EXPECT_DOUBLE_EQ(moments[1].start_seconds, 20.0);
  EXPECT_EQ(moments[1].frames, 10);
  EXPECT_DOUBLE_EQ(moments[2].end_seconds, 9.0);
}

// Two neighbouring scenes that both match well (a red star, then a red square, for "a red
// star") are two moments: the score steps down at the scene change.
TEST(MomentsTest, a_score_step_between_neighbours_splits_two_scenes) {
  std::vector<FrameHit> hits;
  for (int i = 0; i < 20; ++i) hits.push_back(hit("s", i, i < 10 ? 0.9 : 0.78, i));
  hits.push_back(hit("s", 60, 0.1, 99));
  const auto moments = build_moments(hits, seconds(3), 5);
  ASSERT_EQ(moments.size(), 3u);
  EXPECT_DOUBLE_EQ(moments[0].start_seconds, 0.0);
  EXPECT_DOUBLE_EQ(moments[0].end_seconds, 9.0);
  EXPECT_DOUBLE_EQ(moments[1].start_seconds, 10.0);
  EXPECT_DOUBLE_EQ(moments[1].end_seconds, 19.0);
  EXPECT_EQ(moments[2].best_id, 99);
}

// A looping file or a reconnected camera starts its stream time again: each pass over the
// same scene is a moment of its own, not one moment interleaving both passes.
TEST(MomentsTest, passes_of_a_restarted_stream_stay_apart) {
  std::vector<FrameHit> hits;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < 4; ++i) {
      FrameHit h = hit("s", 10.0 + i * 0.5, 0.9, pass * 10 + i);
      h.wall_time += seconds(60 * pass);
      hits.push_back(h);
    }
  }
  const auto moments = build_moments(hits, seconds(3), 5);
  ASSERT_EQ(moments.size(), 2u);
  for (const Moment& moment : moments) {
    EXPECT_EQ(moment.frames, 4);
    EXPECT_DOUBLE_EQ(moment.start_seconds, 10.0);
    EXPECT_DOUBLE_EQ(moment.end_seconds, 11.5);
    EXPECT_EQ(moment.end_wall - moment.start_wall, std::chrono::milliseconds(1500));
  }
}

}  // namespace
}  // namespace ivs::search
