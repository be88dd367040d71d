// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <prometheus/registry.h>

namespace prometheus {
class Exposer;
}

namespace ivs::sinks {

/// Serves GET /metrics for a registry over HTTP (prometheus-cpp's civetweb exposer). Serving starts
/// in the constructor and stops in the destructor. It shares ownership of the registry, because
/// prometheus-cpp's exposer keeps only a weak reference and would silently serve nothing if the
/// Metrics object went away first.
class MetricsExposer {
 public:
  /// `address`: "127.0.0.1:9464" ("host:0" picks a free port). Throws std::runtime_error naming
  /// the address when it cannot listen (in use, bad host) or when `registry` is null.
  MetricsExposer(const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  /// Stops serving. Takes up to ~2 s: civetweb's listener thread only notices the stop request
  /// when its poll() quantum (2 s) expires, so plan shutdown budgets accordingly.
  ~MetricsExposer();

  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  /// The port actually listened on (the chosen one when the address asked for port 0).
  uint16_t port() const;

  /// The address as configured, for log lines.
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace ivs::sinks
