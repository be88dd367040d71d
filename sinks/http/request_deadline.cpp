// SPDX-License-Identifier: Apache-2.0
#include "sinks/http/request_deadline.h"

#include <sys/socket.h>

namespace ivs::sinks {

RequestDeadline::RequestDeadline(std::chrono::seconds timeout)
    : timeout_(timeout), thread_([this] { run(); }) {}

RequestDeadline::~RequestDeadline() {
  {
    std::lock_guard<std::mutex> guard(lock_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RequestDeadline::opened(const void* connection, int fd) {
  std::lock_guard<std::mutex> guard(lock_);
  connections_[connection] = {fd, Clock::now() + timeout_};
}

void RequestDeadline::arrived(const void* connection) {
  std::lock_guard<std::mutex> guard(lock_);
  const auto found = connections_.find(connection);
  if (found != connections_.end()) found->second.deadline = Clock::time_point::max();
}

void RequestDeadline::answered(const void* connection) {
  std::lock_guard<std::mutex> guard(lock_);
  const auto found = connections_.find(connection);
  if (found != connections_.end()) found->second.deadline = Clock::now() + timeout_;
}

void RequestDeadline::closed(const void* connection) {
  std::lock_guard<std::mutex> guard(lock_);
  connections_.erase(connection);
}

size_t RequestDeadline::expired() const {
  std::lock_guard<std::mutex> guard(lock_);
  return expired_;
}

void RequestDeadline::run() {
  std::unique_lock<std::mutex> guard(lock_);
  while (!stopping_) {
    // A scan a second: connections are few thousand at most, and a deadline met a second late
    // costs nothing.
    wake_.wait_for(guard, std::chrono::seconds(1));
    const auto now = Clock::now();
    for (auto& [key, connection] : connections_) {
      if (connection.deadline > now) continue;
      // Under the lock: closed() has not run, so the descriptor is still this connection's.
      shutdown(connection.fd, SHUT_RDWR);
      connection.deadline = Clock::time_point::max();
      ++expired_;
    }
  }
}

}  // namespace ivs::sinks
