// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

namespace ivs::service {

/// File descriptors kept for everything but HTTP connections: streams (sockets, files, decoder
/// threads' pipes), the model's files, outputs, ZeroMQ, logs.
constexpr unsigned kFilesBesideHttp = 256;

/// Raises the soft open-files limit (RLIMIT_NOFILE) to the hard one and returns the soft limit
/// now in force. systemd starts services with 1,024 (hard 524,288), fewer than the HTTP server's
/// max_connections alone may need: every idle or half-open connection holds a descriptor, and
/// without one even the health probe cannot be accepted.
uint64_t raise_open_files_limit();

/// The HTTP connections that fit within `open_files` beside kFilesBesideHttp: `wanted`, or
/// fewer (at least 8, one per server thread) when the limit is lower.
unsigned http_connections_within(unsigned wanted, uint64_t open_files);

}  // namespace ivs::service
