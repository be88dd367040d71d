// SPDX-License-Identifier: Apache-2.0
#include "pipeline/metrics_context.h"

#include "pipeline/context_lookup.h"

#include <stdexcept>
#include <utility>

#ifndef IVS_PROJECT_VERSION
#define IVS_PROJECT_VERSION "unknown"
#endif
#ifndef IVS_TORCH_VERSION
#define IVS_TORCH_VERSION "unknown"
#endif

GST_DEBUG_CATEGORY_STATIC(internvl_metrics_context_debug);
#define GST_CAT_DEFAULT internvl_metrics_context_debug

namespace ivs::pipeline {
namespace {

void init_debug() {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    GST_DEBUG_CATEGORY_INIT(internvl_metrics_context_debug, "internvlmetrics", 0,
                            "InternVL metrics sharing through GstContext");
    g_once_init_leave(&done, 1);
  }
}

std::string or_unknown(const std::string& value) { return value.empty() ? "unknown" : value; }

std::shared_ptr<MetricsHub> find_or_create(GstElement* element, const MetricsBuildInfo& info) {
  std::shared_ptr<MetricsHub> hub;
  if (find_shared_context(element, kMetricsContextType, [&](const GstContext* context) {
        hub = metrics_hub_in_context(context);
        return hub != nullptr;
      })) {
    GST_DEBUG_OBJECT(element, "found the metrics hub in the pipeline's context");
    return hub;
  }
  hub = std::make_shared<MetricsHub>(info);
  GST_INFO_OBJECT(element, "created the InternVL metrics registry");
  announce_context(element, metrics_context_new(hub));
  return hub;
}

}  // namespace

MetricsHub::MetricsHub(const MetricsBuildInfo& info)
    : metrics_(info.version.empty() ? IVS_PROJECT_VERSION : info.version, or_unknown(info.torch),
               or_unknown(info.device)) {}

bool MetricsHub::serve(const std::string& address) {
  std::lock_guard<std::mutex> guard(lock_);
  if (exposer_) return address_ == address;
  exposer_ = std::make_unique<sinks::MetricsExposer>(address, metrics_.registry());
  address_ = address;
  return true;
}

uint16_t MetricsHub::port() const {
  std::lock_guard<std::mutex> guard(lock_);
  return exposer_ ? exposer_->port() : 0;
}

std::string MetricsHub::address() const {
  std::lock_guard<std::mutex> guard(lock_);
  return address_;
}

MetricsBuildInfo default_build_info(const std::string& device) {
  return MetricsBuildInfo{IVS_PROJECT_VERSION, IVS_TORCH_VERSION, device};
}

GstContext* metrics_context_new(std::shared_ptr<MetricsHub> hub) {
  return shared_object_context_new(kMetricsContextType, std::move(hub));
}

std::shared_ptr<MetricsHub> metrics_hub_in_context(const GstContext* context) {
  return std::static_pointer_cast<MetricsHub>(
      shared_object_in_context(context, kMetricsContextType));
}

std::shared_ptr<MetricsHub> acquire_metrics(GstElement* element, const std::string& address,
                                            const MetricsBuildInfo& info) {
  init_debug();
  auto hub = find_or_create(element, info);
  if (!address.empty()) {
    bool served = false;
    try {
      served = hub->serve(address);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot serve Prometheus metrics on '" + address + "': " + e.what());
    }
    if (served) {
      GST_INFO_OBJECT(element, "serving /metrics on %s (port %u)", address.c_str(), hub->port());
    } else {
      GST_WARNING_OBJECT(
          element,
          "metrics-address %s ignored: this pipeline's metrics are already served on %s "
          "(port %u)",
          address.c_str(), hub->address().c_str(), hub->port());
    }
  }
  return hub;
}

bool handle_metrics_context_query(GstElement* element, GstQuery* query) {
  return answer_context_query(element, query, kMetricsContextType);
}

std::string stream_name_of(GstElement* element, const std::string& configured) {
  if (!configured.empty()) return configured;
  gchar* name = gst_object_get_name(GST_OBJECT(element));
  std::string label = name != nullptr ? name : "unnamed";
  g_free(name);
  return label;
}

}  // namespace ivs::pipeline
