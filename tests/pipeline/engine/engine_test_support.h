// SPDX-License-Identifier: Apache-2.0
// Shared by the engine tests: the tiny fixture's engine key and options that
// keep tests fast.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/engine/engine.h"
#include "tests/common/test_paths.h"

namespace ivs::pipeline::test_support {

/// Generous bound for a future that must complete; tests never wait for a fixed
/// time.
inline constexpr std::chrono::seconds kCompletes{60};

inline EngineKey tiny_engine_key() {
  return {ivs::test::internvl_tiny_dir().string(), "cpu", "fp32"};
}

inline EngineOptions small_options() {
  EngineOptions options;
  options.batch_size = 4;
  options.batch_timeout = std::chrono::milliseconds(1);
  options.max_queue = 16;
  options.intra_op_threads = 1;
  return options;
}

/// Largest absolute difference of two equally long vectors (1e9 when the lengths differ).
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e9;
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

/// ||a - b|| / ||b|| (infinite when the lengths differ). Results of one input in batches of
/// different sizes differ in the last float digits, so equal results are compared with this.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double difference = 0.0, reference = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    reference += double(b[i]) * b[i];
  }
  return std::sqrt(difference) / std::sqrt(reference);
}

/// Collects what an engine logs; give sink() to EngineOptions::log.
class LogCollector {
 public:
  std::function<void(EngineLogLevel, const std::string&)> sink() {
    return [this](EngineLogLevel level, const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.emplace_back(level, message);
    };
  }
  /// The messages logged at `level` or above, in order.
  std::vector<std::string> at_least(EngineLogLevel level) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [l, message] : messages_) {
      if (l >= level) out.push_back(message);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<EngineLogLevel, std::string>> messages_;
};

template <class T>
bool completes(const std::future<T>& future) {
  return future.wait_for(kCompletes) == std::future_status::ready;
}

}  // namespace ivs::pipeline::test_support
