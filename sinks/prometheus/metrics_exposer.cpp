// SPDX-License-Identifier: Apache-2.0
#include "sinks/prometheus/metrics_exposer.h"

#include <exception>
#include <stdexcept>
#include <utility>

#include <prometheus/exposer.h>

namespace ivs::sinks {
namespace {

// civetweb's own message ("null context when constructing CivetServer...") says nothing about
// which address failed, so it is wrapped in one an operator can act on.
[[noreturn]] void throw_bind_error(const std::string& address, const std::string& cause) {
  throw std::runtime_error("metrics exposer: cannot listen on '" + address +
                           "' (address in use or host not local?); choose another port, "
                           "or host:0 for any free port. Cause: " +
                           cause);
}

}  // namespace

MetricsExposer::MetricsExposer(const std::string& address,
                               std::shared_ptr<prometheus::Registry> registry)
    : address_(address), registry_(std::move(registry)) {
  if (!registry_) {
    throw std::runtime_error("metrics exposer for '" + address + "': null registry");
  }
  try {
    // One worker thread is plenty for a scrape every few seconds and keeps the footprint small.
    exposer_ = std::make_unique<prometheus::Exposer>(address_, 1);
  } catch (const std::exception& e) {
    throw_bind_error(address_, e.what());
  }
  if (exposer_->GetListeningPorts().empty()) {
    throw_bind_error(address_, "no listening port");
  }
  // Registering after the bind check means a failed constructor leaves nothing half-served.
  exposer_->RegisterCollectable(registry_);
}

MetricsExposer::~MetricsExposer() = default;

uint16_t MetricsExposer::port() const {
  return static_cast<uint16_t>(exposer_->GetListeningPorts().front());
}

}  // namespace ivs::sinks
