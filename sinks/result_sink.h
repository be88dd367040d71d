// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "sinks/frame_result.h"

namespace ivs::sinks {

/// Where results go (ZeroMQ, JSON-lines files, ...). A new kind of destination implements this
/// and is added to a ResultFanout's list. Implementations are thread-safe: several fan-outs may
/// share one sink and publish at once. publish() never blocks on a slow consumer.
class ResultSink {
 public:
  virtual ~ResultSink() = default;

  /// Hands one result over. Returns false when it was dropped (queue full, I/O error); the
  /// implementation counts drops and reports them through its own counters.
  virtual bool publish(const FrameResult& result) = 0;

  /// Pushes out anything buffered (bounded wait).
  virtual void flush() = 0;

  /// The kind of sink, lower case ("zmq", "jsonl"): the `sink` label of the publish metrics.
  /// A static string, valid for the program's life.
  virtual const char* name() const = 0;
};

/// Shared, not unique: a process may publish through one socket or file from several fan-outs
/// (one per stream), and the sink lives until the last of them lets go.
using ResultSinkPtr = std::shared_ptr<ResultSink>;

}  // namespace ivs::sinks
