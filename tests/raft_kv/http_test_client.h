// A small HTTP/1.1 client for the in-process tests of the HTTP server and API: one connection,
// kept alive across requests, on an io_context of its own that the test thread runs. Every
// exchange has a deadline, so a server that never answers fails the test instead of hanging it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace raftkv::test {

// Polls `pred` (state another thread changes: the server's io_context runs on its own thread)
// until it holds or 20 s pass.
inline bool wait_until(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

using ClientResponse = boost::beast::http::response<boost::beast::http::string_body>;

class TestClient {
 public:
  static constexpr std::chrono::seconds kDeadline{20};

  // Connects to 127.0.0.1:port; connected() says whether that worked (`error` why not).
  explicit TestClient(uint16_t port) : stream_(io_) {
    boost::system::error_code ec;
    run([&](auto done) {
      stream_.async_connect(
          boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
          [done](boost::system::error_code e) { done(e); });
    }, ec);
    connected_ = !ec;
    if (ec) error = "connect to port " + std::to_string(port) + ": " + ec.message();
  }

  bool connected() const { return connected_; }

  // Sends one request and reads its response; nullopt (and `error`) when the connection failed
  // or closed first.
  std::optional<ClientResponse> request(boost::beast::http::verb method, std::string_view target,
                                        std::string body = "", bool keep_alive = true,
                                        int version = 11) {
    boost::beast::http::request<boost::beast::http::string_body> req{method, target, version};
    req.set(boost::beast::http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    if (!body.empty() || method == boost::beast::http::verb::put ||
        method == boost::beast::http::verb::post) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    boost::system::error_code ec;
    run([&](auto done) {
      boost::beast::http::async_write(stream_, req,
                                      [done](boost::system::error_code e, size_t) { done(e); });
    }, ec);
    if (ec) {
      error = "write: " + ec.message();
      return std::nullopt;
    }
    return read_response();
  }

  std::optional<ClientResponse> get(std::string_view target) {
    return request(boost::beast::http::verb::get, target);
  }
  std::optional<ClientResponse> put(std::string_view target, std::string body) {
    return request(boost::beast::http::verb::put, target, std::move(body));
  }
  std::optional<ClientResponse> del(std::string_view target) {
    return request(boost::beast::http::verb::delete_, target);
  }
  std::optional<ClientResponse> post(std::string_view target, std::string body) {
    return request(boost::beast::http::verb::post, target, std::move(body));
  }

  // Sends raw bytes (for malformed requests); false if the write failed.
  bool send_raw(std::string_view bytes) {
    boost::system::error_code ec;
    run([&](auto done) {
      boost::asio::async_write(stream_, boost::asio::buffer(bytes),
                               [done](boost::system::error_code e, size_t) { done(e); });
    }, ec);
    return !ec;
  }

  std::optional<ClientResponse> read_response() {
    ClientResponse res;
    boost::system::error_code ec;
    run([&](auto done) {
      boost::beast::http::async_read(stream_, buffer_, res,
                                     [done](boost::system::error_code e, size_t) { done(e); });
    }, ec);
    if (ec) {
      error = "read: " + ec.message();
      return std::nullopt;
    }
    return res;
  }

  // Reads the response to a HEAD request: its header only (a body is never read after a HEAD).
  std::optional<ClientResponse> read_head_response() {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.skip(true);
    boost::system::error_code ec;
    run([&](auto done) {
      boost::beast::http::async_read(stream_, buffer_, parser,
                                     [done](boost::system::error_code e, size_t) { done(e); });
    }, ec);
    if (ec) {
      error = "read: " + ec.message();
      return std::nullopt;
    }
    return parser.release();
  }

  // Whether the server closed the connection: a read ends with end of file or a reset, rather
  // than data or the deadline.
  bool closed_by_server() {
    char byte = 0;
    boost::system::error_code ec;
    size_t n = 0;
    run([&](auto done) {
      stream_.async_read_some(boost::asio::buffer(&byte, 1),
                              [done, &n](boost::system::error_code e, size_t got) {
                                n = got;
                                done(e);
                              });
    }, ec);
    return n == 0 && (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset);
  }

  std::string error;

 private:
  // Starts an operation and runs the io_context until it completes or the deadline passes (the
  // stream's timer then cancels it with beast::error::timeout).
  template <typename Start>
  void run(Start start, boost::system::error_code& ec) {
    bool finished = false;
    stream_.expires_after(kDeadline);
    start([&](boost::system::error_code e) {
      ec = e;
      finished = true;
    });
    io_.restart();
    while (!finished && io_.run_one() > 0) {
    }
    EXPECT_TRUE(finished) << "the client's operation never completed";
  }

  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  bool connected_ = false;
  boost::beast::flat_buffer buffer_;
};

}  // namespace raftkv::test
