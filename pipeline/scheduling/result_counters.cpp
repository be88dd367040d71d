// SPDX-License-Identifier: Apache-2.0
#include "pipeline/scheduling/result_counters.h"

#include <utility>

namespace ivs::pipeline {

const char* drop_reason_label(DropReason reason) {
  switch (reason) {
    case DropReason::kEngineFull:
      return "engine_full";
    case DropReason::kLate:
      return "late";
    case DropReason::kFailed:
      return "failed";
    case DropReason::kQueueFull:
      return "queue_full";
  }
  return "unknown";
}

void ResultCounters::bind(std::shared_ptr<sinks::Metrics> metrics, std::string stream,
                          std::string task, bool count_frames) {
  metrics_ = std::move(metrics);
  stream_ = std::move(stream);
  task_ = std::move(task);
  count_frames_ = count_frames;
  frames_ = 0;
  sampled_ = 0;
  attached_ = 0;
  for (auto& count : dropped_) count = 0;
}

void ResultCounters::unbind() { metrics_.reset(); }

void ResultCounters::frame() {
  ++frames_;
  if (metrics_ && count_frames_) metrics_->frames(stream_).Increment();
}

void ResultCounters::sampled() {
  ++sampled_;
  if (metrics_) metrics_->frames_sampled(stream_, task_).Increment();
}

void ResultCounters::attached(double latency_seconds) {
  ++attached_;
  if (metrics_) metrics_->result_latency(stream_, task_).Observe(latency_seconds);
}

void ResultCounters::dropped(DropReason reason, uint64_t count) {
  if (count == 0) return;
  dropped_[static_cast<size_t>(reason)] += count;
  if (metrics_) {
    metrics_->frames_dropped(stream_, drop_reason_label(reason))
        .Increment(static_cast<double>(count));
  }
}

uint64_t ResultCounters::drops(DropReason reason) const {
  return dropped_[static_cast<size_t>(reason)].load();
}

}  // namespace ivs::pipeline
