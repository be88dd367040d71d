// SPDX-License-Identifier: Apache-2.0
// What happened to an element's frames and samples, counted once: each count updates the
// element's own counter (read by its properties) and the matching Prometheus series
// (sinks/README.md) together, so the two never disagree.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "sinks/prometheus/metrics.h"

namespace ivs::pipeline {

/// Why a sample got no result on its frame: the `reason` label of internvl_frames_dropped_total.
enum class DropReason {
  kEngineFull,  // refused: the engine queue (or the element's in-flight limit) was full
  kLate,        // the result came after max-latency, or was still running at a flush or EOS
  kFailed,      // preprocessing or the model failed
  kQueueFull,   // the service's frame queue before inference dropped a frame (live streams)
};
inline constexpr size_t kDropReasonCount = 4;

/// The label value: "engine_full", "late", "failed", "queue_full".
const char* drop_reason_label(DropReason reason);

class ResultCounters {
 public:
  /// Counts without Prometheus series until bind().
  ResultCounters() = default;
  ResultCounters(const ResultCounters&) = delete;
  ResultCounters& operator=(const ResultCounters&) = delete;

  /// Records into `metrics` (kept alive) with labels stream=`stream`, task=`task` ("caption",
  /// "classification"); internvl_frames_total only when `count_frames` (the application counts
  /// frames itself otherwise). Resets the counts. Call before frames flow.
  void bind(std::shared_ptr<sinks::Metrics> metrics, std::string stream, std::string task,
            bool count_frames);
  /// Stops recording into Prometheus (the counts stay readable).
  void unbind();

  void frame();
  void sampled();
  void attached(double latency_seconds);
  void dropped(DropReason reason, uint64_t count = 1);

  uint64_t frames() const { return frames_.load(); }
  uint64_t samples() const { return sampled_.load(); }
  uint64_t results_attached() const { return attached_.load(); }
  uint64_t drops(DropReason reason) const;

 private:
  std::shared_ptr<sinks::Metrics> metrics_;  // set before frames flow, reset after they stop
  std::string stream_;
  std::string task_;
  bool count_frames_ = true;
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> sampled_{0};
  std::atomic<uint64_t> attached_{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> dropped_{};
};

}  // namespace ivs::pipeline
