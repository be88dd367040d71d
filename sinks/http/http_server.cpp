// SPDX-License-Identifier: Apache-2.0
#include "sinks/http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "sinks/http/request_deadline.h"

namespace ivs::sinks {

struct HttpServer::Shared {
  Shared(HttpHandler handler_in, const HttpServerOptions& options_in)
      : handler(std::move(handler_in)),
        options(options_in),
        deadline(std::chrono::seconds(std::max(1u, options_in.request_timeout_seconds))) {}

  HttpHandler handler;
  HttpServerOptions options;
  RequestDeadline deadline;
};

namespace {

[[noreturn]] void throw_listen_error(const std::string& address, const std::string& cause) {
  throw std::runtime_error("HTTP server: cannot listen on '" + address +
                           "' (address in use or host not local?); choose another port, "
                           "or host:0 for any free port. Cause: " +
                           cause);
}

// "host:port", "[v6]:port" -> a numeric socket address (getaddrinfo resolves "localhost").
sockaddr_storage parse_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    throw_listen_error(address, "expected host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || !found) {
    throw_listen_error(address, gai_strerror(rc));
  }
  // "localhost" resolves to ::1 first on many systems; clients and probes mostly use 127.0.0.1.
  const addrinfo* chosen = found;
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    if (candidate->ai_family == AF_INET) {
      chosen = candidate;
      break;
    }
  }
  sockaddr_storage storage{};
  std::memcpy(&storage, chosen->ai_addr, chosen->ai_addrlen);
  freeaddrinfo(found);
  return storage;
}

// One connection's request while its body arrives (libmicrohttpd calls the handler repeatedly).
struct PendingRequest {
  HttpRequest request;
  bool too_large = false;
};

MHD_Result collect(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* into = static_cast<std::map<std::string, std::string>*>(cls);
  if (key != nullptr) (*into)[key] = value != nullptr ? value : "";
  return MHD_YES;
}

MHD_Result send_response(MHD_Connection* connection, const HttpResponse& reply) {
  MHD_Response* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  for (const auto& [name, value] : reply.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  const MHD_Result result =
      MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
  MHD_destroy_response(response);
  return result;
}

MHD_Result handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                  void** con_cls) {
  auto* shared = static_cast<HttpServer::Shared*>(cls);
  auto* pending = static_cast<PendingRequest*>(*con_cls);
  if (pending == nullptr) {  // first call: headers only
    pending = new PendingRequest();
    pending->request.method = method;
    pending->request.path = url;
    *con_cls = pending;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {  // a piece of the body
    if (pending->request.body.size() + *upload_data_size > shared->options.max_body_bytes) {
      pending->too_large = true;
    } else {
      pending->request.body.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  shared->deadline.arrived(connection);
  HttpRequest& request = pending->request;
  if (pending->too_large) {
    return send_response(
        connection,
        {413,
         "text/plain; charset=utf-8",
         "request body larger than " + std::to_string(shared->options.max_body_bytes) + " bytes\n",
         {}});
  }
  std::map<std::string, std::string> headers;
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &collect, &headers);
  for (auto& [name, value] : headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    request.headers[lower] = value;
  }
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &collect, &request.query);
  HttpResponse reply;
  try {
    reply = shared->handler(request);
  } catch (const std::exception& e) {
    reply = {
        500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}};
  }
  return send_response(connection, reply);
}

void request_completed(void* cls, MHD_Connection* connection, void** con_cls,
                       MHD_RequestTerminationCode /*code*/) {
  static_cast<HttpServer::Shared*>(cls)->deadline.answered(connection);
  delete static_cast<PendingRequest*>(*con_cls);
  *con_cls = nullptr;
}

void connection_changed(void* cls, MHD_Connection* connection, void** /*socket_context*/,
                        MHD_ConnectionNotificationCode code) {
  RequestDeadline& deadline = static_cast<HttpServer::Shared*>(cls)->deadline;
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    deadline.closed(connection);
    return;
  }
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info != nullptr) deadline.opened(connection, info->connect_fd);
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  const auto found = headers.find(name);
  return found == headers.end() ? std::string() : found->second;
}

HttpServer::HttpServer(const std::string& address, HttpHandler handler,
                       const HttpServerOptions& options)
    : address_(address), shared_(std::make_unique<Shared>(std::move(handler), options)) {
  if (!shared_->handler) throw std::runtime_error("HTTP server on '" + address_ + "': no handler");
  sockaddr_storage socket_address = parse_address(address_);
  // A pool of internal polling threads, each multiplexing its connections with epoll (AUTO):
  // idle connections cost a file descriptor, not a thread, so the limits below are what bounds
  // them. The per-IP limit is shared by the pool; the total is split across its threads. The
  // connection timeout is libmicrohttpd's idle timeout; the request deadline bounds the rest.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (socket_address.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &handle, shared_.get(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&socket_address), MHD_OPTION_THREAD_POOL_SIZE,
      std::max(1u, options.threads), MHD_OPTION_NOTIFY_COMPLETED, &request_completed, shared_.get(),
      MHD_OPTION_NOTIFY_CONNECTION, &connection_changed, shared_.get(), MHD_OPTION_CONNECTION_LIMIT,
      std::max(1u, options.max_connections), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      std::max(1u, options.max_connections_per_ip), MHD_OPTION_CONNECTION_TIMEOUT,
      std::max(1u, options.connection_timeout_seconds), MHD_OPTION_END);
  if (daemon_ == nullptr) throw_listen_error(address_, std::strerror(errno));
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  if (info == nullptr || info->port == 0) {
    MHD_stop_daemon(daemon_);
    throw_listen_error(address_, "no listening port");
  }
  port_ = info->port;
}

HttpServer::~HttpServer() { MHD_stop_daemon(daemon_); }

}  // namespace ivs::sinks
