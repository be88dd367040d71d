// SPDX-License-Identifier: Apache-2.0
#include "tests/sinks/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace ivs::test {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

[[noreturn]] void fail(const std::string& url, const std::string& what) {
  throw std::runtime_error("HTTP " + url + ": " + what);
}

// Waits until `fd` is ready for `events` or the deadline passes; poll() rather than a sleep so a
// fast server answers in microseconds and a dead one fails at the deadline.
void wait_ready(int fd, short events, Clock::time_point deadline, const std::string& url) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) fail(url, "timed out");
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) fail(url, std::string("poll: ") + std::strerror(errno));
  }
}

// Waits for a non-blocking connect to finish; returns 0 or the socket's error number.
int finish_connect(int fd, Clock::time_point deadline, const std::string& url) {
  wait_ready(fd, POLLOUT, deadline, url);
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  return error;
}

// Non-blocking connect so the deadline also bounds a connect to an unresponsive host; each
// resolved address ("localhost": ::1, then 127.0.0.1) is tried in turn.
int connect_to(const std::string& host, uint16_t port, Clock::time_point deadline,
               const std::string& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) fail(url, std::string("resolve: ") + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int error = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) error = finish_connect(fd, deadline, url);
    if (error == 0) return fd;
    last_error = std::strerror(error);
    ::close(fd);
  }
  fail(url, "connect: " + last_error);
}

void send_all(int fd, const std::string& data, Clock::time_point deadline, const std::string& url) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    wait_ready(fd, POLLOUT, deadline, url);
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      fail(url, std::string("send: ") + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
}

std::string receive_all(int fd, Clock::time_point deadline, const std::string& url) {
  std::string data;
  char buf[8192];
  for (;;) {
    wait_ready(fd, POLLIN, deadline, url);
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return data;  // the server closed: "Connection: close" ends the response
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      fail(url, std::string("recv: ") + std::strerror(errno));
    }
    if (n > 0) data.append(buf, static_cast<std::size_t>(n));
  }
}

std::string dechunk(const std::string& raw, const std::string& url) {
  std::string body;
  std::size_t pos = 0;
  for (;;) {
    const auto eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) fail(url, "truncated chunk header");
    const std::size_t size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    if (size == 0) return body;
    if (eol + 2 + size > raw.size()) fail(url, "truncated chunk");
    body.append(raw, eol + 2, size);
    pos = eol + 2 + size + 2;  // the chunk's trailing CRLF
  }
}

void parse_status_line(const std::string& line, HttpResponse& response, const std::string& url) {
  // "HTTP/1.1 200 OK"
  const auto sp1 = line.find(' ');
  if (line.rfind("HTTP/", 0) != 0 || sp1 == std::string::npos) fail(url, "bad status line");
  const auto sp2 = line.find(' ', sp1 + 1);
  try {
    response.status = std::stoi(line.substr(sp1 + 1, sp2 - sp1 - 1));
  } catch (const std::exception&) {
    fail(url, "bad status code in '" + line + "'");
  }
  response.reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
}

HttpResponse parse_response(const std::string& raw, const std::string& url) {
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) fail(url, "no end of headers in response");
  HttpResponse response;
  std::size_t pos = 0;
  bool first = true;
  while (pos < head_end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      parse_status_line(line, response, url);
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) fail(url, "bad header line '" + line + "'");
    response.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  std::string body = raw.substr(head_end + 4);
  const auto te = response.header("transfer-encoding");
  const auto length = response.header("content-length");
  if (te && lower(*te).find("chunked") != std::string::npos) {
    body = dechunk(body, url);
  } else if (length) {
    const std::size_t n = std::stoul(*length);
    if (body.size() < n) fail(url, "body shorter than Content-Length");
    body.resize(n);
  }
  response.body = std::move(body);
  return response;
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

HttpResponse http_request(const std::string& host, uint16_t port, const std::string& method,
                          const std::string& path, const std::string& body,
                          const std::map<std::string, std::string>& headers,
                          std::chrono::milliseconds timeout) {
  // An IPv6 literal needs brackets in a URL and a Host header ("[::1]:9464").
  const std::string authority =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  const std::string url = "http://" + authority + path;
  const auto deadline = Clock::now() + timeout;
  Fd fd(connect_to(host, port, deadline, url));
  // No Accept-Encoding: servers then answer uncompressed, which the caller can read directly.
  // A "Host" among `headers` replaces the default (tests of the server's Host check).
  std::string request = method + " " + path + " HTTP/1.1\r\n";
  if (headers.count("Host") == 0) request += "Host: " + authority + "\r\n";
  request += "Accept: */*\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  send_all(fd.get(), request, deadline, url);
  return parse_response(receive_all(fd.get(), deadline, url), url);
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path,
                      std::chrono::milliseconds timeout) {
  return http_request(host, port, "GET", path, "", {}, timeout);
}

}  // namespace ivs::test
