// SPDX-License-Identifier: Apache-2.0
// HttpServer over real loopback sockets: routing is the handler's, the server delivers method,
// path, query, headers and body, and answers oversized bodies, handler exceptions and
// unusable addresses itself.
#include "sinks/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "tests/sinks/http_client.h"

namespace ivs::sinks {
namespace {

using test::http_request;

TEST(HttpServerTest, hands_method_path_query_headers_and_body_to_the_handler) {
  HttpRequest seen;
  HttpServer server("127.0.0.1:0", [&](const HttpRequest& request) {
    seen = request;
    return HttpResponse{201, "application/json", "{\"ok\": true}", {{"X-Reply", "yes"}}};
  });
  ASSERT_NE(server.port(), 0);
  const std::string body(100000, 'x');  // arrives in several pieces
  const auto response =
      http_request("127.0.0.1", server.port(), "POST", "/api/v1/things?limit=3&name=a%20b", body,
                   {{"Authorization", "Bearer secret"}});
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "{\"ok\": true}");
  EXPECT_EQ(response.header("content-type").value_or(""), "application/json");
  EXPECT_EQ(response.header("x-reply").value_or(""), "yes");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/api/v1/things");
  EXPECT_EQ(seen.query.at("limit"), "3");
  EXPECT_EQ(seen.query.at("name"), "a b");
  EXPECT_EQ(seen.header("authorization"), "Bearer secret");
  EXPECT_EQ(seen.body.size(), body.size());
  EXPECT_EQ(seen.body, body);
}

TEST(HttpServerTest, refuses_bodies_over_the_limit_without_calling_the_handler) {
  std::atomic<int> calls{0};
  HttpServer server(
      "127.0.0.1:0",
      [&](const HttpRequest&) {
        ++calls;
        return HttpResponse{};
      },
      HttpServerOptions{1000, 1});
  const auto response =
      http_request("127.0.0.1", server.port(), "PUT", "/x", std::string(5000, 'y'));
  EXPECT_EQ(response.status, 413);
  EXPECT_NE(response.body.find("1000 bytes"), std::string::npos) << response.body;
  EXPECT_EQ(calls, 0);
}

TEST(HttpServerTest, a_throwing_handler_becomes_a_500_and_the_server_keeps_serving) {
  HttpServer server("127.0.0.1:0", [](const HttpRequest& request) -> HttpResponse {
    if (request.path == "/boom") throw std::runtime_error("disk on fire");
    return {200, "text/plain", "fine", {}};
  });
  const auto failed = http_request("127.0.0.1", server.port(), "GET", "/boom");
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("disk on fire"), std::string::npos);
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/").body, "fine");
}

TEST(HttpServerTest, an_address_in_use_or_malformed_is_an_error_naming_it) {
  HttpServer first("127.0.0.1:0", [](const HttpRequest&) { return HttpResponse{}; });
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  try {
    HttpServer second(taken, [](const HttpRequest&) { return HttpResponse{}; });
    FAIL() << "a second server bound " << taken;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(taken), std::string::npos) << e.what();
  }
  EXPECT_THROW(HttpServer("no-port-here", [](const HttpRequest&) { return HttpResponse{}; }),
               std::runtime_error);
  EXPECT_THROW(HttpServer("256.1.1.1:80", [](const HttpRequest&) { return HttpResponse{}; }),
               std::runtime_error);
}

}  // namespace
}  // namespace ivs::sinks
