#include "tests/e2e/http_client.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "tests/e2e/json.h"

namespace raftkv::e2e {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpResponse::describe() const {
  if (status == 0) return "no response: " + error;
  return std::to_string(status) + " " + body;
}

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout,
                       bool retry_unavailable)
    : host_(std::move(host)), port_(port), timeout_(timeout),
      retry_unavailable_(retry_unavailable) {}

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type) const {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout_;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    HttpResponse r = request_once(method, target, body, content_type,
                                  std::max(left, std::chrono::milliseconds(1)));
    if (!retry_unavailable_ || r.status != 503 || Clock::now() >= deadline) return r;
    auto e = parse_error(r.body);
    if (!e || e->executed != std::optional<bool>(false)) return r;
    // Not executed: the cluster is between leaders; ask again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

HttpResponse HttpClient::request_once(const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& content_type,
                                      std::chrono::milliseconds timeout) const {
  asio::io_context io;
  beast::tcp_stream stream(io);
  HttpResponse out;

  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.keep_alive(false);
  if (!body.empty() || method == "PUT" || method == "POST") {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();

  auto exchange = [&]() -> asio::awaitable<void> {
    // One deadline for the whole exchange: tcp_stream applies it to every operation started
    // until it is set again.
    stream.expires_after(timeout);
    co_await stream.async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address(host_), port_), asio::use_awaitable);
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (auto& field : res) {
      out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    }
  };
  asio::co_spawn(io, exchange(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      out.status = 0;
      out.error = ex.what();
    }
  });
  io.run();
  return out;
}

}  // namespace raftkv::e2e
