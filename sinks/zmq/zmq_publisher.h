// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sinks/result_sink.h"
#include "sinks/zmq/endpoint.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace ivs::sinks {

/// The longest message a subscriber may send the publisher (its subscriptions: a topic prefix
/// is a few dozen bytes); a peer sending more is disconnected.
constexpr int64_t kMaxSubscriptionBytes = 4096;

struct ZmqPublisherOptions {
  std::string endpoint = "bind:tcp://127.0.0.1:5555";
  std::string topic_prefix;  // prepended to "<kind>/<sensor_id>"
  int send_hwm = 1000;       // messages queued per subscriber before its copies are dropped; >= 1
  // How long destruction waits for queued messages to reach subscribers (0: drop them at once).
  std::chrono::milliseconds close_linger{0};
};

/// ZeroMQ PUB socket sending two frames per result: the topic, then result_to_json. Sends
/// never block: when a matching subscriber's queue is at the high-water mark that subscriber's
/// copy is dropped, silently (ZeroMQ does not report it), and the others still get theirs; a
/// subscriber that stops reading never cuts off the rest. publish() returns false, and counts a
/// drop, only when the message cannot be sent at all (not serialisable, socket closing). With no
/// matching subscriber ZeroMQ discards the message and publish() returns true. Subscriptions
/// longer than kMaxSubscriptionBytes drop their subscriber's connection. Thread-safe (the socket
/// is used under a mutex). flush() returns at once (nothing is buffered in-process). On
/// destruction, messages still queued in ZeroMQ get `close_linger` to leave (default 0:
/// discarded, so a slow subscriber never holds shutdown up; the service sets a bounded wait so
/// that what it accepted reaches its subscribers).
class ZmqPublisher : public ResultSink {
 public:
  /// Creates the socket and binds or connects. Throws std::runtime_error naming the endpoint
  /// when it cannot bind (address in use, bad interface), the address is malformed
  /// (ZmqEndpoint::parse's message), or send_hwm < 1 (ZeroMQ would read 0 as unlimited).
  explicit ZmqPublisher(const ZmqPublisherOptions& options);
  ~ZmqPublisher() override;

  bool publish(const FrameResult& result) override;
  void flush() override;
  const char* name() const override { return "zmq"; }

  /// The address actually bound or connected ("tcp://127.0.0.1:40123" after binding port 0 or *).
  std::string endpoint() const;

  uint64_t published() const { return published_; }
  uint64_t dropped() const { return dropped_; }

 private:
  ZmqPublisherOptions options_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  std::mutex mutex_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace ivs::sinks
