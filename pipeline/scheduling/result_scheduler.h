// SPDX-License-Identifier: Apache-2.0
// Result scheduling for the inference elements, free of GStreamer: frames (and whatever must
// keep its place among them, like serialized events) leave in the order they came, and each
// result reaches a frame by one of two rules:
//   kOwnFrame   (internvlclassify) a sampled frame waits for its own result, at most
//               max_latency; then it leaves without it, counted kLate;
//   kLaterFrame (internvlcaption) frames never wait for a result: a finished result rides on a
//               later frame, and at most max_in_flight requests run at once.
// Back-pressure (the element's liveness rule decides it) is what a non-live stream gets: a
// sample waits for room instead of being dropped, and with kLaterFrame the newest frame is held
// back while a request runs, so that the end of the stream still has a frame to carry it.
// Live streams never wait; what they lose is counted by reason in ResultCounters.
//
// Threads: every method is safe to call from any thread. pop() and push() block (the
// classify element's streaming thread pushes while its source-pad task pops); an element
// that works on one thread uses try_pop() and never blocks on itself.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/scheduling/clock.h"
#include "pipeline/scheduling/result_counters.h"

namespace ivs::pipeline {

enum class ResultTarget { kOwnFrame, kLaterFrame };

struct SchedulingOptions {
  ResultTarget target = ResultTarget::kOwnFrame;
  std::chrono::nanoseconds max_latency = std::chrono::seconds(1);  // kOwnFrame
  size_t max_in_flight = 1;                                        // kLaterFrame
  // kLaterFrame with back-pressure: the longest wait for a request in flight (before the next
  // sample, or at the end of the stream).
  std::chrono::nanoseconds wait_limit = std::chrono::seconds(30);
  size_t max_queued = 128;  // items waiting to leave before push() blocks
};

/// How a blocking wait checks for a flush: results are polled in slices this long.
inline constexpr std::chrono::milliseconds kSchedulerPollSlice{10};

template <typename Item, typename Result>
class ResultScheduler {
 public:
  using TimePoint = Clock::TimePoint;

  /// One submitted inference and the frame it describes.
  struct Request {
    std::future<Result> future;
    uint64_t frame_number = 0;
    TimePoint sampled_at{};  // start of the result latency
    uint64_t pts = 0;        // stream time of the frame, ns
  };
  /// A request that ended: its result, or the error it failed with (counted kFailed).
  struct Finished {
    uint64_t frame_number = 0;
    TimePoint sampled_at{};
    uint64_t pts = 0;
    std::optional<Result> result;
    std::string error;
  };
  /// An item allowed to leave, with the results to attach to it, oldest first.
  struct Released {
    Item item;
    std::vector<Finished> results;
    bool late = false;  // kOwnFrame: it leaves without its result (max-latency passed)
  };
  enum class Admit { kAdmitted, kRefused, kAdmittedAfterAbandoning };

  ResultScheduler(SchedulingOptions options, ResultCounters& counters,
                  const Clock& clock = Clock::steady())
      : options_(options), counters_(counters), clock_(clock) {}
  ResultScheduler(const ResultScheduler&) = delete;
  ResultScheduler& operator=(const ResultScheduler&) = delete;

  TimePoint now() const { return clock_.now(); }

  void set_back_pressure(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    back_pressure_ = on;
  }
  bool back_pressure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return back_pressure_;
  }
  /// kOwnFrame: applies to items pushed from now on.
  void set_max_latency(std::chrono::nanoseconds latency) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.max_latency = latency;
  }

  /// Queues `item`; with `request` (kOwnFrame) the item waits for that result. Blocks while
  /// max_queued items wait; returns false (the item is destroyed) when closed.
  bool push(Item item, std::optional<Request> request = std::nullopt) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || queue_.size() < options_.max_queued; });
    if (closed_) return false;
    Entry entry{std::move(item), std::move(request), clock_.now() + options_.max_latency, {}};
    queue_.push_back(std::move(entry));
    lock.unlock();
    changed_.notify_all();
    return true;
  }

  /// kLaterFrame: whether a new sample may be submitted. With max_in_flight requests running,
  /// back-pressure waits (at most wait_limit) for the oldest (its result comes back through
  /// take_finished(); one still running then is abandoned, counted kLate); a live stream gets
  /// kRefused, counted kEngineFull.
  Admit admit() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (in_flight_.size() < options_.max_in_flight) return Admit::kAdmitted;
    if (!back_pressure_) {
      counters_.dropped(DropReason::kEngineFull);
      return Admit::kRefused;
    }
    const TimePoint deadline = clock_.now() + options_.wait_limit;
    while (in_flight_.size() >= options_.max_in_flight) {
      if (!wait_for_front(lock, deadline)) {
        abandon_in_flight(lock);
        return Admit::kAdmittedAfterAbandoning;
      }
    }
    return Admit::kAdmitted;
  }

  /// kLaterFrame: a submitted request; its result goes to a later frame.
  void track(Request request) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.push_back(std::move(request));
  }

  /// kLaterFrame: the requests that are done, oldest first, without waiting.
  std::vector<Finished> take_finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    collect_ready();
    return std::exchange(finished_, {});
  }

  /// Requests in flight (kLaterFrame).
  size_t in_flight() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_flight_.size();
  }

  /// The next item that may leave, without waiting: kOwnFrame when its result is in or its
  /// deadline passed (then without it, counted kLate); kLaterFrame at once, except the newest
  /// item while back-pressure holds it for a request in flight.
  std::optional<Released> try_pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (queue_.empty() || holds_newest()) return std::nullopt;
    Entry& head = queue_.front();
    if (head.request && !is_ready(head.request->future) && clock_.now() < head.deadline) {
      return std::nullopt;
    }
    Entry entry = take_head(lock);
    return release(std::move(entry), /*wait=*/false);
  }

  /// As try_pop(), waiting for an item and for its result (until its deadline); nullopt once
  /// closed.
  std::optional<Released> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || (!queue_.empty() && !holds_newest()); });
    if (closed_) return std::nullopt;
    Entry entry = take_head(lock);
    return release(std::move(entry), /*wait=*/true);
  }

  /// End of stream. With back-pressure and an item queued, waits (at most wait_limit) for the
  /// requests in flight and gives their results to the newest item; otherwise drops them,
  /// counted kLate. Returns how many were dropped. Every queued item may leave afterwards.
  size_t finish() {
    std::unique_lock<std::mutex> lock(mutex_);
    ending_ = true;
    if (back_pressure_ && !queue_.empty()) {
      const TimePoint deadline = clock_.now() + options_.wait_limit;
      while (!in_flight_.empty() && wait_for_front(lock, deadline)) {
      }
      auto& carried = queue_.back().carried;
      for (auto& done : finished_) carried.push_back(std::move(done));
      finished_.clear();
    }
    const size_t dropped = abandon_in_flight(lock) + abandon_finished();
    changed_.notify_all();
    return dropped;
  }

  /// Every queued item, now (before a serialized event that must not overtake them); results
  /// not yet attached stay for later frames.
  std::vector<Released> release_all() {
    std::vector<Released> out;
    while (true) {
      std::unique_lock<std::mutex> lock(mutex_);
      if (queue_.empty()) break;
      Entry entry = take_head(lock);
      out.push_back(release(std::move(entry), /*wait=*/false));
    }
    return out;
  }

  /// A flush: queued items are destroyed (they never leave, so no result is missing on them);
  /// kLaterFrame requests in flight are dropped, counted kLate. Returns how many.
  size_t flush() {
    std::deque<Entry> dropped_items;
    std::unique_lock<std::mutex> lock(mutex_);
    dropped_items.swap(queue_);
    ending_ = false;
    const size_t dropped = abandon_in_flight(lock) + abandon_finished();
    lock.unlock();
    changed_.notify_all();
    return dropped;
  }

  /// close() wakes every blocked push()/pop() and refuses new items until open().
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
  }

 private:
  struct Entry {
    Item item;
    std::optional<Request> request;  // kOwnFrame: the item's own result
    TimePoint deadline;              // kOwnFrame: when it leaves without it
    std::vector<Finished> carried;   // results given to this item at the end of the stream
  };

  static bool is_ready(std::future<Result>& future) {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

  Finished take_result(Request& request) {
    Finished done{request.frame_number, request.sampled_at, request.pts, std::nullopt, {}};
    try {
      done.result = request.future.get();
    } catch (const std::exception& e) {
      done.error = e.what();
      counters_.dropped(DropReason::kFailed);
    }
    return done;
  }

  bool holds_newest() const {
    return options_.target == ResultTarget::kLaterFrame && back_pressure_ && !ending_ &&
           queue_.size() == 1 && !in_flight_.empty();
  }

  Entry take_head(std::unique_lock<std::mutex>& lock) {
    Entry entry = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return entry;
  }

  // Called without the lock: waits (when asked) for the entry's own result until its deadline,
  // polling in slices so that a close() is noticed.
  Released release(Entry entry, bool wait) {
    Released out{std::move(entry.item), std::move(entry.carried)};
    if (!entry.request) return out;
    auto& future = entry.request->future;
    bool ready = is_ready(future);
    while (!ready && wait && clock_.now() < entry.deadline) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) return out;
      }
      const TimePoint slice_end = std::min(entry.deadline, clock_.now() + kSchedulerPollSlice);
      ready = clock_.wait_until(slice_end, [&](Clock::Duration timeout) {
        return future.wait_for(timeout) == std::future_status::ready;
      });
    }
    if (ready) {
      out.results.push_back(take_result(*entry.request));
    } else {
      out.late = true;
      counters_.dropped(DropReason::kLate);
    }
    return out;
  }

  // Moves the finished requests at the front of in_flight_ to finished_ (lock held).
  void collect_ready() {
    while (!in_flight_.empty() && is_ready(in_flight_.front().future)) {
      finished_.push_back(take_result(in_flight_.front()));
      in_flight_.pop_front();
    }
  }

  // Waits for the oldest request until `deadline` without holding the lock; false when it is
  // still running then.
  bool wait_for_front(std::unique_lock<std::mutex>& lock, TimePoint deadline) {
    collect_ready();
    if (in_flight_.empty()) return true;
    Request request = std::move(in_flight_.front());
    in_flight_.pop_front();
    lock.unlock();
    const bool ready = clock_.wait_until(deadline, [&](Clock::Duration timeout) {
      return request.future.wait_for(timeout) == std::future_status::ready;
    });
    lock.lock();
    if (!ready) {
      in_flight_.push_front(std::move(request));
      return false;
    }
    finished_.push_back(take_result(request));
    collect_ready();
    return true;
  }

  size_t abandon_in_flight(std::unique_lock<std::mutex>& /*lock held*/) {
    const size_t count = in_flight_.size();
    counters_.dropped(DropReason::kLate, count);
    in_flight_.clear();  // the engine still runs them; nobody reads the results
    return count;
  }

  // Results that finished but will reach no frame (lock held); failures were counted already.
  size_t abandon_finished() {
    const auto count = static_cast<size_t>(std::count_if(
        finished_.begin(), finished_.end(), [](const Finished& done) { return done.result; }));
    counters_.dropped(DropReason::kLate, count);
    finished_.clear();
    return count;
  }

  SchedulingOptions options_;
  ResultCounters& counters_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> queue_;
  std::deque<Request> in_flight_;   // kLaterFrame, oldest first
  std::vector<Finished> finished_;  // kLaterFrame, not yet handed out
  bool back_pressure_ = false;
  bool ending_ = false;
  bool closed_ = false;
};

}  // namespace ivs::pipeline
