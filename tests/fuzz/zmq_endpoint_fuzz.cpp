// SPDX-License-Identifier: Apache-2.0
// ZeroMQ endpoint strings (sinks/zmq/endpoint.h). The only accepted failure is the documented
// std::invalid_argument; anything else is a finding, and so is an accepted endpoint with an
// empty address.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sinks/zmq/endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto endpoint =
        ivs::sinks::ZmqEndpoint::parse(std::string(reinterpret_cast<const char*>(data), size));
    if (endpoint.address.empty()) __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
