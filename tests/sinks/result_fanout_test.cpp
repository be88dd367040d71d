// SPDX-License-Identifier: Apache-2.0
#include "sinks/result_fanout.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sinks/jsonl_writer.h"
#include "sinks/prometheus/metrics.h"
#include "sinks/result_json.h"
#include "sinks/zmq/zmq_publisher.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/sinks/sample_results.h"
#include "tests/sinks/zmq_subscriber.h"

namespace ivs::sinks {
namespace {

using test::read_lines;

// Bounds a wait that only a broken build reaches; passing runs take microseconds.
constexpr std::chrono::seconds kDeadline{20};

FrameResult numbered(int64_t frame_id) {
  FrameResult result = test::sample_classification();
  result.start_frame_id = frame_id;
  return result;
}

std::vector<int64_t> range(int64_t first, int64_t last) {
  std::vector<int64_t> ids;
  for (int64_t id = first; id <= last; ++id) ids.push_back(id);
  return ids;
}

// internvl_messages_published_total and internvl_publish_errors_total of `sink`.
std::pair<double, double> sink_counts(Metrics& metrics, const std::string& sink) {
  return {metrics.messages_published(sink).Value(), metrics.publish_errors(sink).Value()};
}

// Records the frame ids it is given and its flushes; accepts, refuses or throws as told.
class RecordingSink : public ResultSink {
 public:
  enum class Mode { kAccept, kRefuse, kThrow };
  explicit RecordingSink(const char* name, Mode mode = Mode::kAccept) : name_(name), mode_(mode) {}

  bool publish(const FrameResult& result) override {
    std::lock_guard<std::mutex> lock(mutex_);
    frame_ids_.push_back(result.start_frame_id);
    if (mode_ == Mode::kThrow) throw std::runtime_error("disk on fire");
    return mode_ == Mode::kAccept;
  }
  void flush() override {
    std::lock_guard<std::mutex> lock(mutex_);
    flushed_at_.push_back(frame_ids_.size());
  }
  const char* name() const override { return name_; }

  std::vector<int64_t> frame_ids() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frame_ids_;
  }
  // How many results it had been given at each flush.
  std::vector<size_t> flushed_at() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return flushed_at_;
  }

 private:
  const char* name_;
  Mode mode_;
  mutable std::mutex mutex_;
  std::vector<int64_t> frame_ids_;
  std::vector<size_t> flushed_at_;
};

// Holds the worker inside publish() until the test opens it: a slow consumer on demand.
class GateSink : public ResultSink {
 public:
  bool publish(const FrameResult& result) override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    frame_ids_.push_back(result.start_frame_id);
    return true;
  }
  void flush() override {}
  const char* name() const override { return "gate"; }

  // Waits until publish() has been entered `count` times; false only when that never happens.
  bool wait_entered(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return entered_ >= count; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  std::vector<int64_t> frame_ids() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frame_ids_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
  std::vector<int64_t> frame_ids_;
};

// What the fan-out told its host through the options' callbacks (from any thread).
class Reports {
 public:
  void attach(ResultFanoutOptions& options) {
    options.on_drop = [this](const char* reason, uint64_t dropped) {
      std::lock_guard<std::mutex> lock(mutex_);
      drops_.emplace_back(reason, dropped);
    };
    options.on_sink_exception = [this](const ResultSink& sink, const char* what) {
      std::lock_guard<std::mutex> lock(mutex_);
      exceptions_.push_back(std::string(sink.name()) + ": " + what);
    };
  }
  std::vector<std::pair<std::string, uint64_t>> drops() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return drops_;
  }
  std::vector<std::string> exceptions() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exceptions_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, uint64_t>> drops_;
  std::vector<std::string> exceptions_;
};

TEST(ResultFanoutTest, publishes_every_result_in_submission_order) {
  auto sink = std::make_shared<RecordingSink>("recording");
  ResultFanoutCounters counters;
  ResultFanout fanout({sink}, counters);
  for (int64_t id = 0; id < 100; ++id) EXPECT_TRUE(fanout.submit(numbered(id)));
  fanout.stop();
  EXPECT_EQ(sink->frame_ids(), range(0, 99));
  EXPECT_EQ(counters.published.load(), 100u);
  EXPECT_EQ(counters.dropped.load(), 0u);
}

TEST(ResultFanoutTest, every_result_reaches_a_real_zmq_subscriber_and_a_real_file) {
  ZmqPublisherOptions zmq_options;
  zmq_options.endpoint = "bind:tcp://127.0.0.1:*";
  auto zmq = std::make_shared<ZmqPublisher>(zmq_options);
  test::ZmqSubscriber subscriber("");
  subscriber.connect(zmq->endpoint());
  ASSERT_TRUE(test::handshake(*zmq, subscriber, test::probe(test::sample_classification())));
  const auto path = test::scratch_dir("fanout_zmq_jsonl") / "results.jsonl";
  auto jsonl = std::make_shared<JsonLinesWriter>(path.string());
  Metrics metrics("test", "none", "cpu");
  ResultFanoutOptions options;
  options.metrics = &metrics;
  ResultFanoutCounters counters;
  ResultFanout fanout({zmq, jsonl}, counters, options);

  const std::vector<FrameResult> results = {test::sample_classification(), test::sample_caption(),
                                            test::sample_unicode()};
  for (FrameResult result : results) ASSERT_TRUE(fanout.submit(std::move(result)));
  fanout.stop();

  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(lines[i], result_to_json(results[i])) << "line " << i;
    const auto message = subscriber.receive_non_probe();
    ASSERT_TRUE(message) << "message " << i;
    EXPECT_EQ(message->payload, result_to_json(results[i])) << "message " << i;
  }
  EXPECT_EQ(counters.published.load(), 3u);
  EXPECT_EQ(sink_counts(metrics, "zmq"), std::make_pair(3.0, 0.0));
  EXPECT_EQ(sink_counts(metrics, "jsonl"), std::make_pair(3.0, 0.0));
}

TEST(ResultFanoutTest, full_queue_drops_and_counts_the_new_result) {
  auto gate = std::make_shared<GateSink>();
  Reports reports;
  ResultFanoutOptions options;
  options.queue_capacity = 2;
  reports.attach(options);
  ResultFanoutCounters counters;
  ResultFanout fanout({gate}, counters, options);

  ASSERT_TRUE(fanout.submit(numbered(1)));
  ASSERT_TRUE(gate->wait_entered(1));  // the worker holds result 1: the queue is empty
  EXPECT_TRUE(fanout.submit(numbered(2)));
  EXPECT_TRUE(fanout.submit(numbered(3)));
  EXPECT_FALSE(fanout.submit(numbered(4)));  // queue holds 2 and 3: full
  EXPECT_EQ(counters.dropped.load(), 1u);
  EXPECT_EQ(reports.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"queue full", 1}}));

  gate->open();
  fanout.stop();
  EXPECT_EQ(gate->frame_ids(), range(1, 3));
  EXPECT_EQ(counters.published.load(), 3u);
  EXPECT_EQ(counters.dropped.load(), 1u);
}

TEST(ResultFanoutTest, a_refusing_or_throwing_sink_does_not_stop_the_others) {
  using Mode = RecordingSink::Mode;
  // The failing sinks come first: the good one must still get every result.
  auto refusing = std::make_shared<RecordingSink>("refusing", Mode::kRefuse);
  auto throwing = std::make_shared<RecordingSink>("throwing", Mode::kThrow);
  auto good = std::make_shared<RecordingSink>("good");
  Metrics metrics("test", "none", "cpu");
  Reports reports;
  ResultFanoutOptions options;
  options.metrics = &metrics;
  reports.attach(options);
  ResultFanoutCounters counters;
  ResultFanout fanout({refusing, throwing, good}, counters, options);
  for (int64_t id = 0; id < 3; ++id) ASSERT_TRUE(fanout.submit(numbered(id)));
  fanout.stop();

  EXPECT_EQ(good->frame_ids(), range(0, 2));
  EXPECT_EQ(refusing->frame_ids(), range(0, 2));
  EXPECT_EQ(throwing->frame_ids(), range(0, 2));
  // A result counts as published only when every sink took it.
  EXPECT_EQ(counters.published.load(), 0u);
  EXPECT_EQ(counters.dropped.load(), 3u);
  EXPECT_EQ(reports.drops(),
            (std::vector<std::pair<std::string, uint64_t>>{
                {"a sink refused it", 1}, {"a sink refused it", 2}, {"a sink refused it", 3}}));
  EXPECT_EQ(reports.exceptions(), std::vector<std::string>(3, "throwing: disk on fire"));
  EXPECT_EQ(sink_counts(metrics, "refusing"), std::make_pair(0.0, 3.0));
  EXPECT_EQ(sink_counts(metrics, "throwing"), std::make_pair(0.0, 3.0));
  EXPECT_EQ(sink_counts(metrics, "good"), std::make_pair(3.0, 0.0));
}

TEST(ResultFanoutTest, stop_publishes_everything_accepted_then_flushes) {
  auto gate = std::make_shared<GateSink>();
  auto recording = std::make_shared<RecordingSink>("recording");
  const auto path = test::scratch_dir("fanout_drain") / "results.jsonl";
  auto jsonl = std::make_shared<JsonLinesWriter>(path.string());
  Reports reports;
  ResultFanoutOptions options;
  reports.attach(options);
  ResultFanoutCounters counters;
  ResultFanout fanout({gate, recording, jsonl}, counters, options);

  ASSERT_TRUE(fanout.submit(numbered(0)));
  ASSERT_TRUE(gate->wait_entered(1));
  for (int64_t id = 1; id <= 5; ++id) ASSERT_TRUE(fanout.submit(numbered(id)));
  // Closed while results 1..5 still wait behind the held worker: they must all go out anyway.
  fanout.close();
  EXPECT_FALSE(fanout.submit(numbered(99)));
  gate->open();
  fanout.stop();

  EXPECT_EQ(gate->frame_ids(), range(0, 5));
  EXPECT_EQ(recording->frame_ids(), range(0, 5));
  EXPECT_EQ(read_lines(path).size(), 6u);
  EXPECT_EQ(recording->flushed_at(), std::vector<size_t>{6});  // once, after the last result
  EXPECT_EQ(counters.published.load(), 6u);
  EXPECT_EQ(reports.drops(), (std::vector<std::pair<std::string, uint64_t>>{{"closed", 1}}));
  fanout.stop();  // idempotent: nothing is flushed twice
  EXPECT_EQ(recording->flushed_at().size(), 1u);
}

TEST(ResultFanoutTest, wait_idle_waits_for_the_result_in_flight) {
  auto gate = std::make_shared<GateSink>();
  ResultFanoutCounters counters;
  ResultFanout fanout({gate}, counters);
  EXPECT_TRUE(fanout.wait_idle(std::chrono::milliseconds(0)));  // nothing accepted yet
  ASSERT_TRUE(fanout.submit(numbered(7)));
  ASSERT_TRUE(gate->wait_entered(1));
  EXPECT_FALSE(fanout.wait_idle(std::chrono::milliseconds(0)));  // held inside the sink
  gate->open();
  EXPECT_TRUE(fanout.wait_idle(kDeadline));
  EXPECT_EQ(gate->frame_ids(), std::vector<int64_t>{7});
  EXPECT_EQ(counters.published.load(), 1u);
}

TEST(ResultFanoutTest, without_sinks_results_count_as_published) {
  ResultFanoutCounters counters;
  ResultFanout fanout({}, counters);
  EXPECT_TRUE(fanout.submit(numbered(1)));
  fanout.stop();
  EXPECT_EQ(counters.published.load(), 1u);
  EXPECT_EQ(counters.dropped.load(), 0u);
}

TEST(ResultFanoutTest, null_sink_and_zero_capacity_are_rejected) {
  ResultFanoutCounters counters;
  EXPECT_THROW(ResultFanout({nullptr}, counters), std::invalid_argument);
  ResultFanoutOptions options;
  options.queue_capacity = 0;
  EXPECT_THROW(ResultFanout({}, counters, options), std::invalid_argument);
}

}  // namespace
}  // namespace ivs::sinks
