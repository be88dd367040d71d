// SPDX-License-Identifier: Apache-2.0
#include "sinks/zmq/zmq_publisher.h"

#include <cerrno>
#include <stdexcept>

#include <zmq.hpp>

#include "sinks/result_json.h"

namespace ivs::sinks {
namespace {

std::string open_error(const ZmqEndpoint& endpoint, const std::string& text,
                       const zmq::error_t& e) {
  if (!endpoint.bind) {
    return "cannot connect ZeroMQ publisher to '" + endpoint.address + "' (endpoint '" + text +
           "'): " + e.what();
  }
  std::string message = "cannot bind ZeroMQ publisher to '" + endpoint.address + "' (endpoint '" +
                        text + "'): " + e.what();
  if (e.num() == EADDRINUSE) {
    message +=
        "; another process already listens there: choose a free port (or port * for any), "
        "or use connect:<address> to publish into a running proxy";
  } else if (e.num() == EADDRNOTAVAIL || e.num() == ENODEV) {
    message +=
        "; the host is not an address of this machine (use 127.0.0.1, * or an interface address)";
  }
  return message;
}

}  // namespace

ZmqPublisher::ZmqPublisher(const ZmqPublisherOptions& options) : options_(options) {
  ZmqEndpoint endpoint;
  try {
    endpoint = ZmqEndpoint::parse(options_.endpoint);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  if (options_.send_hwm < 1) {
    // ZeroMQ reads 0 as "no limit": an unbounded queue behind a stalled subscriber.
    throw std::runtime_error("ZeroMQ publisher '" + options_.endpoint +
                             "': send_hwm must be >= 1 (got " + std::to_string(options_.send_hwm) +
                             ")");
  }
  // Built in locals and moved in only when complete: a throw below closes the socket (linger 0,
  // so without waiting) and then the context, and leaves no half-made publisher behind.
  auto context = std::make_unique<zmq::context_t>(1);
  auto socket = std::make_unique<zmq::socket_t>(*context, zmq::socket_type::pub);
  try {
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::sndhwm, options_.send_hwm);
    // At a subscriber's high-water mark the PUB socket drops that subscriber's copy only, and
    // send() still succeeds: ZeroMQ cannot say so. ZMQ_XPUB_NODROP would make send() fail with
    // EAGAIN instead, but for every subscriber as soon as one is full: one subscriber that stops
    // reading would cut off all the others. A slow subscriber loses its own messages only.
    // What a PUB socket receives are its subscribers' subscriptions, which it keeps: unbounded,
    // one 20 MB subscription cost 20 MB (and four of 200 MB, gigabytes). A peer sending a
    // longer message is disconnected by ZeroMQ.
    socket->set(zmq::sockopt::maxmsgsize, kMaxSubscriptionBytes);
    if (endpoint.address.find('[') != std::string::npos) socket->set(zmq::sockopt::ipv6, true);
    if (endpoint.bind) {
      socket->bind(endpoint.address);
    } else {
      socket->connect(endpoint.address);
    }
    endpoint_ = socket->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(open_error(endpoint, options_.endpoint, e));
  }
  if (endpoint_.empty()) endpoint_ = endpoint.address;
  context_ = std::move(context);
  socket_ = std::move(socket);
}

ZmqPublisher::~ZmqPublisher() {
  // The linger set now bounds how long closing waits for queued messages to reach subscribers.
  if (socket_ && options_.close_linger.count() > 0) {
    try {
      socket_->set(zmq::sockopt::linger, static_cast<int>(options_.close_linger.count()));
    } catch (const zmq::error_t&) {
      // closing without waiting is the fallback
    }
  }
  // Socket before context: zmq_ctx_term waits for every socket of the context to be closed.
  socket_.reset();
  context_.reset();
}

bool ZmqPublisher::publish(const FrameResult& result) {
  std::string topic;
  std::string payload;
  try {
    topic = result_topic(result, options_.topic_prefix);
    payload = result_to_json(result);
  } catch (const std::exception&) {
    ++dropped_;
    return false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    // Once the topic frame is accepted ZeroMQ accepts the rest of the message (the high-water
    // mark counts whole messages), so an EAGAIN can only come from the first frame.
    if (!socket_->send(zmq::buffer(topic), zmq::send_flags::dontwait | zmq::send_flags::sndmore) ||
        !socket_->send(zmq::buffer(payload), zmq::send_flags::dontwait)) {
      ++dropped_;
      return false;
    }
  } catch (const zmq::error_t&) {
    // ETERM and friends: the socket is going away; a publish must never throw into a streaming
    // thread.
    ++dropped_;
    return false;
  }
  ++published_;
  return true;
}

void ZmqPublisher::flush() {
  // Nothing is buffered in this process: sent messages already sit in ZeroMQ's queues, which its
  // I/O thread drains as fast as subscribers read, and ZeroMQ offers no way to wait for that.
}

std::string ZmqPublisher::endpoint() const { return endpoint_; }

}  // namespace ivs::sinks
