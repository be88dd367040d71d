// SPDX-License-Identifier: Apache-2.0
// What internvlclassify and internvlcaption keep beside their running state, and the property
// handling they share: settings under a lock, the counters and the inference wait (both outlive
// the state: the properties read them after stop), the pipeline's metrics hub (metrics-port) and
// the CUDA memory policy.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>

#include "pipeline/metrics_context.h"
#include "pipeline/scheduling/inference_wait.h"
#include "pipeline/scheduling/result_counters.h"
#include "plugins/internvl/cuda_memory.h"
#include "plugins/internvl/property_table.h"

namespace ivs::plugins {

template <typename Settings>
struct InferenceElementPrivate {
  std::mutex lock;  // settings, metrics (and what the element adds under it)
  Settings settings;
  pipeline::ResultCounters counters;
  pipeline::InferenceWait wait;                   // the streaming thread's
  std::shared_ptr<pipeline::MetricsHub> metrics;  // set in start(), for metrics-port
  CudaFramePolicy cuda;                           // CUDA memory in negotiation

  /// set_property: the table's field; a change of `device_id` updates the CUDA policy. False
  /// when `id` is not a read-write property.
  bool set_property(const PropertyTable<Settings>& table, guint id, guint device_id,
                    const GValue* value) {
    std::lock_guard<std::mutex> guard(lock);
    if (!table.set(settings, id, value)) return false;
    if (id == device_id) cuda.set_device_property(settings.engine.key().device);
    return true;
  }

  /// get_property for the settings and for inference-wait (`wait_id`) and metrics-port
  /// (`port_id`); false for the element's own read-only properties.
  bool get_property(const PropertyTable<Settings>& table, guint id, guint wait_id, guint port_id,
                    GValue* value) {
    std::lock_guard<std::mutex> guard(lock);
    if (table.get(settings, id, value)) return true;
    if (id == wait_id) {
      g_value_set_uint64(value, static_cast<guint64>(wait.current().count()));
      return true;
    }
    if (id == port_id) {
      g_value_set_uint(value, metrics ? metrics->port() : 0);
      return true;
    }
    return false;
  }
};

}  // namespace ivs::plugins
