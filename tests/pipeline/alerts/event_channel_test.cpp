// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/alerts/event_channel.h"

namespace ivs::pipeline {
namespace {

AlertEvent event_of(const std::string& stream, const std::string& id) {
  AlertEvent e;
  e.stream_id = stream;
  e.id = id;
  return e;
}

TEST(EventChannelTest, listeners_get_the_events_of_their_stream_only) {
  EventChannel channel;
  std::vector<std::string> cam1;
  std::vector<std::string> cam2;
  const uint64_t a = channel.subscribe("cam1", [&](const AlertEvent& e) { cam1.push_back(e.id); });
  channel.subscribe("cam2", [&](const AlertEvent& e) { cam2.push_back(e.id); });
  channel.publish(event_of("cam1", "x"));
  channel.publish(event_of("cam2", "y"));
  channel.unsubscribe(a);
  channel.publish(event_of("cam1", "z"));
  EXPECT_EQ(cam1, std::vector<std::string>{"x"});
  EXPECT_EQ(cam2, std::vector<std::string>{"y"});
}

TEST(EventChannelTest, a_listener_may_unsubscribe_itself_while_called) {
  EventChannel channel;
  int calls = 0;
  uint64_t id = 0;
  id = channel.subscribe("cam1", [&](const AlertEvent&) {
    ++calls;
    channel.unsubscribe(id);
  });
  channel.publish(event_of("cam1", "a"));
  channel.publish(event_of("cam1", "b"));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ivs::pipeline

namespace ivs::pipeline {
namespace {

TEST(EventChannelTest, waiting_for_publishers_ends_when_the_last_one_finishes) {
  EventChannel channel;
  EXPECT_TRUE(channel.wait_for_publishers("cam1", std::chrono::milliseconds(0)))
      << "no publisher: nothing to wait for";
  channel.publisher_started("cam1");
  channel.publisher_started("cam2");
  EXPECT_FALSE(channel.wait_for_publishers("cam1", std::chrono::milliseconds(1)));
  std::thread finisher([&] { channel.publisher_finished("cam1"); });
  EXPECT_TRUE(channel.wait_for_publishers("cam1", std::chrono::seconds(30)));
  finisher.join();
  EXPECT_FALSE(channel.wait_for_publishers("cam2", std::chrono::milliseconds(1)))
      << "another stream's publisher is its own";
  channel.publisher_finished("cam2");
  channel.publisher_finished("cam2");  // unbalanced: ignored
  EXPECT_TRUE(channel.wait_for_publishers("cam2", std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace ivs::pipeline

namespace ivs::pipeline {
namespace {

TEST(EventChannelTest, progress_waits_for_the_stream_time_decided) {
  EventChannel channel;
  EXPECT_TRUE(channel.wait_for_progress("cam1", 5, std::chrono::milliseconds(0)))
      << "no publisher: never wait";
  channel.publisher_started("cam1");
  channel.note_progress("cam1", 4);
  EXPECT_FALSE(channel.wait_for_progress("cam1", 5, std::chrono::milliseconds(1)));
  std::thread publisher([&] { channel.note_progress("cam1", 5); });
  EXPECT_TRUE(channel.wait_for_progress("cam1", 5, std::chrono::seconds(30)));
  publisher.join();
  EXPECT_FALSE(channel.wait_for_progress("cam1", 100, std::chrono::milliseconds(1)));
  channel.publisher_finished("cam1");
  EXPECT_TRUE(channel.wait_for_progress("cam1", 100, std::chrono::milliseconds(0)))
      << "the publisher finished: nothing more will be decided";
}

}  // namespace
}  // namespace ivs::pipeline
