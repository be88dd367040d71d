// SPDX-License-Identifier: Apache-2.0
#include "pipeline/sink_pool.h"

#include "pipeline/context_lookup.h"

namespace ivs::pipeline {
namespace {

// One open sink per key, created on first use; expired entries are replaced.
template <typename Sink, typename Make>
std::shared_ptr<Sink> get_or_open(std::map<std::string, std::weak_ptr<Sink>>& open,
                                  const std::string& key, Make&& make) {
  if (auto existing = open[key].lock()) return existing;
  auto created = make();
  open[key] = created;
  return created;
}

}  // namespace

std::shared_ptr<sinks::ZmqPublisher> SinkPool::zmq(const sinks::ZmqPublisherOptions& options) {
  std::lock_guard<std::mutex> guard(lock_);
  return get_or_open(zmq_, options.endpoint,
                     [&] { return std::make_shared<sinks::ZmqPublisher>(options); });
}

std::shared_ptr<sinks::JsonLinesWriter> SinkPool::jsonl(const std::string& path) {
  std::lock_guard<std::mutex> guard(lock_);
  return get_or_open(jsonl_, path, [&] { return std::make_shared<sinks::JsonLinesWriter>(path); });
}

GstContext* sink_pool_context_new(std::shared_ptr<SinkPool> pool) {
  return shared_object_context_new(kSinkPoolContextType, std::move(pool));
}

std::shared_ptr<SinkPool> find_sink_pool(GstElement* element) {
  std::shared_ptr<SinkPool> pool;
  find_shared_context(element, kSinkPoolContextType, [&](const GstContext* context) {
    pool =
        std::static_pointer_cast<SinkPool>(shared_object_in_context(context, kSinkPoolContextType));
    return pool != nullptr;
  });
  return pool;
}

}  // namespace ivs::pipeline
