// SPDX-License-Identifier: Apache-2.0
#include "sinks/prometheus/metrics_exposer.h"

#include <stdexcept>
#include <utility>

#include <prometheus/text_serializer.h>

namespace ivs::sinks {

HttpResponse metrics_response(const prometheus::Registry& registry) {
  return {200,
          "text/plain; version=0.0.4; charset=utf-8",
          prometheus::TextSerializer().Serialize(registry.Collect()),
          {}};
}

MetricsExposer::MetricsExposer(const std::string& address,
                               std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  if (!registry_) throw std::runtime_error("metrics exposer for '" + address + "': null registry");
  const prometheus::Registry* served = registry_.get();
  server_ =
      std::make_unique<HttpServer>(address, [served](const HttpRequest& request) -> HttpResponse {
        if (request.method != "GET" && request.method != "HEAD")
          return {405, "text/plain", "only GET\n", {}};
        if (request.path != "/metrics") return {404, "text/plain", "not found: try /metrics\n", {}};
        return metrics_response(*served);
      });
}

MetricsExposer::~MetricsExposer() = default;

}  // namespace ivs::sinks
