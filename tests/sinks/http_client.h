// SPDX-License-Identifier: Apache-2.0
// A tiny blocking HTTP/1.1 client for tests: one request over a POSIX TCP socket, "Connection:
// close", read to end of stream. Enough to scrape /metrics or call a REST endpoint without curl.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ivs::test {

struct HttpResponse {
  int status = 0;      // e.g. 200
  std::string reason;  // e.g. "OK"
  // Header names lower-cased (HTTP names are case-insensitive); a repeated header keeps the last.
  std::map<std::string, std::string> headers;
  std::string body;  // de-chunked when the server used Transfer-Encoding: chunked

  /// The value of header `name` (any case), or nullopt.
  std::optional<std::string> header(const std::string& name) const;
};

/// GETs http://host:port/path. `timeout` bounds the whole exchange (resolve, connect, send,
/// receive). Throws std::runtime_error naming the URL on connection failure, timeout or a
/// malformed response; an HTTP error status is returned, not thrown.
HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Sends `method` `path` with `body` (Content-Length set for POST/PUT or a non-empty body) and
/// the extra `headers` (a "Host" there replaces the default); otherwise as http_get().
HttpResponse http_request(const std::string& host, uint16_t port, const std::string& method,
                          const std::string& path, const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace ivs::test
