// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <prometheus/registry.h>

struct MHD_Daemon;

namespace ivs::sinks {

/// Serves GET /metrics for a registry over HTTP, in prometheus-cpp's text format, with
/// libmicrohttpd (Debian libmicrohttpd-dev). Serving starts in the constructor and stops in the
/// destructor; the exposer shares ownership of the registry.
///
/// Why not prometheus-cpp's own Exposer: it runs on civetweb, and Debian's civetweb creates its
/// threads with a fixed 100 KiB stack. In a process that has LibTorch loaded the static TLS
/// alone is larger than that, pthread_create fails with EINVAL and the exposer cannot start
/// ("null context when constructing CivetServer"). libmicrohttpd uses default-sized stacks.
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
  uint16_t port() const;

  /// The address as configured, for log lines.
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::shared_ptr<prometheus::Registry> registry_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace ivs::sinks
