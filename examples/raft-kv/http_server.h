// A small HTTP/1.1 server on Boost.Beast: accepts connections, reads requests with keep-alive and
// hands each to a handler coroutine, one request at a time per connection.
//
// Bad input never stops the server: a request that does not parse gets 400 and the connection is
// closed; a body above max_body_bytes gets 413 and the connection is closed (its body is not
// read); a connection idle for idle_timeout is closed. At most max_connections are served at
// once; one more is closed at accept.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http_api.h"

namespace raftkv {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free port (port() after start())
  size_t max_body_bytes = (1 << 20) + 4096;
  size_t max_header_bytes = 16 << 10;
  size_t max_connections = 1024;
  std::chrono::seconds idle_timeout{60};
};

class HttpServer {
 public:
  using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;

  HttpServer(boost::asio::any_io_executor executor, HttpServerOptions options, Handler handler);
  ~HttpServer();

  // Binds and starts accepting. Throws std::system_error naming the address on failure (in use,
  // not available, a host name that does not resolve).
  void start();
  uint16_t port() const;
  // Stops accepting and closes every connection; a request being handled finishes first but its
  // response is not written. Safe to call from any thread, except while start() runs (start()
  // binds the acceptor outside the executor); idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace raftkv
