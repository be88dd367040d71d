// SPDX-License-Identifier: Apache-2.0
// The bounded queue behind each Engine worker: producers push single jobs, one
// consumer pops batches of jobs that may run together. Private to the engine
// (no LibTorch, no model).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <iterator>
#include <mutex>
#include <vector>

namespace ivs::pipeline {

/// `Job` is movable and has `std::chrono::steady_clock::time_point enqueued`
/// and `bool same_batch(const Job&) const` (jobs that may share one model
/// call). Batching rule: the oldest job decides the group; the consumer waits
/// until batch_size jobs of that group are queued or until batch_timeout has
/// passed since the oldest job arrived, then takes up to batch_size of them in
/// arrival order. A consumer running a continuing batch (captions) tops it up
/// with take_more() between steps. Thread-safe; one consumer.
template <class Job>
class BatchQueue {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Push { kAccepted, kFull, kClosed };

  BatchQueue(size_t capacity, size_t batch_size, std::chrono::nanoseconds batch_timeout)
      : capacity_(capacity), batch_size_(batch_size), batch_timeout_(batch_timeout) {}

  /// Moves `job` in on kAccepted; otherwise leaves it untouched for the caller
  /// to fail. With wait_if_full, blocks while the queue is full (until room or
  /// close()).
  Push push(Job& job, bool wait_if_full) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wait_if_full) {
      not_full_.wait(lock, [&] { return closed_ || jobs_.size() < capacity_; });
    }
    if (closed_) return Push::kClosed;
    if (jobs_.size() >= capacity_) return Push::kFull;
    job.enqueued = Clock::now();
    jobs_.push_back(std::move(job));
    not_empty_.notify_all();
    return Push::kAccepted;
  }

  /// The next batch (never empty), or an empty vector once closed and drained.
  std::vector<Job> pop_batch() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      not_empty_.wait(lock, [&] { return closed_ || (!paused_ && !jobs_.empty()); });
      if (jobs_.empty()) return {};  // closed and drained
      const auto deadline = jobs_.front().enqueued + batch_timeout_;
      not_empty_.wait_until(lock, deadline, [&] {
        return closed_ || paused_ || jobs_.empty() || group_size() >= batch_size_;
      });
      if (paused_ && !closed_) continue;
      if (jobs_.empty()) continue;  // cancelled by close() meanwhile
      auto batch = take_group();
      not_full_.notify_all();
      return batch;
    }
  }

  /// Up to `max` queued jobs that may join a running batch of jobs like `like`, in arrival
  /// order, without waiting; none unless at least `min` may (model::JoinPolicy). None while
  /// paused, and none when the oldest queued job may not join: it goes first once the running
  /// batch is done, so that it never starves.
  std::vector<Job> take_more(const Job& like, size_t max, size_t min = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (max == 0 || joinable_locked(like) < std::max<size_t>(min, 1)) return {};
    auto batch = take_matching(like, max);
    not_full_.notify_all();
    return batch;
  }

  /// How many queued jobs take_more() could give a running batch of jobs like `like` (0 while
  /// paused or while the oldest may not join).
  size_t joinable(const Job& like) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return joinable_locked(like);
  }

  /// Stops accepting; wakes blocked producers (kClosed) and the consumer. With
  /// `cancel`, the queued jobs are removed and returned (for the caller to
  /// fail) in the same step, so the consumer cannot start on them; otherwise it
  /// drains them without waiting for full batches.
  std::vector<Job> close(bool cancel) {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    paused_ = false;
    std::vector<Job> cancelled;
    if (cancel) {
      cancelled.assign(std::make_move_iterator(jobs_.begin()),
                       std::make_move_iterator(jobs_.end()));
      jobs_.clear();
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    return cancelled;
  }

  void set_paused(bool paused) {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = paused && !closed_;
    not_empty_.notify_all();
  }

  size_t depth() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
  }

 private:
  // Callers hold mutex_ and jobs_ is not empty.
  size_t group_size() const {
    size_t n = 0;
    for (const auto& job : jobs_) n += jobs_.front().same_batch(job) ? 1 : 0;
    return n;
  }

  std::vector<Job> take_group() {
    Job first = std::move(jobs_.front());
    jobs_.pop_front();
    // `first` stays put while the others are taken: `like` must not live in the vector that
    // take_matching grows (a reallocation would leave it dangling).
    auto others = take_matching(first, batch_size_ - 1);
    std::vector<Job> batch;
    batch.reserve(others.size() + 1);
    batch.push_back(std::move(first));
    for (auto& job : others) batch.push_back(std::move(job));
    return batch;
  }

  size_t joinable_locked(const Job& like) const {
    if (jobs_.empty() || paused_ || !like.same_batch(jobs_.front())) return 0;
    return static_cast<size_t>(std::count_if(jobs_.begin(), jobs_.end(),
                                             [&](const Job& job) { return like.same_batch(job); }));
  }

  // Removes and returns up to `max` jobs that may share a batch with `like`, in arrival order.
  std::vector<Job> take_matching(const Job& like, size_t max) {
    std::vector<Job> taken;
    std::deque<Job> rest;
    for (auto& job : jobs_) {
      if (taken.size() < max && like.same_batch(job)) {
        taken.push_back(std::move(job));
      } else {
        rest.push_back(std::move(job));
      }
    }
    jobs_.swap(rest);
    return taken;
  }

  const size_t capacity_;
  const size_t batch_size_;
  const std::chrono::nanoseconds batch_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;  // the consumer waits here
  std::condition_variable not_full_;   // kWait producers wait here
  std::deque<Job> jobs_;               // arrival order
  bool closed_ = false;
  bool paused_ = false;
};

}  // namespace ivs::pipeline
