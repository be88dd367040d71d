// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/clip_planner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ivs::pipeline {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kFrame = kSecond / 10;  // 10 fps
constexpr uint64_t kGop = 10;              // a keyframe every second

AlertEvent start_event(const std::string& id, uint64_t start_pts) {
  AlertEvent event;
  event.id = id;
  event.stream_id = "cam1";
  event.state = AlertState::kStart;
  event.start_pts = start_pts;
  return event;
}

AlertEvent end_event(const std::string& id, uint64_t start_pts, uint64_t end_pts) {
  AlertEvent event = start_event(id, start_pts);
  event.state = AlertState::kEnd;
  event.end_pts = end_pts;
  return event;
}

// Plays the planner's actions into per-clip lists of unit times, as the element writes files.
struct Recorder {
  std::map<std::string, std::vector<uint64_t>> open;
  std::map<std::string, std::vector<uint64_t>> done;

  void apply(const ClipActions& actions, uint64_t pts) {
    for (const auto& start : actions.started) {
      auto& clip = open[start.event_id];
      for (const auto& unit : start.units) clip.push_back(unit.pts);
    }
    for (const auto& id : actions.append) open.at(id).push_back(pts);
    for (const auto& id : actions.finished) {
      done[id] = open.at(id);
      open.erase(id);
    }
  }
};

ClipLimits limits(double pre, double post, double max_duration) {
  ClipLimits l;
  l.pre_roll_seconds = pre;
  l.post_roll_seconds = post;
  l.max_duration_seconds = max_duration;
  return l;
}

// A planner and the clips its actions make, driven by frame numbers (10 fps, a keyframe every
// kGop frames).
struct Scenario {
  explicit Scenario(const ClipLimits& limits) : planner(limits) {}

  void play(uint64_t n_begin, uint64_t n_end) {
    for (uint64_t n = n_begin; n < n_end; ++n) {
      const uint64_t pts = n * kFrame;
      recorder.apply(planner.push(EncodedUnit{pts, n % kGop == 0, 100, nullptr}), pts);
    }
  }
  ClipActions start(const std::string& id, uint64_t frame) {
    return applied(planner.on_event(start_event(id, frame * kFrame)));
  }
  ClipActions end(const std::string& id, uint64_t start_frame, uint64_t end_frame) {
    return applied(planner.on_event(end_event(id, start_frame * kFrame, end_frame * kFrame)));
  }
  ClipActions applied(ClipActions actions) {
    recorder.apply(actions, 0);
    return actions;
  }
  std::vector<uint64_t>& open(const std::string& id) { return recorder.open[id]; }
  std::vector<uint64_t>& done(const std::string& id) { return recorder.done[id]; }

  ClipPlanner planner;
  Recorder recorder;
};

TEST(ClipPlannerTest, a_clip_spans_pre_roll_event_and_post_roll_from_a_keyframe) {
  Scenario s(limits(2.0, 1.0, 300.0));
  s.play(0, 105);  // the alert branch lags: the event started at 10.0 s
  s.start("e1", 100);
  EXPECT_EQ(s.open("e1").front(), 80 * kFrame);  // 10.0 s - 2 s = 8.0 s, a keyframe
  s.play(105, 135);
  s.end("e1", 100, 130);
  s.play(135, 200);
  ASSERT_EQ(s.recorder.done.count("e1"), 1u);
  EXPECT_EQ(s.done("e1").front(), 80 * kFrame);
  EXPECT_EQ(s.done("e1").back(), 139 * kFrame);  // up to 13.0 s + 1 s, exclusive
  EXPECT_EQ(s.done("e1").size(), 60u);
  EXPECT_EQ(s.planner.open_clips(), 0u);
}

TEST(ClipPlannerTest, the_pre_roll_rounds_back_to_the_keyframe_before_it) {
  Scenario s(limits(2.5, 0.0, 300.0));
  s.play(0, 100);
  s.start("e1", 95);
  EXPECT_EQ(s.open("e1").front(), 70 * kFrame);  // 9.5 - 2.5 = 7.0 s
  s.start("e2", 96);
  EXPECT_EQ(s.open("e2").front(), 70 * kFrame);  // 7.1 s: back to 7.0 s
}

TEST(ClipPlannerTest, a_start_ahead_of_the_stream_waits_for_it) {
  Scenario s(limits(1.0, 0.5, 300.0));
  s.play(0, 20);
  s.start("e1", 50);
  s.play(20, 40);
  EXPECT_TRUE(s.recorder.open.empty());
  s.play(40, 41);  // reaches 4.0 s = 5.0 s - 1 s
  EXPECT_EQ(s.open("e1"), (std::vector<uint64_t>{40 * kFrame}));
}

TEST(ClipPlannerTest, max_duration_stops_a_clip_whose_event_does_not_end) {
  Scenario s(limits(1.0, 1.0, 3.0));
  s.play(0, 30);
  s.start("e1", 30);
  s.play(30, 100);
  EXPECT_EQ(s.done("e1").front(), 20 * kFrame);
  EXPECT_EQ(s.done("e1").back(), 49 * kFrame);
  // The end that comes later is for a clip already closed: ignored.
  EXPECT_TRUE(s.end("e1", 30, 90).finished.empty());
}

TEST(ClipPlannerTest, overlapping_events_each_get_their_own_clip) {
  Scenario s(limits(1.0, 1.0, 300.0));
  s.play(0, 30);
  s.start("a", 30);
  s.play(30, 40);
  s.start("b", 40);
  EXPECT_TRUE(s.start("a", 30).started.empty());  // repeated: ignored
  s.play(40, 50);
  s.end("a", 30, 50);
  s.play(50, 70);
  s.end("b", 40, 70);
  s.play(70, 90);
  ASSERT_EQ(s.recorder.done.size(), 2u);
  EXPECT_EQ(s.done("a").front(), 20 * kFrame);
  EXPECT_EQ(s.done("a").back(), 59 * kFrame);
  EXPECT_EQ(s.done("b").front(), 30 * kFrame);
  EXPECT_EQ(s.done("b").back(), 79 * kFrame);
}

TEST(ClipPlannerTest, an_end_already_passed_closes_the_clip_at_once) {
  Scenario s(limits(1.0, 0.5, 300.0));
  s.play(0, 20);
  s.start("e1", 15);
  s.play(20, 40);
  EXPECT_EQ(s.end("e1", 15, 25).finished, std::vector<std::string>{"e1"});
}

TEST(ClipPlannerTest, an_end_without_its_start_is_ignored) {
  Scenario s(ClipLimits{});
  s.play(0, 20);
  const ClipActions actions = s.end("nope", 0, 10);
  EXPECT_TRUE(actions.started.empty());
  EXPECT_TRUE(actions.finished.empty());
}

TEST(ClipPlannerTest, finish_all_closes_open_clips_and_opens_waiting_ones) {
  Scenario s(limits(1.0, 1.0, 300.0));
  s.play(0, 30);
  s.start("open", 25);
  s.start("ahead", 80);
  s.applied(s.planner.finish_all());
  EXPECT_EQ(s.recorder.done.size(), 2u);
  EXPECT_EQ(s.done("open").front(), 10 * kFrame);
  EXPECT_EQ(s.done("ahead").front(), 20 * kFrame);  // the last keyframe there is
  EXPECT_EQ(s.planner.open_clips(), 0u);
}

TEST(ClipPlannerTest, counts_delta_units_before_the_first_keyframe) {
  Scenario s(ClipLimits{});
  s.play(3, 25);
  EXPECT_EQ(s.planner.units_dropped(), 7u);
}

TEST(ClipPlannerTest, seconds_convert_to_nanoseconds_saturating) {
  EXPECT_EQ(seconds_to_ns(1.5), 1'500'000'000u);
  EXPECT_EQ(seconds_to_ns(-1.0), 0u);
  EXPECT_EQ(seconds_to_ns(1e30), UINT64_MAX);
}

}  // namespace
}  // namespace ivs::pipeline
