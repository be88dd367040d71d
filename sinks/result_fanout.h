// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "sinks/frame_result.h"
#include "sinks/prometheus/metrics.h"
#include "sinks/result_sink.h"

namespace ivs::sinks {

/// Totals of a fan-out. The host owns them, so that they outlive the fan-out (an element still
/// reports them after it stopped) and it can count its own losses into `dropped` too.
struct ResultFanoutCounters {
  std::atomic<uint64_t> published{0};  // results every sink took
  std::atomic<uint64_t> dropped{0};    // results lost: queue full, closed, or refused by a sink
};

struct ResultFanoutOptions {
  // Results waiting for the worker; results come a few per second, so this is minutes of
  // backlog. >= 1.
  size_t queue_capacity = 1024;
  // Records internvl_messages_published_total and internvl_publish_errors_total per sink name;
  // null: no metrics. Must outlive the fan-out.
  Metrics* metrics = nullptr;
  // Told of every drop with its reason ("queue full", "closed", "a sink refused it") and the
  // `dropped` total including it, on the thread that dropped (a producer or the worker). Must
  // neither block nor throw; may be empty.
  std::function<void(const char* reason, uint64_t dropped)> on_drop;
  // Told when a sink's publish() or flush() threw (a publish counts as refused), on the worker
  // or the thread calling stop(). Must not throw; may be empty.
  std::function<void(const ResultSink& sink, const char* what)> on_sink_exception;
};

/// Hands each submitted result to every sink of its list, in submission order, on one worker
/// thread of its own, so that a slow disk or subscriber never stalls the producer. The queue is
/// bounded: a full queue drops the new result and counts it. Every sink is tried for every
/// result; one that refuses or throws costs that result a drop but never stops the others. A
/// result is published when every sink took it. stop() (or destruction) publishes everything
/// accepted before it returns: an accepted result is never lost to shutdown.
///
/// Thread-safe: submit(), wait_idle(), close() and stop() may be called from any thread.
class ResultFanout {
 public:
  /// Starts the worker. `sinks` may be empty (results then count as published: nothing refused
  /// them). `counters` must outlive the fan-out. Throws std::invalid_argument when a sink is
  /// null or queue_capacity is 0.
  ResultFanout(std::vector<ResultSinkPtr> sinks, ResultFanoutCounters& counters,
               ResultFanoutOptions options = {});
  /// stop().
  ~ResultFanout();
  ResultFanout(const ResultFanout&) = delete;
  ResultFanout& operator=(const ResultFanout&) = delete;

  /// Queues `result` for the sinks. Never waits for them. Returns false, and counts a drop, when
  /// the queue is full or the fan-out is closed.
  bool submit(FrameResult&& result);

  /// Blocks until every accepted result has been handed to the sinks, at most `timeout`. Returns
  /// false when results were still queued or in flight at the deadline.
  bool wait_idle(std::chrono::milliseconds timeout);

  /// Refuses results from now on; the worker still publishes everything accepted. Does not wait.
  void close();

  /// close(), waits until everything accepted is published, flushes every sink and joins the
  /// worker. Idempotent.
  void stop();

 private:
  void run();
  void publish(const FrameResult& result);
  bool publish_to(ResultSink& sink, const FrameResult& result);
  void count_drop(const char* reason);

  const std::vector<ResultSinkPtr> sinks_;
  ResultFanoutCounters& counters_;
  const ResultFanoutOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;   // the worker: a result was queued, or closed
  std::condition_variable idle_;   // wait_idle(): the queue ran empty
  std::deque<FrameResult> queue_;  // under mutex_
  bool closed_ = false;            // under mutex_
  bool busy_ = false;              // under mutex_: the worker is publishing a result
  std::mutex stop_mutex_;          // serialises stop(): join and flush happen once
  std::thread worker_;
};

}  // namespace ivs::sinks
