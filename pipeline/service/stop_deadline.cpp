// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/stop_deadline.h"

#include <utility>

namespace ivs::service {

StopDeadline::StopDeadline(std::chrono::milliseconds limit, std::function<void()> expired) {
  thread_ = std::thread([this, limit, expired = std::move(expired)] {
    std::unique_lock<std::mutex> guard(lock_);
    if (wake_.wait_for(guard, limit, [this] { return disarmed_; })) return;
    guard.unlock();
    expired();
  });
}

StopDeadline::~StopDeadline() {
  {
    std::lock_guard<std::mutex> guard(lock_);
    disarmed_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace ivs::service
