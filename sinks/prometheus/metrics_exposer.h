// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <prometheus/registry.h>

#include "sinks/http/http_server.h"

namespace ivs::sinks {

/// Serves GET /metrics for a registry over HTTP (HttpServer, libmicrohttpd), in prometheus-cpp's
/// text format. Serving starts in the constructor and stops in the destructor; the exposer
/// shares ownership of the registry. prometheus-cpp's own Exposer cannot run beside LibTorch
/// (see HttpServer).
class MetricsExposer {
 public:
  /// `address`: "127.0.0.1:9464" ("host:0" picks a free port). Throws std::runtime_error naming
  /// the address when it cannot listen (in use, bad host) or when `registry` is null.
  MetricsExposer(const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  /// Stops serving (returns once the server thread has exited; in-flight requests finish).
  ~MetricsExposer();

  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  /// The port actually listened on (the chosen one when the address asked for port 0).
  uint16_t port() const { return server_->port(); }

  /// The address as configured, for log lines.
  const std::string& address() const { return server_->address(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpServer> server_;
};

/// The /metrics response for `registry` (text exposition format 0.0.4), for any HTTP server
/// that serves metrics next to other routes (the service).
HttpResponse metrics_response(const prometheus::Registry& registry);

}  // namespace ivs::sinks
