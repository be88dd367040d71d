// SPDX-License-Identifier: Apache-2.0
// The result scheduling rules in simulated time: requests are promises the test fulfils, and
// the clock moves only when the test (or a wait that runs out) moves it.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "pipeline/scheduling/result_scheduler.h"
#include "tests/common/fake_clock.h"

namespace ivs::pipeline {
namespace {

using namespace std::chrono_literals;
using Scheduler = ResultScheduler<int, std::string>;

class ResultSchedulerTest : public ::testing::Test {
 protected:
  Scheduler::Request request(std::promise<std::string>& promise, uint64_t frame) {
    return Scheduler::Request{promise.get_future(), frame, clock_.now()};
  }
  static SchedulingOptions own_frame(std::chrono::nanoseconds max_latency = 1s) {
    SchedulingOptions options;
    options.target = ResultTarget::kOwnFrame;
    options.max_latency = max_latency;
    return options;
  }
  static SchedulingOptions later_frame() {
    SchedulingOptions options;
    options.target = ResultTarget::kLaterFrame;
    options.max_in_flight = 1;
    options.wait_limit = 30s;
    return options;
  }

  testing::FakeClock clock_;
  ResultCounters counters_;
};

TEST_F(ResultSchedulerTest, own_frame_items_leave_in_order_each_with_its_own_result) {
  Scheduler scheduler(own_frame(), counters_, clock_);
  std::promise<std::string> first;
  std::promise<std::string> second;
  ASSERT_TRUE(scheduler.push(1, request(first, 10)));
  ASSERT_TRUE(scheduler.push(2));  // not sampled: no result of its own
  ASSERT_TRUE(scheduler.push(3, request(second, 12)));

  second.set_value("second");
  EXPECT_FALSE(scheduler.try_pop()) << "the head waits for its result; nothing overtakes it";
  first.set_value("first");

  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 1);
  ASSERT_EQ(out->results.size(), 1u);
  EXPECT_EQ(*out->results[0].result, "first");
  EXPECT_EQ(out->results[0].frame_number, 10u);
  out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 2);
  EXPECT_TRUE(out->results.empty());
  out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 3);
  ASSERT_EQ(out->results.size(), 1u);
  EXPECT_EQ(*out->results[0].result, "second");
  EXPECT_FALSE(scheduler.try_pop());
  EXPECT_EQ(counters_.drops(DropReason::kLate), 0u);
}

TEST_F(ResultSchedulerTest, own_frame_leaves_without_its_result_after_max_latency) {
  Scheduler scheduler(own_frame(250ms), counters_, clock_);
  std::promise<std::string> never;
  ASSERT_TRUE(scheduler.push(1, request(never, 0)));
  clock_.advance(249ms);
  EXPECT_FALSE(scheduler.try_pop());
  clock_.advance(1ms);
  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 1);
  EXPECT_TRUE(out->results.empty());
  EXPECT_TRUE(out->late);
  EXPECT_EQ(counters_.drops(DropReason::kLate), 1u);
}

TEST_F(ResultSchedulerTest, blocking_pop_waits_until_the_deadline_in_simulated_time) {
  Scheduler scheduler(own_frame(1s), counters_, clock_);
  std::promise<std::string> never;
  const auto start = clock_.now();
  ASSERT_TRUE(scheduler.push(7, request(never, 0)));
  auto out = scheduler.pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 7);
  EXPECT_TRUE(out->results.empty());
  EXPECT_EQ(clock_.now() - start, 1s) << "waited exactly max-latency, in slices";
  EXPECT_EQ(counters_.drops(DropReason::kLate), 1u);
}

TEST_F(ResultSchedulerTest, a_changed_max_latency_applies_to_frames_pushed_afterwards) {
  Scheduler scheduler(own_frame(1s), counters_, clock_);
  std::promise<std::string> a;
  std::promise<std::string> b;
  ASSERT_TRUE(scheduler.push(1, request(a, 0)));
  scheduler.set_max_latency(5s);
  ASSERT_TRUE(scheduler.push(2, request(b, 1)));
  clock_.advance(1s);
  ASSERT_TRUE(scheduler.try_pop());  // the first, late
  clock_.advance(3s);
  EXPECT_FALSE(scheduler.try_pop()) << "the second waits its own 5 s";
  clock_.advance(1s);
  EXPECT_TRUE(scheduler.try_pop());
  EXPECT_EQ(counters_.drops(DropReason::kLate), 2u);
}

TEST_F(ResultSchedulerTest, a_failed_request_carries_its_error_and_is_counted_failed) {
  Scheduler scheduler(own_frame(), counters_, clock_);
  std::promise<std::string> failing;
  ASSERT_TRUE(scheduler.push(1, request(failing, 0)));
  failing.set_exception(std::make_exception_ptr(std::runtime_error("model error")));
  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  ASSERT_EQ(out->results.size(), 1u);
  EXPECT_FALSE(out->results[0].result);
  EXPECT_EQ(out->results[0].error, "model error");
  EXPECT_EQ(counters_.drops(DropReason::kFailed), 1u);
  EXPECT_EQ(counters_.drops(DropReason::kLate), 0u);
}

TEST_F(ResultSchedulerTest, close_wakes_a_blocked_pop_and_refuses_items_until_opened) {
  Scheduler scheduler(own_frame(), counters_, clock_);
  std::thread popper([&] { EXPECT_FALSE(scheduler.pop()); });
  scheduler.close();
  popper.join();
  EXPECT_FALSE(scheduler.push(1));
  scheduler.open();
  EXPECT_TRUE(scheduler.push(2));
  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 2);
}

TEST_F(ResultSchedulerTest, a_push_waiting_for_room_returns_when_an_item_leaves) {
  SchedulingOptions options = own_frame();
  options.max_queued = 1;
  Scheduler scheduler(options, counters_, clock_);
  ASSERT_TRUE(scheduler.push(1));
  std::thread pusher([&] { EXPECT_TRUE(scheduler.push(2)); });
  auto out = scheduler.pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 1);
  pusher.join();
  out = scheduler.pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 2);
}

TEST_F(ResultSchedulerTest, flush_destroys_queued_items_uncounted_and_stays_open) {
  ResultScheduler<std::shared_ptr<int>, std::string> scheduler(own_frame(), counters_, clock_);
  auto item = std::make_shared<int>(1);
  std::weak_ptr<int> watch = item;
  std::promise<std::string> pending;
  ASSERT_TRUE(scheduler.push(std::move(item),
                             decltype(scheduler)::Request{pending.get_future(), 0, clock_.now()}));
  EXPECT_EQ(scheduler.flush(), 0u);
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(counters_.drops(DropReason::kLate), 0u) << "a flushed frame never leaves";
  EXPECT_TRUE(scheduler.push(std::make_shared<int>(2)));
}

TEST_F(ResultSchedulerTest, later_frame_live_refuses_a_sample_while_one_runs) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(false);
  std::promise<std::string> running;
  ASSERT_EQ(scheduler.admit(), Scheduler::Admit::kAdmitted);
  scheduler.track(request(running, 0));
  EXPECT_EQ(scheduler.admit(), Scheduler::Admit::kRefused);
  EXPECT_EQ(counters_.drops(DropReason::kEngineFull), 1u);
  running.set_value("done");
  auto done = scheduler.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(*done[0].result, "done");
  EXPECT_EQ(scheduler.admit(), Scheduler::Admit::kAdmitted);
}

TEST_F(ResultSchedulerTest, later_frame_back_pressure_waits_for_the_request_in_flight) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> running;
  scheduler.track(request(running, 3));
  running.set_value("caption");
  EXPECT_EQ(scheduler.admit(), Scheduler::Admit::kAdmitted);
  auto done = scheduler.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].frame_number, 3u);
  EXPECT_EQ(counters_.drops(DropReason::kEngineFull), 0u);
}

TEST_F(ResultSchedulerTest, later_frame_back_pressure_waits_at_most_the_wait_limit) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> stuck;
  scheduler.track(request(stuck, 0));
  const auto start = clock_.now();
  EXPECT_EQ(scheduler.admit(), Scheduler::Admit::kAdmittedAfterAbandoning);
  EXPECT_EQ(clock_.now() - start, 30s);
  EXPECT_EQ(counters_.drops(DropReason::kLate), 1u);
  EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST_F(ResultSchedulerTest, later_frame_results_come_back_in_submission_order) {
  SchedulingOptions options = later_frame();
  options.max_in_flight = 2;
  Scheduler scheduler(options, counters_, clock_);
  std::promise<std::string> first;
  std::promise<std::string> second;
  scheduler.track(request(first, 0));
  scheduler.track(request(second, 5));
  second.set_value("b");
  EXPECT_TRUE(scheduler.take_finished().empty());
  first.set_value("a");
  auto done = scheduler.take_finished();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(*done[0].result, "a");
  EXPECT_EQ(*done[1].result, "b");
}

TEST_F(ResultSchedulerTest, back_pressure_holds_the_newest_frame_for_the_end_of_stream) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> running;
  ASSERT_TRUE(scheduler.push(0));
  scheduler.track(request(running, 0));
  EXPECT_FALSE(scheduler.try_pop()) << "held: it may have to carry the caption at EOS";
  ASSERT_TRUE(scheduler.push(1));
  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 0);
  EXPECT_FALSE(scheduler.try_pop());

  running.set_value("caption of 0");
  EXPECT_EQ(scheduler.finish(), 0u);
  out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->item, 1);
  ASSERT_EQ(out->results.size(), 1u);
  EXPECT_EQ(*out->results[0].result, "caption of 0");
  EXPECT_EQ(counters_.drops(DropReason::kLate), 0u);
}

TEST_F(ResultSchedulerTest, the_end_of_a_non_live_stream_waits_at_most_the_wait_limit) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> stuck;
  ASSERT_TRUE(scheduler.push(0));
  scheduler.track(request(stuck, 0));
  const auto start = clock_.now();
  EXPECT_EQ(scheduler.finish(), 1u);
  EXPECT_EQ(clock_.now() - start, 30s);
  auto out = scheduler.try_pop();
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->results.empty());
  EXPECT_EQ(counters_.drops(DropReason::kLate), 1u);
}

TEST_F(ResultSchedulerTest, live_never_holds_a_frame_and_its_end_drops_what_runs) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(false);
  std::promise<std::string> running;
  ASSERT_TRUE(scheduler.push(0));
  scheduler.track(request(running, 0));
  EXPECT_TRUE(scheduler.try_pop());
  EXPECT_EQ(scheduler.finish(), 1u);
  EXPECT_EQ(counters_.drops(DropReason::kLate), 1u);
}

TEST_F(ResultSchedulerTest, release_all_lets_a_held_frame_out_before_an_event) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> running;
  ASSERT_TRUE(scheduler.push(0));
  scheduler.track(request(running, 0));
  auto out = scheduler.release_all();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].item, 0);
  EXPECT_EQ(scheduler.in_flight(), 1u) << "the caption stays for a later frame";
}

TEST_F(ResultSchedulerTest, flush_drops_requests_in_flight_counted_late) {
  Scheduler scheduler(later_frame(), counters_, clock_);
  scheduler.set_back_pressure(true);
  std::promise<std::string> running;
  std::promise<std::string> finished;
  ASSERT_TRUE(scheduler.push(0));
  scheduler.track(request(finished, 0));
  finished.set_value("never attached");
  scheduler.track(request(running, 1));
  EXPECT_EQ(scheduler.flush(), 2u);
  EXPECT_FALSE(scheduler.try_pop());
  EXPECT_EQ(counters_.drops(DropReason::kLate), 2u);
}

}  // namespace
}  // namespace ivs::pipeline
