// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <thread>

namespace ivs::sinks {

/// Closes connections whose request has not fully arrived within a deadline: a slowloris that
/// sends a byte every few seconds is never idle, so an idle timeout alone would let it hold its
/// connection for ever. Each connection gets `timeout` from when it opened, and again from when
/// its previous request was answered (keep-alive). An overdue connection is shut down (its file
/// descriptor stays open for the server, which sees end of file and closes it as usual).
///
/// Thread-safe: the server's threads report what happens to a connection (keyed by an opaque
/// pointer), a thread of its own enforces the deadlines.
class RequestDeadline {
 public:
  explicit RequestDeadline(std::chrono::seconds timeout);
  ~RequestDeadline();

  RequestDeadline(const RequestDeadline&) = delete;
  RequestDeadline& operator=(const RequestDeadline&) = delete;

  /// A connection on `fd` opened: its first request must arrive within the timeout. `fd` must
  /// stay open until closed() is called for it.
  void opened(const void* connection, int fd);
  /// Its request arrived in full: no deadline while it is handled and answered.
  void arrived(const void* connection);
  /// Its request was answered: the next one on it (keep-alive) must arrive within the timeout.
  /// Does nothing for a connection already closed.
  void answered(const void* connection);
  /// It closed: forgotten before its file descriptor is closed.
  void closed(const void* connection);

  /// Connections shut down for missing their deadline so far.
  size_t expired() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    int fd;
    Clock::time_point deadline;
  };
  void run();

  const std::chrono::seconds timeout_;
  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::map<const void*, Connection> connections_;
  size_t expired_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts when everything it reads exists
};

}  // namespace ivs::sinks
