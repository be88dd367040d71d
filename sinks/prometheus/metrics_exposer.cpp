// SPDX-License-Identifier: Apache-2.0
#include "sinks/prometheus/metrics_exposer.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include <prometheus/text_serializer.h>

namespace ivs::sinks {
namespace {

[[noreturn]] void throw_listen_error(const std::string& address, const std::string& cause) {
  throw std::runtime_error("metrics exposer: cannot listen on '" + address +
                           "' (address in use or host not local?); choose another port, "
                           "or host:0 for any free port. Cause: " + cause);
}

// "host:port", "[v6]:port" -> a numeric socket address (getaddrinfo resolves "localhost").
sockaddr_storage parse_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    throw_listen_error(address, "expected host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || !found) {
    throw_listen_error(address, gai_strerror(rc));
  }
  sockaddr_storage storage{};
  std::memcpy(&storage, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return storage;
}

MHD_Result queue_text(MHD_Connection* connection, unsigned status, const std::string& body,
                      const char* content_type) {
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  const MHD_Result result = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return result;
}

// libmicrohttpd's access handler; `cls` is the registry. Runs on the server thread.
MHD_Result handle_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                          const char* /*version*/, const char* /*upload_data*/,
                          size_t* /*upload_data_size*/, void** /*con_cls*/) {
  const auto* registry = static_cast<const prometheus::Registry*>(cls);
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    return queue_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", "text/plain");
  }
  if (std::strcmp(url, "/metrics") != 0) {
    return queue_text(connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain");
  }
  try {
    const auto body = prometheus::TextSerializer().Serialize(registry->Collect());
    return queue_text(connection, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
  } catch (const std::exception& e) {
    return queue_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, e.what(), "text/plain");
  }
}

}  // namespace

MetricsExposer::MetricsExposer(const std::string& address,
                               std::shared_ptr<prometheus::Registry> registry)
    : address_(address), registry_(std::move(registry)) {
  if (!registry_) throw std::runtime_error("metrics exposer for '" + address_ + "': null registry");
  sockaddr_storage socket_address = parse_address(address_);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (socket_address.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &handle_request, registry_.get(),
                             MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&socket_address),
                             MHD_OPTION_END);
  if (daemon_ == nullptr) throw_listen_error(address_, std::strerror(errno));
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  if (info == nullptr || info->port == 0) {
    MHD_stop_daemon(daemon_);
    throw_listen_error(address_, "no listening port");
  }
  port_ = info->port;
}

MetricsExposer::~MetricsExposer() { MHD_stop_daemon(daemon_); }

uint16_t MetricsExposer::port() const { return port_; }

}  // namespace ivs::sinks
