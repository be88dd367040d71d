// SPDX-License-Identifier: Apache-2.0
#include "sinks/result_fanout.h"

#include <exception>
#include <stdexcept>
#include <utility>

namespace ivs::sinks {

ResultFanout::ResultFanout(std::vector<ResultSinkPtr> sinks, ResultFanoutCounters& counters,
                           ResultFanoutOptions options)
    : sinks_(std::move(sinks)), counters_(counters), options_(std::move(options)) {
  if (options_.queue_capacity < 1) {
    throw std::invalid_argument("result fan-out: queue_capacity must be >= 1");
  }
  for (const auto& sink : sinks_) {
    if (!sink) throw std::invalid_argument("result fan-out: a sink of the list is null");
  }
  worker_ = std::thread([this] { run(); });
}

ResultFanout::~ResultFanout() { stop(); }

bool ResultFanout::submit(FrameResult&& result) {
  const char* refused = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) {
      refused = "closed";
    } else if (queue_.size() >= options_.queue_capacity) {
      refused = "queue full";
    } else {
      queue_.push_back(std::move(result));
    }
  }
  if (refused != nullptr) {
    count_drop(refused);
    return false;
  }
  wake_.notify_one();
  return true;
}

bool ResultFanout::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void ResultFanout::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  wake_.notify_all();
}

void ResultFanout::stop() {
  std::lock_guard<std::mutex> guard(stop_mutex_);
  if (!worker_.joinable()) return;
  close();
  worker_.join();
  for (const auto& sink : sinks_) {
    try {
      sink->flush();
    } catch (const std::exception& e) {
      if (options_.on_sink_exception) options_.on_sink_exception(*sink, e.what());
    }
  }
}

// Publishes what is queued, one result at a time, until closed and drained.
void ResultFanout::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) break;  // closed and drained
    FrameResult result = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    publish(result);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

void ResultFanout::publish(const FrameResult& result) {
  bool all_took_it = true;
  for (const auto& sink : sinks_) {
    // Not short-circuited: a sink that refuses must not cost the next sink its copy.
    all_took_it = publish_to(*sink, result) && all_took_it;
  }
  if (all_took_it) {
    ++counters_.published;
  } else {
    count_drop("a sink refused it");
  }
}

bool ResultFanout::publish_to(ResultSink& sink, const FrameResult& result) {
  bool ok = false;
  try {
    ok = sink.publish(result);
  } catch (const std::exception& e) {
    if (options_.on_sink_exception) options_.on_sink_exception(sink, e.what());
  }
  if (options_.metrics != nullptr) {
    (ok ? options_.metrics->messages_published(sink.name())
        : options_.metrics->publish_errors(sink.name()))
        .Increment();
  }
  return ok;
}

void ResultFanout::count_drop(const char* reason) {
  const uint64_t dropped = ++counters_.dropped;
  if (options_.on_drop) options_.on_drop(reason, dropped);
}

}  // namespace ivs::sinks
