// SPDX-License-Identifier: Apache-2.0
// One Engine task's queue, worker thread and counters. Private to the engine;
// free of LibTorch and of the model (the worker calls it through TaskModel).
//
// Jobs are admitted in groups (a batch: jobs that may share one model call).
// A task either finishes a group inside admit (embeddings) or keeps its jobs
// live and advances them step by step (captions: continuous batching), taking
// more queued jobs into the running batch between steps.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "pipeline/engine/batch_queue.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine/engine_inference.h"

namespace ivs::pipeline {

/// The model side of a task. Tickets name admitted jobs.
template <class Job, class Result>
struct TaskModel {
  /// Runs or starts one group (jobs that are same_batch with each other and
  /// with every live job). Returns the results that are ready at once. Throws
  /// when the group fails; it is then not admitted and live jobs go on.
  std::function<std::vector<std::pair<uint64_t, Result>>(const std::vector<const Job*>&,
                                                         const std::vector<uint64_t>&)>
      admit;
  /// Advances the live jobs by one step; null for tasks that finish in admit. Should not throw
  /// (report failures in the outcome); if it does, `abort` is called and every live job fails.
  std::function<StepOutcome<Result>()> step;
  /// Drops every live job on the model side (after step threw).
  std::function<void()> abort;
};

// The counters of one task; a mutex rather than atomics so that a snapshot is
// consistent.
class TaskCounters {
 public:
  explicit TaskCounters(int64_t batch_size) {
    stats_.batch_size_counts.assign(static_cast<size_t>(batch_size) + 1, 0);
  }

  void add_accepted() {
    update([](TaskStats& s) { ++s.accepted; });
  }
  void add_dropped() {
    update([](TaskStats& s) { ++s.dropped; });
  }
  void add_done(uint64_t completed, uint64_t failed) {
    update([=](TaskStats& s) {
      s.completed += completed;
      s.failed += failed;
    });
  }
  void add_batch(int64_t size, double seconds) {
    update([&](TaskStats& s) {
      ++s.batches;
      ++s.batch_size_counts[static_cast<size_t>(size)];
      s.last_batch_size = size;
      s.max_batch_size = std::max(s.max_batch_size, size);
      s.inference_seconds += seconds;
    });
  }

  TaskStats snapshot(size_t depth) const {
    std::lock_guard<std::mutex> lock(mutex_);
    TaskStats out = stats_;
    out.queue_depth = depth;
    return out;
  }

 private:
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    f(stats_);
  }

  mutable std::mutex mutex_;
  TaskStats stats_;
};

template <class Job, class Result>
class TaskWorker {
 public:
  using Clock = std::chrono::steady_clock;

  TaskWorker(EngineTask task, const EngineOptions& options, size_t pixels_per_image, int threads,
             TaskModel<Job, Result> model)
      : task_(task),
        options_(options),
        pixels_per_image_(pixels_per_image),
        threads_(threads),
        model_(std::move(model)),
        queue_(options.max_queue, static_cast<size_t>(options.batch_size), options.batch_timeout),
        counters_(options.batch_size),
        thread_([this] { loop(); }) {}

  ~TaskWorker() { shutdown(Engine::ShutdownMode::kDrain); }

  std::optional<std::future<Result>> submit(Job job, Admission admission) {
    auto future = job.promise.get_future();
    switch (queue_.push(job, admission == Admission::kWait)) {
      case BatchQueue<Job>::Push::kAccepted:
        counters_.add_accepted();
        return future;
      case BatchQueue<Job>::Push::kFull:
        counters_.add_dropped();
        return std::nullopt;
      case BatchQueue<Job>::Push::kClosed:
        break;
    }
    job.promise.set_exception(std::make_exception_ptr(stopped_error()));
    return future;
  }

  void set_paused(bool paused) { queue_.set_paused(paused); }
  TaskStats stats() const { return counters_.snapshot(queue_.depth()); }

  // Called once at a time (Engine::shutdown serialises); later calls find
  // nothing to do. Live jobs always finish; kCancel fails the queued ones.
  void shutdown(Engine::ShutdownMode mode) {
    auto cancelled = queue_.close(mode == Engine::ShutdownMode::kCancel);
    counters_.add_done(0, cancelled.size());  // before the futures: a woken caller sees it
    for (auto& job : cancelled) job.promise.set_exception(std::make_exception_ptr(stopped_error()));
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Live {
    Job job;
    uint64_t group = 0;
    double queue_seconds = 0.0;
  };
  struct Group {
    int64_t size = 0;
    int64_t remaining = 0;
    Clock::time_point admitted;
    std::vector<double> queue_seconds;
    bool failed = false;
  };
  struct Outcome {
    uint64_t ticket = 0;
    std::optional<Result> result;
    std::exception_ptr error;
  };

  EngineStopped stopped_error() const {
    return EngineStopped(std::string("the InternVL engine was shut down; the ") +
                         engine_task_name(task_) + " request was not run");
  }

  void loop() {
    set_inference_threads(threads_);
    c10::InferenceMode guard;  // no autograd bookkeeping for anything this thread runs
    for (;;) {
      auto group = live_.empty() ? queue_.pop_batch() : take_joining();
      if (group.empty() && live_.empty()) return;  // closed and drained
      reject_wrong_sizes(group);
      if (!group.empty()) admit(std::move(group));
      if (!live_.empty()) advance();
    }
  }

  // Queued jobs that join the running batch now (options_.caption_join decides how many make it
  // worth pausing the live ones for their prefill).
  std::vector<Job> take_joining() {
    const auto live = static_cast<int64_t>(live_.size());
    const auto free = static_cast<int64_t>(free_slots());
    const auto min = options_.caption_join.min_joining(live, free, steps_waited_);
    return queue_.take_more(live_.begin()->second.job, static_cast<size_t>(free),
                            static_cast<size_t>(min));
  }

  size_t free_slots() const {
    const auto capacity = static_cast<size_t>(options_.batch_size);
    return live_.size() >= capacity ? 0 : capacity - live_.size();
  }

  // A wrong-sized image fails alone, before the batch is assembled around it.
  void reject_wrong_sizes(std::vector<Job>& batch) {
    // An NV12 picture was checked at submit; the engine preprocesses it to the right size.
    auto right = [&](const Job& job) { return job.nv12 || job.pixels.size() == pixels_per_image_; };
    const auto first_bad = std::stable_partition(batch.begin(), batch.end(), right);
    counters_.add_done(0, static_cast<uint64_t>(batch.end() - first_bad));
    for (auto it = first_bad; it != batch.end(); ++it) {
      it->promise.set_exception(std::make_exception_ptr(
          model::InputError("an image of " + std::to_string(it->pixels.size()) +
                            " floats was submitted; the model takes 3 x H x W = " +
                            std::to_string(pixels_per_image_))));
    }
    batch.erase(first_bad, batch.end());
  }

  void admit(std::vector<Job> batch) {
    steps_waited_ = 0;  // whoever waited has joined
    const auto now = Clock::now();
    const auto group_id = next_group_++;
    Group& group = groups_[group_id];
    group.size = group.remaining = static_cast<int64_t>(batch.size());
    group.admitted = now;
    std::vector<uint64_t> tickets;
    std::vector<const Job*> jobs;
    for (auto& job : batch) {
      const double queued = std::chrono::duration<double>(now - job.enqueued).count();
      group.queue_seconds.push_back(queued);
      const auto ticket = next_ticket_++;
      auto& live = live_.emplace(ticket, Live{std::move(job), group_id, queued}).first->second;
      tickets.push_back(ticket);
      jobs.push_back(&live.job);
    }
    std::vector<Outcome> outcomes;
    try {
      for (auto& [ticket, result] : model_.admit(jobs, tickets)) {
        outcomes.push_back({ticket, std::move(result), nullptr});
      }
    } catch (...) {
      const auto error = std::current_exception();
      log_failure(tickets.size(), describe(error).c_str());
      fail_unanswered(tickets, outcomes, error);
    }
    if (!model_.step) {  // a task without steps must answer every job in admit
      fail_unanswered(
          tickets, outcomes,
          std::make_exception_ptr(std::logic_error("the model returned too few results")));
    }
    complete(std::move(outcomes));
  }

  // Fails with `error` every ticket of `tickets` that no outcome answers yet; returns how many.
  static size_t fail_unanswered(const std::vector<uint64_t>& tickets,
                                std::vector<Outcome>& outcomes, const std::exception_ptr& error) {
    const size_t answered = outcomes.size();
    for (auto ticket : tickets) {
      const bool done = std::any_of(outcomes.begin(), outcomes.begin() + answered,
                                    [&](const Outcome& o) { return o.ticket == ticket; });
      if (!done) outcomes.push_back({ticket, std::nullopt, error});
    }
    return outcomes.size() - answered;
  }

  void advance() {
    // Decode steps run while jobs that may join wait (model::JoinPolicy::max_waiting_steps).
    if (queue_.joinable(live_.begin()->second.job) > 0) ++steps_waited_;
    StepOutcome<Result> step;
    try {
      step = model_.step();
    } catch (...) {  // a thrown step must not end the worker thread: the live jobs fail instead
      step = StepOutcome<Result>{};
      step.error = std::current_exception();
      if (model_.abort) model_.abort();
    }
    std::vector<Outcome> outcomes;
    for (auto& [ticket, result] : step.finished)
      outcomes.push_back({ticket, std::move(result), nullptr});
    for (auto& [ticket, error] : step.failed) outcomes.push_back({ticket, std::nullopt, error});
    if (step.error) {  // every job still live is lost
      std::vector<uint64_t> live_tickets;
      for (const auto& entry : live_) live_tickets.push_back(entry.first);
      const auto lost = fail_unanswered(live_tickets, outcomes, step.error);
      log_failure(lost, describe(step.error).c_str());
    }
    complete(std::move(outcomes));
  }

  // Counters first, then the futures, then the reports: a caller woken by its
  // result sees it (and its finished batch) in stats().
  void complete(std::vector<Outcome> outcomes) {
    const auto now = Clock::now();
    std::vector<BatchReport> reports;
    uint64_t completed = 0, failed = 0;
    for (const auto& outcome : outcomes) {
      (outcome.error ? failed : completed) += 1;
      auto& group = groups_.at(live_.at(outcome.ticket).group);
      group.failed = group.failed || outcome.error != nullptr;
      if (--group.remaining > 0) continue;
      BatchReport report{task_, group.size, seconds_since(group.admitted, now), group.queue_seconds,
                         group.failed};
      counters_.add_batch(report.batch_size, report.inference_seconds);
      reports.push_back(std::move(report));
    }
    counters_.add_done(completed, failed);
    for (auto& outcome : outcomes) {
      auto node = live_.extract(outcome.ticket);
      auto& live = node.mapped();
      if (outcome.error) {
        live.job.promise.set_exception(outcome.error);
      } else {
        const auto& group = groups_.at(live.group);
        outcome.result->timing = {live.queue_seconds, seconds_since(group.admitted, now), 0.0,
                                  group.size};
        live.job.promise.set_value(std::move(*outcome.result));
      }
    }
    for (auto it = groups_.begin(); it != groups_.end();) {
      it = it->second.remaining == 0 ? groups_.erase(it) : std::next(it);
    }
    for (const auto& report : reports) notify(report);
  }

  static double seconds_since(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  }

  static std::string describe(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown exception";
    }
  }

  void log_failure(size_t jobs, const char* what) const {
    if (!options_.log) return;
    options_.log(EngineLogLevel::kWarning, std::string(engine_task_name(task_)) + " batch of " +
                                               std::to_string(jobs) + " failed: " + what);
  }

  void notify(const BatchReport& report) {
    if (!options_.batch_observer) return;
    try {
      options_.batch_observer(report);
    } catch (const std::exception& e) {  // an observer bug must not stop the worker
      if (options_.log) {
        options_.log(EngineLogLevel::kError, std::string("batch observer threw: ") + e.what());
      }
    }
  }

  const EngineTask task_;
  const EngineOptions& options_;  // owned by the Engine, which outlives its workers
  const size_t pixels_per_image_;
  const int threads_;
  const TaskModel<Job, Result> model_;
  BatchQueue<Job> queue_;
  TaskCounters counters_;
  // Worker thread only:
  std::map<uint64_t, Live> live_;  // admitted, not yet completed
  std::map<uint64_t, Group> groups_;
  int64_t steps_waited_ = 0;  // decode steps since queued jobs last joined
  uint64_t next_ticket_ = 0;
  uint64_t next_group_ = 0;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace ivs::pipeline
