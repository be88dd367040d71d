// SPDX-License-Identifier: Apache-2.0
#include "tests/pipeline/service/stand_in_pipeline.h"

#include <stdexcept>

namespace ivs::service {

StreamPipeline stand_in_pipeline(const StreamConfig& stream) {
  StreamPipeline built;
  built.pipeline = gst_pipeline_new(stream.id.c_str());
  gst_object_ref_sink(built.pipeline);
  GstElement* source = gst_element_factory_make("appsrc", "source");
  built.queue = gst_element_factory_make("queue", "decoded");
  GstElement* sink = gst_element_factory_make("fakesink", "sink");
  if (source == nullptr || built.queue == nullptr || sink == nullptr)
    throw std::runtime_error("GStreamer lacks appsrc, queue or fakesink (gst-plugins-base)");
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(built.pipeline), source, built.queue, sink, nullptr);
  if (!gst_element_link_many(source, built.queue, sink, nullptr))
    throw std::runtime_error("cannot link appsrc ! queue ! fakesink");
  return built;
}

}  // namespace ivs::service
