// SPDX-License-Identifier: Apache-2.0
// Whether an element's streaming thread is inside a call that waits on inference (a non-live
// stream's back-pressure: room in the engine's queue, the previous caption), and since when.
// The service reads it (the `inference-wait` property) to tell a file slowed down by a slow
// model, which passes no frame for a while, from a stalled source.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>

#include "pipeline/scheduling/clock.h"

namespace ivs::pipeline {

class InferenceWait {
 public:
  /// Marks the wait for its lifetime. Not nested: one scope at a time per streaming thread.
  class Scope {
   public:
    Scope(InferenceWait& wait, const Clock& clock = Clock::steady()) : wait_(wait) {
      wait_.since_ = clock.now().time_since_epoch().count();
    }
    ~Scope() { wait_.since_ = kNotWaiting; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    InferenceWait& wait_;
  };

  /// How long the current wait has lasted; zero when the thread is not waiting.
  std::chrono::nanoseconds current(const Clock& clock = Clock::steady()) const {
    const Clock::Duration::rep since = since_;
    if (since == kNotWaiting) return std::chrono::nanoseconds(0);
    const auto waited = clock.now().time_since_epoch() - Clock::Duration(since);
    // At least 1 ns: "waiting" stays visible even when read in the same tick.
    return std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(waited),
                    std::chrono::nanoseconds(1));
  }

 private:
  static constexpr Clock::Duration::rep kNotWaiting = -1;
  std::atomic<Clock::Duration::rep> since_{kNotWaiting};
};

}  // namespace ivs::pipeline
