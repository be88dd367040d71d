// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <memory>

#include "pipeline/scheduling/result_counters.h"

namespace ivs::pipeline {
namespace {

TEST(ResultCountersTest, drop_reasons_have_the_documented_labels) {
  EXPECT_STREQ(drop_reason_label(DropReason::kEngineFull), "engine_full");
  EXPECT_STREQ(drop_reason_label(DropReason::kLate), "late");
  EXPECT_STREQ(drop_reason_label(DropReason::kFailed), "failed");
  EXPECT_STREQ(drop_reason_label(DropReason::kQueueFull), "queue_full");
}

TEST(ResultCountersTest, each_count_updates_the_element_counter_and_the_series_together) {
  auto metrics = std::make_shared<sinks::Metrics>("v", "t", "cpu");
  ResultCounters counters;
  counters.bind(metrics, "cam", "caption", /*count_frames=*/true);
  counters.frame();
  counters.frame();
  counters.sampled();
  counters.attached(0.5);
  counters.dropped(DropReason::kLate, 3);
  counters.dropped(DropReason::kEngineFull);
  EXPECT_EQ(counters.frames(), 2u);
  EXPECT_EQ(metrics->frames("cam").Value(), 2.0);
  EXPECT_EQ(counters.samples(), 1u);
  EXPECT_EQ(metrics->frames_sampled("cam", "caption").Value(), 1.0);
  EXPECT_EQ(counters.results_attached(), 1u);
  EXPECT_EQ(counters.drops(DropReason::kLate), 3u);
  EXPECT_EQ(metrics->frames_dropped("cam", "late").Value(), 3.0);
  EXPECT_EQ(counters.drops(DropReason::kEngineFull), 1u);
  EXPECT_EQ(metrics->frames_dropped("cam", "engine_full").Value(), 1.0);
  EXPECT_EQ(counters.drops(DropReason::kFailed), 0u);
}

TEST(ResultCountersTest, frames_are_left_to_the_application_when_it_counts_them) {
  auto metrics = std::make_shared<sinks::Metrics>("v", "t", "cpu");
  ResultCounters counters;
  counters.bind(metrics, "cam", "classification", /*count_frames=*/false);
  counters.frame();
  EXPECT_EQ(counters.frames(), 1u);
  EXPECT_EQ(metrics->frames("cam").Value(), 0.0);
}

TEST(ResultCountersTest, bind_resets_the_counts_of_the_previous_run) {
  auto metrics = std::make_shared<sinks::Metrics>("v", "t", "cpu");
  ResultCounters counters;
  counters.bind(metrics, "cam", "caption", true);
  counters.dropped(DropReason::kFailed);
  counters.bind(metrics, "cam", "caption", true);
  EXPECT_EQ(counters.drops(DropReason::kFailed), 0u);
  EXPECT_EQ(metrics->frames_dropped("cam", "failed").Value(), 1.0) << "the series only grows";
}

}  // namespace
}  // namespace ivs::pipeline
