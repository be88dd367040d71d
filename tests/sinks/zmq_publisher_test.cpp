// SPDX-License-Identifier: Apache-2.0
#include "sinks/zmq/zmq_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sinks/result_json.h"
#include "sinks/zmq/endpoint.h"
#include "tests/sinks/sample_results.h"
#include "tests/sinks/zmq_subscriber.h"

namespace {

using ivs::sinks::FrameResult;
using ivs::sinks::ZmqEndpoint;
using ivs::sinks::ZmqPublisher;
using ivs::sinks::ZmqPublisherOptions;
using ivs::test::handshake;
using ivs::test::probe;
using Subscriber = ivs::test::ZmqSubscriber;
using namespace std::chrono_literals;

ZmqPublisherOptions loopback_options() {
  ZmqPublisherOptions options;
  options.endpoint = "bind:tcp://127.0.0.1:*";
  return options;
}

TEST(ZmqEndpointTest, parses_accepted_forms) {
  const struct {
    const char* text;
    bool bind;
    const char* address;
  } cases[] = {
      {"bind:tcp://127.0.0.1:5555", true, "tcp://127.0.0.1:5555"},
      {"connect:tcp://host:5555", false, "tcp://host:5555"},
      {"bind:tcp://127.0.0.1:0", true, "tcp://127.0.0.1:0"},
      {"tcp://*:5555", true, "tcp://*:5555"},
      {"tcp://127.0.0.1:*", true, "tcp://127.0.0.1:*"},
      {"tcp://10.0.0.5:5555", false, "tcp://10.0.0.5:5555"},
      {"tcp://[::1]:5555", false, "tcp://[::1]:5555"},
      {"ipc:///tmp/internvl.ipc", false, "ipc:///tmp/internvl.ipc"},
      {"bind:ipc:///tmp/internvl.ipc", true, "ipc:///tmp/internvl.ipc"},
      {"inproc://results", false, "inproc://results"},
      {"bind:inproc://results", true, "inproc://results"},
  };
  for (const auto& c : cases) {
    const ZmqEndpoint endpoint = ZmqEndpoint::parse(c.text);
    EXPECT_EQ(endpoint.bind, c.bind) << c.text;
    EXPECT_EQ(endpoint.address, c.address) << c.text;
  }
}

TEST(ZmqEndpointTest, rejects_bad_endpoints_with_clear_messages) {
  const struct {
    std::string text;
    const char* reason;  // must appear in the message
  } cases[] = {
      {"", "empty"},
      {"bind:", "empty"},
      {"connect:", "empty"},
      {"udp://127.0.0.1:5555", "unknown transport"},
      {"listen:tcp://127.0.0.1:5555", "unknown transport"},
      {"tcp://127.0.0.1", "port"},
      {"tcp://127.0.0.1:", "port"},
      {"tcp://127.0.0.1:abc", "'abc'"},
      {"tcp://127.0.0.1:70000", "'70000'"},
      {"tcp://:5555", "host is empty"},
      {"connect:tcp://*:5555", "cannot connect to host *"},
      {"connect:tcp://127.0.0.1:*", "cannot connect to port *"},
      {"connect:tcp://127.0.0.1:0", "cannot connect to port 0"},
      {"ipc://", "ipc path is empty"},
      {"ipc:///" + std::string(120, 'x'), "longer than"},
      {"inproc://", "inproc name is empty"},
      {"tcp://127.0.0.1:5555 ", "white space"},
  };
  for (const auto& c : cases) {
    try {
      ZmqEndpoint::parse(c.text);
      ADD_FAILURE() << "accepted '" << c.text << "'";
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + c.text + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(c.reason), std::string::npos) << message;
      EXPECT_NE(message.find("bind:<address>"), std::string::npos) << message;
    }
  }
}

TEST(ZmqPublisherTest, sends_topic_and_json_frames_to_subscriber) {
  ZmqPublisher publisher(loopback_options());
  EXPECT_EQ(publisher.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << publisher.endpoint();
  Subscriber subscriber("classification/");
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_classification())));

  ASSERT_TRUE(publisher.publish(ivs::test::sample_unicode()));
  const auto message = subscriber.receive_non_probe();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->topic, "classification/摄像头-01");
  EXPECT_EQ(message->payload, ivs::sinks::result_to_json(ivs::test::sample_unicode()));
  EXPECT_EQ(publisher.dropped(), 0u);
  EXPECT_GE(publisher.published(), 2u);
}

TEST(ZmqPublisherTest, subscriber_topic_filter_selects_kind) {
  ZmqPublisher publisher(loopback_options());
  Subscriber subscriber("caption/");
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_caption())));

  // Same pipe, so order is kept: had the classification passed the filter it would come first.
  ASSERT_TRUE(publisher.publish(ivs::test::sample_classification()));
  ASSERT_TRUE(publisher.publish(ivs::test::sample_event()));
  FrameResult caption = ivs::test::sample_caption();
  caption.start_frame_id = 7;
  ASSERT_TRUE(publisher.publish(caption));
  const auto message = subscriber.receive_non_probe();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->topic, "caption/cam01");
  EXPECT_EQ(message->result().start_frame_id, 7);
}

TEST(ZmqPublisherTest, topic_prefix_is_prepended) {
  ZmqPublisherOptions options = loopback_options();
  options.topic_prefix = "site1/";
  ZmqPublisher publisher(options);
  Subscriber subscriber("site1/event/");
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_event())));
  ASSERT_TRUE(publisher.publish(ivs::test::sample_event()));
  const auto message = subscriber.receive_non_probe();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->topic, "site1/event/cam01");
}

TEST(ZmqPublisherTest, connect_form_publishes_to_a_bound_subscriber) {
  Subscriber subscriber("");
  const std::string address = subscriber.bind_any();
  ZmqPublisherOptions options;
  options.endpoint = "connect:" + address;
  ZmqPublisher publisher(options);
  EXPECT_EQ(publisher.endpoint(), address);
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_caption())));
  ASSERT_TRUE(publisher.publish(ivs::test::sample_caption()));
  const auto message = subscriber.receive_non_probe();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->result().caption->text, "a red panda sitting on a wooden platform");
}

TEST(ZmqPublisherTest, without_subscribers_publish_succeeds_and_nothing_is_dropped) {
  // ZeroMQ semantics: a PUB with no matching subscriber discards; that is not a drop.
  ZmqPublisher publisher(loopback_options());
  EXPECT_TRUE(publisher.publish(ivs::test::sample_classification()));
  publisher.flush();
  EXPECT_EQ(publisher.published(), 1u);
  EXPECT_EQ(publisher.dropped(), 0u);
}

TEST(ZmqPublisherTest, stalled_subscriber_never_blocks_publish) {
  ZmqPublisherOptions options = loopback_options();
  options.send_hwm = 1;
  ZmqPublisher publisher(options);
  // Tiny queue and kernel buffer on the reader too, so the backlog reaches the publisher fast.
  Subscriber subscriber("", 1, 4096);
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_classification())));
  const uint64_t before = publisher.published();

  // ~8 KiB each, 5000 of them: 40 MB, far beyond what loopback TCP buffers hold.
  FrameResult big = ivs::test::sample_caption();
  big.caption->text = std::string(8192, 'x');
  constexpr int kMessages = 5000;
  auto run = std::async(std::launch::async, [&publisher, &big] {
    int refused = 0;
    for (int i = 0; i < kMessages; ++i) refused += publisher.publish(big) ? 0 : 1;
    return refused;
  });
  if (run.wait_for(60s) != std::future_status::ready) {
    subscriber.close();  // unblocks a blocking publisher so the test fails instead of hanging
    FAIL() << "publish() blocked on a stalled subscriber";
  }
  // Its copies beyond the high-water mark are dropped inside ZeroMQ, which does not report
  // them: to the publisher every send succeeded.
  EXPECT_EQ(run.get(), 0);
  EXPECT_EQ(publisher.dropped(), 0u);
  EXPECT_EQ(publisher.published(), before + kMessages);
}

TEST(ZmqPublisherTest, a_stalled_subscriber_does_not_cut_off_the_others) {
  ZmqPublisherOptions options = loopback_options();
  options.send_hwm = 100;
  ZmqPublisher publisher(options);
  Subscriber stalled("", 1, 4096);  // never reads
  stalled.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, stalled, probe(ivs::test::sample_classification())));
  Subscriber reader("");
  reader.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, reader, probe(ivs::test::sample_classification())));

  // ~8 KiB each, 5000 of them: 40 MB, far beyond what the stalled subscriber's queue and the
  // loopback TCP buffers hold. One at a time, so the reader's own queue never overflows.
  FrameResult big = ivs::test::sample_caption();
  big.caption->text = std::string(8192, 'x');
  constexpr int kMessages = 5000;
  for (int i = 0; i < kMessages; ++i) {
    big.start_frame_id = i;
    publisher.publish(big);
    std::optional<ivs::test::ZmqMessage> message;
    do {
      message = reader.receive(5s);
    } while (message && message->result().start_frame_id == ivs::test::kProbeFrameId);
    ASSERT_TRUE(message) << "the reader got nothing after message " << i
                         << ": the stalled subscriber blocked it";
    ASSERT_EQ(message->result().start_frame_id, i);
  }
}

TEST(ZmqPublisherTest, concurrent_publishers_deliver_every_accepted_message) {
  ZmqPublisherOptions options = loopback_options();
  options.send_hwm = 100000;
  ZmqPublisher publisher(options);
  Subscriber subscriber("", 100000);
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_event())));
  const uint64_t published_before = publisher.published();

  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&publisher, t] {
      FrameResult result = ivs::test::sample_classification();
      result.sensor_id = "cam" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) publisher.publish(result);
    });
  }
  for (auto& thread : threads) thread.join();
  const uint64_t accepted = publisher.published() - published_before;
  EXPECT_EQ(accepted + publisher.dropped(), static_cast<uint64_t>(kThreads * kPerThread));

  uint64_t received = 0;
  while (received < accepted) {
    const auto message = subscriber.receive_non_probe();
    ASSERT_TRUE(message) << "received " << received << " of " << accepted;
    EXPECT_EQ(message->topic, "classification/" + message->result().sensor_id);
    ++received;
  }
}

// A PUB socket keeps its subscribers' subscriptions: unbounded, a subscriber could make the
// service hold gigabytes (four subscriptions of 200 MB grew it past 7 GB). A subscriber whose
// subscription is too long is disconnected, and others are served as before.
TEST(ZmqPublisherTest, subscriber_sending_an_oversized_subscription_is_disconnected) {
  ZmqPublisher publisher(loopback_options());
  zmq::context_t context(1);
  zmq::socket_t hostile(context, zmq::socket_type::sub);
  hostile.set(zmq::sockopt::linger, 0);
  hostile.set(zmq::sockopt::subscribe, "");  // everything, so a live connection would receive
  hostile.set(zmq::sockopt::subscribe, std::string(4 * ivs::sinks::kMaxSubscriptionBytes, 'x'));
  hostile.set(zmq::sockopt::rcvtimeo, 200);
  hostile.connect(publisher.endpoint());
  Subscriber subscriber("classification/");
  subscriber.connect(publisher.endpoint());
  ASSERT_TRUE(handshake(publisher, subscriber, probe(ivs::test::sample_classification())));
  // By now the hostile subscription has arrived too (it was sent first, on its own connection);
  // what the publisher sends from here on reaches the well-behaved subscriber only.
  int hostile_received = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(publisher.publish(ivs::test::sample_classification()));
    ASSERT_TRUE(subscriber.receive_non_probe());
    zmq::message_t frame;
    hostile_received += hostile.recv(frame, zmq::recv_flags::none) ? 1 : 0;
  }
  EXPECT_EQ(hostile_received, 0);
}

TEST(ZmqPublisherTest, address_in_use_is_a_clear_error_naming_it) {
  ZmqPublisher first(loopback_options());
  ZmqPublisherOptions options;
  options.endpoint = "bind:" + first.endpoint();
  try {
    ZmqPublisher second(options);
    FAIL() << "bound " << first.endpoint() << " twice";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(first.endpoint()), std::string::npos) << message;
    EXPECT_NE(message.find("free port"), std::string::npos) << message;
    EXPECT_NE(message.find("connect:"), std::string::npos) << message;
  }
  // The failed constructor left nothing behind: the first publisher still works.
  EXPECT_TRUE(first.publish(ivs::test::sample_classification()));
}

TEST(ZmqPublisherTest, malformed_endpoint_and_bad_hwm_throw_runtime_error) {
  ZmqPublisherOptions options;
  options.endpoint = "bind:udp://127.0.0.1:5555";
  try {
    ZmqPublisher publisher(options);
    FAIL() << "accepted " << options.endpoint;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(options.endpoint), std::string::npos) << e.what();
  }
  options = loopback_options();
  options.send_hwm = 0;
  EXPECT_THROW(ZmqPublisher publisher(options), std::runtime_error);
}

TEST(ZmqPublisherTest, unavailable_interface_is_a_clear_error) {
  ZmqPublisherOptions options;
  options.endpoint = "bind:tcp://192.0.2.1:*";  // TEST-NET-1: never an address of this machine
  try {
    ZmqPublisher publisher(options);
    FAIL() << "bound " << options.endpoint;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tcp://192.0.2.1:*"), std::string::npos) << e.what();
  }
}

}  // namespace
