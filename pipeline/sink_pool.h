// SPDX-License-Identifier: Apache-2.0
// Result sinks shared by every internvlpublish element of a process: one ZeroMQ socket per
// endpoint and one writer per JSON-lines file, however many streams publish to them. The
// service (many pipelines, one endpoint) puts a pool in a GstContext of type "internvl.sinks"
// on each pipeline; an internvlpublish that finds a pool takes its sinks from it, one that finds
// none opens its own (a plain gst-launch pipeline). The pool holds its sinks weakly: a sink is
// closed when the last user (element or application) lets go, so an application that keeps a
// sink keeps its socket bound across pipeline restarts.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <gst/gst.h>

#include "sinks/jsonl_writer.h"
#include "sinks/zmq/zmq_publisher.h"

namespace ivs::pipeline {

inline constexpr const char* kSinkPoolContextType = "internvl.sinks";

/// Thread-safe.
class SinkPool {
 public:
  /// The open publisher for `options.endpoint` (as written), or a new one. A publisher already
  /// open keeps the options it was opened with. Throws what ZmqPublisher's constructor throws.
  std::shared_ptr<sinks::ZmqPublisher> zmq(const sinks::ZmqPublisherOptions& options);
  /// The open writer for `path`, or a new one. Throws what JsonLinesWriter's constructor throws.
  std::shared_ptr<sinks::JsonLinesWriter> jsonl(const std::string& path);

 private:
  std::mutex lock_;
  std::map<std::string, std::weak_ptr<sinks::ZmqPublisher>> zmq_;
  std::map<std::string, std::weak_ptr<sinks::JsonLinesWriter>> jsonl_;
};

/// A new persistent context holding `pool`. Transfer full.
GstContext* sink_pool_context_new(std::shared_ptr<SinkPool> pool);

/// The pool given to `element`'s pipeline by the application (its own context, a peer's
/// answer, or NEED_CONTEXT), or null when there is none. Call from start().
std::shared_ptr<SinkPool> find_sink_pool(GstElement* element);

}  // namespace ivs::pipeline
