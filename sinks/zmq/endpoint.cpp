// SPDX-License-Identifier: Apache-2.0
#include "sinks/zmq/endpoint.h"

#include <cctype>
#include <stdexcept>

namespace ivs::sinks {
namespace {

constexpr const char* kAcceptedForms =
    "expected bind:<address>, connect:<address>, or a bare <address> (one containing '*' binds, "
    "any other connects), where <address> is tcp://<host>:<port>, ipc://<path> or inproc://<name>";

// sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxIpcPath = 107;

[[noreturn]] void reject(const std::string& text, const std::string& reason) {
  throw std::invalid_argument("invalid ZeroMQ endpoint '" + text + "': " + reason + "; " +
                              kAcceptedForms);
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool all_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// tcp://<host>:<port>; host may be "*", a name, an IPv4 address or a bracketed IPv6 address.
void check_tcp(const std::string& text, const std::string& rest, bool bind) {
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) reject(text, "a tcp address needs a port (tcp://<host>:<port>)");
  const std::string host = rest.substr(0, colon);
  const std::string port = rest.substr(colon + 1);
  if (host.empty()) reject(text, "the tcp host is empty (use * or 127.0.0.1 to bind)");
  if (port.empty()) reject(text, "the tcp port is empty");
  if (port == "*") {
    if (!bind) reject(text, "cannot connect to port *");
  } else if (!all_digits(port) || port.size() > 5 || std::stoi(port) > 65535) {
    reject(text, "the tcp port '" + port + "' is not a number from 0 to 65535 or *");
  } else if (!bind && std::stoi(port) == 0) {
    reject(text, "cannot connect to port 0");
  }
  if (!bind && host == "*") reject(text, "cannot connect to host *");
}

void check_address(const std::string& text, const std::string& address, bool bind) {
  if (starts_with(address, "tcp://")) {
    check_tcp(text, address.substr(6), bind);
  } else if (starts_with(address, "ipc://")) {
    const std::string path = address.substr(6);
    if (path.empty()) reject(text, "the ipc path is empty");
    if (path.size() > kMaxIpcPath) {
      reject(text, "the ipc path is longer than " + std::to_string(kMaxIpcPath) +
                       " bytes (a Unix socket limit)");
    }
  } else if (starts_with(address, "inproc://")) {
    if (address.size() == 9) reject(text, "the inproc name is empty");
  } else {
    reject(text, "unknown transport (tcp://, ipc:// and inproc:// are supported)");
  }
}

}  // namespace

ZmqEndpoint ZmqEndpoint::parse(const std::string& text) {
  if (text.empty()) reject(text, "it is empty");
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) reject(text, "it contains white space");
  }
  ZmqEndpoint endpoint;
  if (starts_with(text, "bind:")) {
    endpoint.bind = true;
    endpoint.address = text.substr(5);
  } else if (starts_with(text, "connect:")) {
    endpoint.bind = false;
    endpoint.address = text.substr(8);
  } else {
    endpoint.bind = text.find('*') != std::string::npos;
    endpoint.address = text;
  }
  if (endpoint.address.empty()) reject(text, "the address after the prefix is empty");
  check_address(text, endpoint.address, endpoint.bind);
  return endpoint;
}

}  // namespace ivs::sinks
