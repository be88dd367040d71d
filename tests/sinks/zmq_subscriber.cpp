// SPDX-License-Identifier: Apache-2.0
#include "tests/sinks/zmq_subscriber.h"

#include <gtest/gtest.h>

#include "sinks/result_json.h"

namespace ivs::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Generous: only a broken build takes this long; passing runs take milliseconds.
constexpr auto kDeadline = 20s;

}  // namespace

sinks::FrameResult ZmqMessage::result() const { return sinks::result_from_json(payload); }

ZmqSubscriber::ZmqSubscriber(const std::string& topic, int rcvhwm, int rcvbuf) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::rcvhwm, rcvhwm);
  if (rcvbuf > 0) socket_.set(zmq::sockopt::rcvbuf, rcvbuf);
  socket_.set(zmq::sockopt::subscribe, topic);
}

void ZmqSubscriber::connect(const std::string& endpoint) { socket_.connect(endpoint); }

std::string ZmqSubscriber::bind_any() {
  socket_.bind("tcp://127.0.0.1:*");
  return socket_.get(zmq::sockopt::last_endpoint);
}

void ZmqSubscriber::close() { socket_.close(); }

std::optional<ZmqMessage> ZmqSubscriber::receive(std::chrono::milliseconds timeout) {
  socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
  zmq::message_t topic;
  if (!socket_.recv(topic)) return std::nullopt;
  EXPECT_TRUE(topic.more()) << "topic frame without payload";
  zmq::message_t payload;
  if (!socket_.recv(payload)) return std::nullopt;
  EXPECT_FALSE(payload.more()) << "more than two frames";
  return ZmqMessage{topic.to_string(), payload.to_string()};
}

std::optional<ZmqMessage> ZmqSubscriber::receive_non_probe() {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    auto message = receive(50ms);
    if (message && message->result().start_frame_id != kProbeFrameId) return message;
  }
  return std::nullopt;
}

sinks::FrameResult probe(sinks::FrameResult result) {
  result.start_frame_id = kProbeFrameId;
  return result;
}

bool handshake(sinks::ZmqPublisher& publisher, ZmqSubscriber& subscriber,
               const sinks::FrameResult& probe_result) {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    publisher.publish(probe_result);
    if (subscriber.receive(20ms)) return true;
  }
  return false;
}

}  // namespace ivs::test
