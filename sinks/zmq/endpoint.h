// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace ivs::sinks {

/// A ZeroMQ endpoint as users write it: "bind:tcp://127.0.0.1:5555", "connect:tcp://host:5555",
/// or without a prefix, where an address containing '*' binds and any other connects
/// (internvlpublish `endpoint`, README.md "Use from gst-launch").
struct ZmqEndpoint {
  bool bind = true;
  std::string address;  // "tcp://127.0.0.1:5555", "ipc:///tmp/x", "inproc://x"

  /// Throws std::invalid_argument naming the text and the accepted forms.
  static ZmqEndpoint parse(const std::string& text);
};

}  // namespace ivs::sinks
