// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ivs::service {

/// A deadline on a stop that joins threads it does not control (a pipeline's set_state to NULL
/// on a dead RTSP camera, the engine's drain): unless the object is destroyed within `limit`,
/// `expired` runs on the deadline's own thread (the service logs and ends the process there).
/// Thread-safe; the destructor disarms it and returns at once when the deadline has not passed.
class StopDeadline {
 public:
  StopDeadline(std::chrono::milliseconds limit, std::function<void()> expired);
  ~StopDeadline();
  StopDeadline(const StopDeadline&) = delete;
  StopDeadline& operator=(const StopDeadline&) = delete;

 private:
  std::mutex lock_;
  std::condition_variable wake_;
  bool disarmed_ = false;  // guarded by lock_
  std::thread thread_;
};

}  // namespace ivs::service
