// SPDX-License-Identifier: Apache-2.0
// The alert state machine in stream time: samples are (time, probability) pairs the test makes.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "pipeline/alerts/alert_tracker.h"

namespace ivs::pipeline {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kStep = kSecond / 2;  // 2 samples per second

AlertRule rule() {
  AlertRule r;
  r.name = "fence";
  r.prompt = "a person climbing a fence";
  r.on_threshold = 0.6;
  r.off_threshold = 0.4;
  r.min_on_seconds = 1.0;
  r.min_off_seconds = 2.0;
  return r;
}

// Feeds `probabilities` at 2 samples per second from `start`; returns the events with the index
// of the sample that produced each.
std::vector<std::pair<size_t, AlertEvent>> feed(AlertTracker& tracker,
                                                const std::vector<double>& probabilities,
                                                uint64_t start = 0) {
  std::vector<std::pair<size_t, AlertEvent>> events;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    if (auto event = tracker.update(start + i * kStep, i, probabilities[i]))
      events.emplace_back(i, *event);
  }
  return events;
}

TEST(AlertTrackerTest, starts_after_min_on_and_ends_after_min_off) {
  AlertTracker tracker(rule(), "cam1");
  //                         0    1    2    3    4    5    6    7    8    9    10   11
  const auto events = feed(tracker, {0.1, 0.7, 0.8, 0.9, 0.9, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, 3u) << "first above at 0.5 s; 1 s later is sample 3";
  const AlertEvent& start = events[0].second;
  EXPECT_EQ(start.state, AlertState::kStart);
  EXPECT_EQ(start.start_pts, 1 * kStep);
  EXPECT_EQ(start.pts, 3 * kStep);
  EXPECT_EQ(start.start_frame, 1u);
  EXPECT_EQ(start.stream_id, "cam1");
  EXPECT_EQ(start.rule, "fence");
  EXPECT_EQ(start.id, "cam1-fence-1");
  EXPECT_EQ(events[1].first, 9u) << "first below at 2.5 s; 2 s later is sample 9";
  const AlertEvent& end = events[1].second;
  EXPECT_EQ(end.state, AlertState::kEnd);
  EXPECT_EQ(end.id, start.id);
  EXPECT_EQ(end.start_pts, 1 * kStep);
  EXPECT_EQ(end.end_pts, 5 * kStep);
  EXPECT_DOUBLE_EQ(end.peak_probability, 0.9);
  EXPECT_FALSE(tracker.active());
}

TEST(AlertTrackerTest, a_run_shorter_than_min_on_starts_nothing) {
  AlertTracker tracker(rule(), "cam1");
  // Above for 0.5 s at a time, alternating faster than min-on.
  EXPECT_TRUE(feed(tracker, {0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1}).empty());
}

TEST(AlertTrackerTest, a_probability_between_the_thresholds_does_not_flap) {
  AlertTracker tracker(rule(), "cam1");
  std::vector<double> p{0.9, 0.9, 0.9};                                // starts at sample 2
  for (int i = 0; i < 40; ++i) p.push_back(i % 2 == 0 ? 0.45 : 0.59);  // between off and on
  const auto events = feed(tracker, p);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].second.state, AlertState::kStart);
  EXPECT_TRUE(tracker.active());
}

TEST(AlertTrackerTest, dipping_below_off_shorter_than_min_off_keeps_the_event) {
  AlertTracker tracker(rule(), "cam1");
  const auto events = feed(tracker, {0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(tracker.active());
}

TEST(AlertTrackerTest, cooldown_suppresses_a_restart) {
  AlertRule r = rule();
  r.min_on_seconds = 0.0;
  r.min_off_seconds = 0.0;
  r.cooldown_seconds = 3.0;
  AlertTracker tracker(r, "cam1");
  //                         0    1    2    3    4    5    6    7    8    9
  const auto events = feed(tracker, {0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].first, 0u);
  EXPECT_EQ(events[1].first, 1u);  // end at 0.5 s
  EXPECT_EQ(events[2].first, 7u) << "3.5 s: the first sample after the 3 s cooldown";
  EXPECT_EQ(events[2].second.id, "cam1-fence-2");
}

TEST(AlertTrackerTest, smoothing_averages_the_last_samples) {
  AlertRule r = rule();
  r.min_on_seconds = 0.0;
  r.smoothing = 3;
  AlertTracker fresh(r, "cam1");
  EXPECT_FALSE(fresh.update(0, 0, 0.0));
  EXPECT_FALSE(fresh.update(kStep, 1, 0.9));  // mean 0.45
  EXPECT_DOUBLE_EQ(fresh.probability(), 0.45);
  auto event = fresh.update(2 * kStep, 2, 0.9);  // mean 0.6
  ASSERT_TRUE(event);
  EXPECT_NEAR(event->probability, 0.6, 1e-12);
}

TEST(AlertTrackerTest, the_end_of_the_stream_ends_an_active_event) {
  AlertTracker tracker(rule(), "cam1");
  ASSERT_EQ(feed(tracker, {0.9, 0.9, 0.9}).size(), 1u);
  auto end = tracker.finish(10 * kSecond, 20);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, AlertState::kEnd);
  EXPECT_EQ(end->end_pts, 10 * kSecond);
  EXPECT_FALSE(tracker.finish(11 * kSecond, 22)) << "nothing left to end";
}

TEST(AlertTrackerTest, reset_forgets_a_run_in_progress) {
  AlertTracker tracker(rule(), "cam1");
  feed(tracker, {0.9, 0.9});
  tracker.reset();
  EXPECT_TRUE(feed(tracker, {0.9, 0.9}, 10 * kSecond).empty()) << "the run restarts at 10 s";
}

}  // namespace
}  // namespace ivs::pipeline
