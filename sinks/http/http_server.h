// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct MHD_Daemon;

namespace ivs::sinks {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // "/api/v1/streams/cam01" (no query string)
  std::map<std::string, std::string> query;    // decoded ?key=value pairs
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  /// The header `name` (lower-case), or "" when absent.
  std::string header(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

/// Handles one request; runs on one of the server's threads, so it must be thread-safe. An
/// exception becomes a 500 response carrying its message.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// Connection limits keep idle or half-open connections (a slowloris, a port scanner) from
/// starving other clients: one address holds at most max_connections_per_ip, a connection that
/// sends nothing for connection_timeout_seconds is closed, and so is one whose request has not
/// fully arrived request_timeout_seconds after it opened (or after its previous answer), however
/// slowly it trickles in. Connections past a limit are accepted and closed at once, so they never
/// wait in the listen backlog ahead of others. max_connections is sized to hold 1,000 idle
/// connections from many addresses with room to spare; each costs a file descriptor.
struct HttpServerOptions {
  size_t max_body_bytes = 1 << 20;           // larger request bodies are answered 413
  unsigned threads = 2;                      // requests handled at once
  unsigned max_connections = 4096;           // open at once, all addresses together
  unsigned max_connections_per_ip = 32;      // open at once from one client address
  unsigned connection_timeout_seconds = 10;  // idle time before a connection is closed
  unsigned request_timeout_seconds = 10;     // time for a request's headers and body to arrive
};

/// A small HTTP/1.1 server on libmicrohttpd (Debian libmicrohttpd-dev): serves /metrics, the
/// service's REST API, health and status page. Serving starts in the constructor and stops in
/// the destructor (after in-flight requests finish).
///
/// Why not civetweb (which prometheus-cpp's Exposer runs on): Debian's civetweb creates its
/// threads with a fixed 100 KiB stack. In a process that has LibTorch loaded the static TLS
/// alone is larger than that, pthread_create fails with EINVAL and the server cannot start
/// ("null context when constructing CivetServer"). libmicrohttpd uses default-sized stacks.
class HttpServer {
 public:
  /// `address`: "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" ("host:0" picks a free port).
  /// Throws std::runtime_error naming the address when it cannot listen (in use, bad host).
  HttpServer(const std::string& address, HttpHandler handler,
             const HttpServerOptions& options = {});
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port actually listened on (the chosen one when the address asked for port 0).
  uint16_t port() const { return port_; }
  /// The address as configured, for log lines.
  const std::string& address() const { return address_; }

  struct Shared;  // what the libmicrohttpd callbacks see; defined in http_server.cpp

 private:
  std::string address_;
  std::unique_ptr<Shared> shared_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace ivs::sinks
