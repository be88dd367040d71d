// SPDX-License-Identifier: Apache-2.0
// When requests waiting for a running caption decode join it. A join runs the ViT and a prefill for
// the newcomers while every live request waits for it, and joining one or two at a time runs those
// at a tiny batch. Hugging Face's Text Generation Inference weighs the same trade with
// waiting_served_ratio and max_waiting_tokens; this is that rule. Plain C++ (the engine's options
// carry it without LibTorch).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ivs::model {

struct JoinPolicy {
  /// Join once the waiting requests number at least this many times the live ones (capped at the
  /// free slots). 0: join whatever waits at every step (lowest latency).
  double waiting_served_ratio = 0.0;
  /// ... or once requests have waited this many decode steps, however few they are.
  int64_t max_waiting_steps = 8;

  /// The fewest waiting requests that join now, given `live` requests decoding, `free_slots` and
  /// the decode steps run since requests started waiting. Always 1 when nothing is live.
  int64_t min_joining(int64_t live, int64_t free_slots, int64_t steps_waited) const {
    if (live == 0 || steps_waited >= max_waiting_steps || !(waiting_served_ratio > 0.0)) return 1;
    // Clamped in double first: a huge (or infinite) ratio must not overflow the conversion.
    const double cap = static_cast<double>(std::max<int64_t>(1, free_slots));
    return static_cast<int64_t>(
        std::min(cap, std::ceil(waiting_served_ratio * static_cast<double>(live))));
  }
};

}  // namespace ivs::model
