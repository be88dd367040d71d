// SPDX-License-Identifier: Apache-2.0
// Sharing one Prometheus registry (sinks::Metrics, sinks/README.md) between every element of a
// pipeline, and between pipelines of the service, through a persistent GstContext of type
// "internvl.metrics": the same NEED_CONTEXT / HAVE_CONTEXT dance as the engine
// (engine_context.h). No static singleton: the hub lives as long as a context or an element
// holds it.
//
// Every element that records metrics acquires the hub when it starts, with or without a
// `metrics-address`; the first element that asks for an address starts the one HTTP exposer of
// the hub, later elements asking for another address keep the first one (a warning names both).
// An application that owns a hub (the service) sets it on the pipeline before starting it:
//   auto hub = std::make_shared<ivs::pipeline::MetricsHub>(build_info);
//   GstContext* context = ivs::pipeline::metrics_context_new(hub);
//   gst_element_set_context(pipeline, context);
//   gst_context_unref(context);
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <gst/gst.h>

#include "sinks/prometheus/metrics.h"
#include "sinks/prometheus/metrics_exposer.h"

namespace ivs::pipeline {

inline constexpr const char* kMetricsContextType = "internvl.metrics";

/// Labels of internvl_build_info; empty fields become "unknown" (version: PROJECT_VERSION).
struct MetricsBuildInfo {
  std::string version;
  std::string torch;
  std::string device;
};

/// The process's (or pipeline's) metrics and their optional /metrics server. Thread-safe.
class MetricsHub {
 public:
  explicit MetricsHub(const MetricsBuildInfo& info = {});
  MetricsHub(const MetricsHub&) = delete;
  MetricsHub& operator=(const MetricsHub&) = delete;

  sinks::Metrics& metrics() { return metrics_; }

  /// Starts serving on `address` unless an exposer already runs. Returns false (nothing changed)
  /// when one runs on another address; throws std::runtime_error naming `address` when it
  /// cannot listen.
  bool serve(const std::string& address);
  /// The port served (0 when not serving), and the address asked for ("" when not serving).
  uint16_t port() const;
  std::string address() const;

 private:
  sinks::Metrics metrics_;
  mutable std::mutex lock_;
  std::unique_ptr<sinks::MetricsExposer> exposer_;  // under lock_
  std::string address_;                             // under lock_
};

/// The version and torch version compiled into ivs_pipeline, and `device`.
MetricsBuildInfo default_build_info(const std::string& device);

/// A new persistent context holding `hub`. Transfer full.
GstContext* metrics_context_new(std::shared_ptr<MetricsHub> hub);

/// The hub in `context`; null when it is null, of another type or empty.
std::shared_ptr<MetricsHub> metrics_hub_in_context(const GstContext* context);

/// The hub of `element`'s pipeline: its own context, a peer's (context query downstream then
/// upstream), the bin's or application's (NEED_CONTEXT), else a new one (with `info`) that is
/// announced (HAVE_CONTEXT). When `address` is not empty the hub serves /metrics there (see
/// MetricsHub::serve; a different address already served is logged as a warning on `element`).
/// Call from start() without the object lock held. Throws std::runtime_error naming the address
/// when it cannot listen.
std::shared_ptr<MetricsHub> acquire_metrics(GstElement* element, const std::string& address,
                                            const MetricsBuildInfo& info = {});

/// The stream an element speaks for (the `stream` label of its metrics, internvlpublish's
/// sensor_id): `configured` when the application set it (the service names every element of a
/// stream after the stream), else the element's name.
std::string stream_name_of(GstElement* element, const std::string& configured);

/// Answers a GST_QUERY_CONTEXT of type "internvl.metrics" from `element`'s own context; returns
/// whether it did. Elements call it from their pad query functions.
bool handle_metrics_context_query(GstElement* element, GstQuery* query);

}  // namespace ivs::pipeline
