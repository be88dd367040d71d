// SPDX-License-Identifier: Apache-2.0
// The worker's continuous batching, driven by a scripted model: the test decides when each
// step runs, so which jobs join a running batch is deterministic.
#include "pipeline/engine/task_worker.h"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "tests/pipeline/engine/engine_test_support.h"

namespace ivs::pipeline {
namespace {

using test_support::completes;

struct FakeResult {
  int name = 0;
  TimingRecord timing;
};

struct FakeJob {
  std::vector<float> pixels{0.0f};
  bool nv12 = false;  // the engine's jobs may carry an NV12 picture instead of pixels
  int name = 0;
  // Jobs of equal keys may share a batch. A string longer than any small-string buffer, as
  // caption prompts are: comparing against a job that moved away reads freed memory.
  std::string key;
  int steps = 1;  // decode steps the job takes
  std::promise<FakeResult> promise;
  std::chrono::steady_clock::time_point enqueued;

  bool same_batch(const FakeJob& other) const { return key == other.key; }
};

std::string key_of(int key) {
  return "a batching key longer than a small string " + std::to_string(key);
}

enum class StepEnd { kOk, kError, kThrow };  // how a scripted step ends

// Records admissions; every step waits for the test's permit.
class ScriptedModel {
 public:
  TaskModel<FakeJob, FakeResult> model() {
    TaskModel<FakeJob, FakeResult> m;
    m.admit = [this](const std::vector<const FakeJob*>& jobs,
                     const std::vector<uint64_t>& tickets) {
      std::lock_guard<std::mutex> lock(mutex_);
      std::vector<int> names;
      for (size_t i = 0; i < jobs.size(); ++i) {
        names.push_back(jobs[i]->name);
        live_[tickets[i]] = {jobs[i]->name, jobs[i]->steps};
      }
      admitted_.push_back({names, static_cast<int>(live_.size() - jobs.size())});
      changed_.notify_all();
      return std::vector<std::pair<uint64_t, FakeResult>>{};
    };
    m.step = [this] { return step(); };
    m.abort = [this] {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.clear();
      ++aborts_;
    };
    return m;
  }

  // Lets one step run once the worker waits for it.
  void permit_step(StepEnd end = StepEnd::kOk) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return waiting_; });
    waiting_ = false;
    permits_ = 1;
    end_next_ = end;
    changed_.notify_all();
  }

  int aborts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return aborts_;
  }

  // From now on steps run without permits (so that a failing test ends instead of hanging).
  void run_freely() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_ = true;
    changed_.notify_all();
  }

  // Waits until the worker is blocked in a step (every admission before it done).
  void wait_for_step() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return waiting_; });
  }

  struct Admission {
    std::vector<int> names;
    int live_before = 0;  // jobs decoding when this group joined
  };
  std::vector<Admission> admitted() {
    std::lock_guard<std::mutex> lock(mutex_);
    return admitted_;
  }

 private:
  StepOutcome<FakeResult> step() {
    std::unique_lock<std::mutex> lock(mutex_);
    waiting_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return permits_ > 0 || free_; });
    permits_ = 0;
    StepOutcome<FakeResult> out;
    for (auto it = live_.begin(); it != live_.end();) {
      if (--it->second.second > 0) {
        ++it;
        continue;
      }
      out.finished.emplace_back(it->first, FakeResult{it->second.first, {}});
      it = live_.erase(it);
    }
    if (end_next_ == StepEnd::kThrow) throw std::runtime_error("a bug in the model code");
    if (end_next_ == StepEnd::kError) {
      out.error = std::make_exception_ptr(std::runtime_error("device lost"));
      live_.clear();
    }
    return out;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool waiting_ = false;
  int permits_ = 0;
  StepEnd end_next_ = StepEnd::kOk;
  bool free_ = false;
  int aborts_ = 0;
  std::map<uint64_t, std::pair<int, int>> live_;  // ticket -> (name, steps left)
  std::vector<Admission> admitted_;
};

EngineOptions options() {
  auto o = test_support::small_options();
  o.batch_timeout = std::chrono::nanoseconds(0);  // a lone job starts at once
  return o;
}

class TaskWorkerTest : public ::testing::Test {
 protected:
  explicit TaskWorkerTest(EngineOptions o = options())
      : opts(std::move(o)), worker{EngineTask::kCaption, opts, 1, 1, model.model()} {}
  ~TaskWorkerTest() override { model.run_freely(); }  // the worker drains before it is gone

  std::future<FakeResult> submit(int name, int key, int steps) {
    FakeJob job;
    job.name = name;
    job.key = key_of(key);
    job.steps = steps;
    return *worker.submit(std::move(job), Admission::kWait);
  }

  ScriptedModel model;  // outlives the worker
  const EngineOptions opts;
  TaskWorker<FakeJob, FakeResult> worker;
};

TEST_F(TaskWorkerTest, a_job_queued_while_others_decode_joins_at_the_next_step) {
  auto a = submit(1, 0, 3);
  model.wait_for_step();
  auto b = submit(2, 0, 1);
  model.permit_step();  // a: 2 left; b is taken in before the next step
  model.permit_step();  // a: 1 left, b done
  ASSERT_TRUE(completes(b));
  EXPECT_EQ(b.get().name, 2);
  EXPECT_EQ(a.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  model.permit_step();
  ASSERT_TRUE(completes(a));
  const auto result = a.get();
  EXPECT_EQ(result.name, 1);
  EXPECT_EQ(result.timing.batch_size, 1);
  const auto admitted = model.admitted();
  ASSERT_EQ(admitted.size(), 2u);
  EXPECT_EQ(admitted[1].names, std::vector<int>{2});
  EXPECT_EQ(admitted[1].live_before, 1) << "b must join while a decodes";
  const auto stats = worker.stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.completed, 2u);
}

TEST_F(TaskWorkerTest, a_job_that_may_not_join_waits_and_keeps_its_place) {
  auto a = submit(1, 0, 2);
  model.wait_for_step();
  auto c = submit(2, 1, 1);  // other settings: cannot join
  auto d = submit(3, 0, 1);  // could join, but must not overtake c
  model.permit_step();
  model.permit_step();  // a done
  model.permit_step();  // c done
  model.permit_step();  // d done
  ASSERT_TRUE(completes(a) && completes(c) && completes(d));
  const auto admitted = model.admitted();
  ASSERT_EQ(admitted.size(), 3u);
  EXPECT_EQ(admitted[1].names, std::vector<int>{2});
  EXPECT_EQ(admitted[1].live_before, 0);
  EXPECT_EQ(admitted[2].names, std::vector<int>{3});
}

TEST_F(TaskWorkerTest, a_failed_step_fails_the_live_jobs_keeps_finished_ones_and_goes_on) {
  auto a = submit(1, 0, 1);
  model.wait_for_step();
  auto b = submit(2, 0, 5);
  model.permit_step();                 // a done; b joins
  model.permit_step(StepEnd::kError);  // the model fails: b is lost
  ASSERT_TRUE(completes(a) && completes(b));
  EXPECT_EQ(a.get().name, 1);
  EXPECT_THROW(b.get(), std::runtime_error);
  auto e = submit(4, 0, 1);
  model.permit_step();
  ASSERT_TRUE(completes(e));
  EXPECT_EQ(e.get().name, 4);
  const auto stats = worker.stats();
  EXPECT_EQ(stats.completed, 2u);
  EXPECT_EQ(stats.failed, 1u);
}

// A step that throws (a bug, not a reported failure) fails the live jobs and the worker goes on;
// the model is told to drop them.
TEST_F(TaskWorkerTest, a_throwing_step_fails_the_live_jobs_and_the_worker_goes_on) {
  auto a = submit(1, 0, 5);
  model.wait_for_step();
  model.permit_step(StepEnd::kThrow);
  ASSERT_TRUE(completes(a));
  EXPECT_THROW(a.get(), std::runtime_error);
  EXPECT_EQ(model.aborts(), 1);
  auto b = submit(2, 0, 1);
  model.permit_step();
  ASSERT_TRUE(completes(b));
  EXPECT_EQ(b.get().name, 2);
}

// Jobs queued together are taken together, up to batch-size, whatever their keys' storage.
TEST_F(TaskWorkerTest, queued_jobs_of_one_key_are_admitted_as_one_batch) {
  worker.set_paused(true);
  std::vector<std::future<FakeResult>> futures;
  for (int name = 1; name <= 6; ++name) futures.push_back(submit(name, 0, 1));
  worker.set_paused(false);
  model.wait_for_step();
  const auto admitted = model.admitted();
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].names, (std::vector<int>{1, 2, 3, 4})) << "one batch of batch-size jobs";
  model.run_freely();
  for (auto& f : futures) ASSERT_TRUE(completes(f));
}

EngineOptions join_options() {
  auto o = options();
  o.batch_size = 8;
  o.caption_join.waiting_served_ratio = 1.0;
  o.caption_join.max_waiting_steps = 3;
  return o;
}

class JoinPolicyTest : public TaskWorkerTest {
 protected:
  JoinPolicyTest() : TaskWorkerTest(join_options()) {}

  // Lets one step run and waits until the worker is in the next one (joins decided).
  size_t step_then_count_admissions() {
    model.permit_step();
    model.wait_for_step();
    return model.admitted().size();
  }
};

// Waiting jobs join once they number ratio x live (here 1 x live), or after max_waiting_steps
// decode steps however few they are.
TEST_F(JoinPolicyTest, waiting_jobs_join_in_groups_or_after_the_step_limit) {
  auto a = submit(1, 0, 50);
  model.wait_for_step();
  auto b = submit(2, 0, 50);  // 1 waiting >= 1 x 1 live: joins at the next step
  ASSERT_EQ(step_then_count_admissions(), 2u);
  auto c = submit(3, 0, 50);  // 1 waiting < 1 x 2 live: waits for company or 3 steps
  EXPECT_EQ(step_then_count_admissions(), 2u);
  EXPECT_EQ(step_then_count_admissions(), 2u);
  EXPECT_EQ(step_then_count_admissions(), 2u);
  ASSERT_EQ(step_then_count_admissions(), 3u) << "c joins after waiting 3 decode steps";
  auto d = submit(4, 0, 1);
  auto e = submit(5, 0, 1);
  auto f = submit(6, 0, 1);  // 3 waiting >= 1 x 3 live: they join together at once
  ASSERT_EQ(step_then_count_admissions(), 4u);
  const auto admitted = model.admitted();
  EXPECT_EQ(admitted[1].names, std::vector<int>{2});
  EXPECT_EQ(admitted[2].names, std::vector<int>{3});
  EXPECT_EQ(admitted[2].live_before, 2);
  EXPECT_EQ(admitted[3].names, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(admitted[3].live_before, 3);
  model.run_freely();
  for (auto* future : {&a, &b, &c, &d, &e, &f}) ASSERT_TRUE(completes(*future));
}

}  // namespace
}  // namespace ivs::pipeline
