// SPDX-License-Identifier: Apache-2.0
// A real ZeroMQ SUB socket on its own context, as an external consumer would have one, and the
// probe handshake that proves its subscription has reached a publisher. For the sinks tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "sinks/frame_result.h"
#include "sinks/zmq/zmq_publisher.h"

namespace ivs::test {

/// start_frame_id of handshake probes, so tests can tell them from the messages under test.
inline constexpr int64_t kProbeFrameId = 999999;

struct ZmqMessage {
  std::string topic;
  std::string payload;
  sinks::FrameResult result() const;  // payload parsed; throws what result_from_json throws
};

class ZmqSubscriber {
 public:
  /// Subscribes to `topic` (a prefix; "" for all). `rcvbuf` > 0 sets the kernel buffer size.
  explicit ZmqSubscriber(const std::string& topic, int rcvhwm = 1000, int rcvbuf = -1);

  void connect(const std::string& endpoint);
  /// Binds a free loopback port and returns the address ("tcp://127.0.0.1:40123").
  std::string bind_any();
  void close();

  /// The next two-frame message, or nullopt after `timeout`.
  std::optional<ZmqMessage> receive(std::chrono::milliseconds timeout);
  /// The next message that is not a handshake probe, or nullopt after a generous deadline (only
  /// a broken build waits that long; passing runs take milliseconds).
  std::optional<ZmqMessage> receive_non_probe();

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::sub};
};

/// `result` marked as a handshake probe.
sinks::FrameResult probe(sinks::FrameResult result);

/// The slow-joiner problem: a subscription reaches the publisher some time after connect(), and
/// PUB drops what nobody has subscribed to yet. Publishes `probe_result` until one arrives, which
/// proves the path is up; false after the deadline instead of a guessed sleep.
bool handshake(sinks::ZmqPublisher& publisher, ZmqSubscriber& subscriber,
               const sinks::FrameResult& probe_result);

}  // namespace ivs::test
