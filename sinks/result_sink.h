// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "sinks/frame_result.h"

namespace ivs::sinks {

/// Where results go (ZeroMQ, JSON-lines files, ...). Implementations are thread-safe: several
/// streaming threads may publish at once. publish() never blocks on a slow consumer.
class ResultSink {
 public:
  virtual ~ResultSink() = default;

  /// Hands one result over. Returns false when it was dropped (queue full, I/O error); the
  /// implementation counts drops and reports them through its own counters.
  virtual bool publish(const FrameResult& result) = 0;

  /// Pushes out anything buffered (bounded wait).
  virtual void flush() = 0;
};

using ResultSinkPtr = std::unique_ptr<ResultSink>;

}  // namespace ivs::sinks
