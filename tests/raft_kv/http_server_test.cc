// The HTTP server (examples/raft-kv/http_server.h) with a stub handler, over loopback: keep-alive,
// bad input (malformed requests, bodies and headers over the limits), idle timeouts, the
// connection limit, and stop(). Whatever one client sends, the server goes on serving others.
#include "http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "tests/raft_kv/http_test_client.h"

namespace raftkv {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using test::TestClient;
using namespace std::chrono_literals;

using test::wait_until;

// Requests to "/slow" wait here until the test opens the gate; each waits on a timer bound to its
// connection's strand, so opening it never races with the handler.
class Gate {
 public:
  asio::awaitable<void> wait() {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    bool closed = false;
    {
      std::lock_guard lock(mutex_);
      closed = !open_;
      if (closed) timers_.push_back(timer);
      entered_++;
    }
    if (closed) co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    for (auto& t : timers_) asio::post(t->get_executor(), [t] { t->cancel(); });
    timers_.clear();
  }
  int entered() {
    std::lock_guard lock(mutex_);
    return entered_;
  }

 private:
  std::mutex mutex_;
  bool open_ = false;
  int entered_ = 0;
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
};

// A server on an io_context run by two threads, with a handler that echoes the request
// ("METHOD target body"), throws on "/throw" and waits for the gate on "/slow".
class Harness {
 public:
  explicit Harness(HttpServerOptions options = {}) : guard_(io_.get_executor()) {
    server_ = std::make_unique<HttpServer>(
        io_.get_executor(), options,
        [this](const Request& req) -> asio::awaitable<Response> {
          if (req.target() == "/throw") throw std::runtime_error("handler failed");
          if (req.target() == "/slow") {
            co_await gate.wait();
            handled_slow++;
          }
          Response res{http::status::ok, req.version()};
          res.keep_alive(req.keep_alive());
          res.body() = std::string(req.method_string()) + " " + std::string(req.target()) + " " +
                       req.body();
          co_return res;
        });
    server_->start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~Harness() {
    gate.open();
    server_->stop();
    guard_.reset();
    // Everything the server started ends once it is stopped; the io_context then runs out of
    // work. Should it not, stop it rather than hang the suite.
    if (!wait_until([this] { return io_.stopped(); })) {
      ADD_FAILURE() << "the io_context still had work after stop()";
      io_.stop();
    }
    for (auto& t : threads_) t.join();
  }

  HttpServer& server() { return *server_; }
  uint16_t port() const { return server_->port(); }

  Gate gate;
  std::atomic<int> handled_slow{0};

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> threads_;
};

// The server answers a well-formed request on a fresh connection.
void expect_serves(uint16_t port) {
  TestClient c(port);
  ASSERT_TRUE(c.connected()) << c.error;
  auto r = c.get("/ping");
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ(r->body(), "GET /ping ");
}

TEST(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Harness h;
  TestClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error;
  for (int i = 0; i < 5; ++i) {
    auto r = c.put("/echo/" + std::to_string(i), "body" + std::to_string(i));
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::ok);
    EXPECT_EQ(r->body(), "PUT /echo/" + std::to_string(i) + " body" + std::to_string(i));
    EXPECT_TRUE(r->keep_alive());
  }
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Harness h;
  TestClient c(h.port());
  ASSERT_TRUE(c.send_raw(
      "GET /one HTTP/1.1\r\nHost: x\r\n\r\nPUT /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
      "\r\nabc"));
  auto first = c.read_response();
  ASSERT_TRUE(first) << c.error;
  EXPECT_EQ(first->body(), "GET /one ");
  auto second = c.read_response();
  ASSERT_TRUE(second) << c.error;
  EXPECT_EQ(second->body(), "PUT /two abc");
}

TEST(HttpServerTest, ConnectionCloseAndHttp10CloseAfterTheResponse) {
  Harness h;
  {
    TestClient c(h.port());
    auto r = c.request(http::verb::get, "/bye", "", /*keep_alive=*/false);
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->body(), "GET /bye ");
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(c.closed_by_server());
  }
  {
    TestClient c(h.port());
    auto r = c.request(http::verb::get, "/old", "", /*keep_alive=*/false, /*version=*/10);
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->version(), 10u);
    EXPECT_TRUE(c.closed_by_server());
  }
}

TEST(HttpServerTest, MalformedRequestGets400AndTheServerGoesOn) {
  Harness h;
  for (const char* garbage : {"NOT HTTP AT ALL\r\n\r\n",
                              "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                              "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                              "PUT /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n"}) {
    SCOPED_TRACE(garbage);
    TestClient c(h.port());
    ASSERT_TRUE(c.send_raw(garbage));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::bad_request);
    EXPECT_EQ(r->at(http::field::content_type), "application/json");
    EXPECT_NE(r->body().find("\"error\":\"malformed HTTP request"), std::string::npos) << r->body();
    EXPECT_NE(r->body().find("\"executed\":false"), std::string::npos) << r->body();
    EXPECT_TRUE(c.closed_by_server());
    expect_serves(h.port());
  }
}

TEST(HttpServerTest, BodyOverTheLimitGets413WithoutBeingRead) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  Harness h(o);
  {
    // Only the header is sent: the size it announces is enough to refuse.
    TestClient c(h.port());
    ASSERT_TRUE(c.send_raw("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::payload_too_large);
    EXPECT_NE(r->body().find("larger than 1024 bytes"), std::string::npos) << r->body();
    EXPECT_TRUE(c.closed_by_server());
  }
  {
    // The body arrives with the header: the client still reads the 413, not a reset.
    TestClient c(h.port());
    ASSERT_TRUE(c.send_raw("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" +
                           std::string(65536, 'x')));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::payload_too_large);
  }
  {
    // Chunked: the limit holds as the chunks arrive.
    TestClient c(h.port());
    ASSERT_TRUE(c.send_raw("PUT /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "800\r\n" + std::string(0x800, 'x') + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::payload_too_large);
  }
  // At the limit is fine.
  TestClient c(h.port());
  auto r = c.put("/fits", std::string(1024, 'y'));
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ(r->body(), "PUT /fits " + std::string(1024, 'y'));
}

TEST(HttpServerTest, AnEndlessChunkLineGets400InsteadOfGrowingTheBuffer) {
  HttpServerOptions o;
  o.max_header_bytes = 1024;
  Harness h(o);
  TestClient c(h.port());
  // A chunk-size line (here with an extension) that never ends: the parser waits for its CRLF
  // and keeps it in the read buffer, which is capped at the header limit plus one read.
  ASSERT_TRUE(c.send_raw("PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                         std::string(256 << 10, 'e')));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::bad_request);
  EXPECT_TRUE(c.closed_by_server());
  expect_serves(h.port());
}

TEST(HttpServerTest, HeadGetsTheHeaderWithoutTheBody) {
  Harness h;
  TestClient c(h.port());
  ASSERT_TRUE(c.send_raw("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.read_head_response();
  ASSERT_TRUE(head) << c.error;
  EXPECT_EQ(head->result(), http::status::ok);
  EXPECT_EQ((*head)[http::field::content_length], std::to_string(std::string("HEAD /ping ").size()));
  // The next response on the connection starts right after that header: no body came between.
  auto r = c.get("/ping");
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->body(), "GET /ping ");
}

TEST(HttpServerTest, HeaderOverTheLimitGets400) {
  HttpServerOptions o;
  o.max_header_bytes = 1024;
  Harness h(o);
  TestClient c(h.port());
  ASSERT_TRUE(c.send_raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2048, 'h') +
                         "\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::bad_request);
  EXPECT_NE(r->body().find("header larger than 1024 bytes"), std::string::npos) << r->body();
  expect_serves(h.port());
}

TEST(HttpServerTest, ExpectContinueGets100ThenTheResponse) {
  Harness h;
  TestClient c(h.port());
  ASSERT_TRUE(c.send_raw(
      "PUT /cont HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim) << c.error;
  EXPECT_EQ(interim->result(), http::status::continue_);
  ASSERT_TRUE(c.send_raw("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->body(), "PUT /cont hello");
}

TEST(HttpServerTest, HandlerExceptionIs500) {
  Harness h;
  TestClient c(h.port());
  auto r = c.get("/throw");
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::internal_server_error);
  EXPECT_NE(r->body().find("handler failed"), std::string::npos) << r->body();
  // The handler may have acted before it threw: the outcome is unknown.
  EXPECT_NE(r->body().find("\"executed\":null"), std::string::npos) << r->body();
  expect_serves(h.port());
}

TEST(HttpServerTest, IdleAndTricklingConnectionsAreClosed) {
  HttpServerOptions o;
  o.idle_timeout = 1s;
  Harness h(o);
  TestClient idle(h.port());
  TestClient partial(h.port());
  ASSERT_TRUE(partial.send_raw("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finished
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_TRUE(partial.closed_by_server());
  expect_serves(h.port());
}

TEST(HttpServerTest, ConnectionsOverTheLimitAreClosedAtAccept) {
  HttpServerOptions o;
  o.max_connections = 2;
  Harness h(o);
  auto first = std::make_unique<TestClient>(h.port());
  TestClient second(h.port());
  ASSERT_TRUE(first->get("/a")) << first->error;  // both admitted: they were answered
  ASSERT_TRUE(second.get("/b")) << second.error;

  TestClient third(h.port());
  EXPECT_TRUE(third.closed_by_server());

  // Once one closes, a new connection gets in (as soon as the server saw the close).
  first.reset();
  EXPECT_TRUE(wait_until([&] {
    TestClient next(h.port());
    auto r = next.get("/c");
    return r && r->result() == http::status::ok;
  }));
}

TEST(HttpServerTest, ASlowRequestDoesNotHoldUpOtherConnections) {
  Harness h;
  TestClient slow(h.port());
  ASSERT_TRUE(slow.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return h.gate.entered() == 1; }));
  expect_serves(h.port());
  h.gate.open();
  auto r = slow.read_response();
  ASSERT_TRUE(r) << slow.error;
  EXPECT_EQ(r->body(), "GET /slow ");
}

TEST(HttpServerTest, StopClosesEveryConnectionFromAnyThreadAndIsIdempotent) {
  Harness h;
  const uint16_t port = h.port();
  TestClient idle(port);
  ASSERT_TRUE(idle.get("/x")) << idle.error;
  TestClient busy(port);
  ASSERT_TRUE(busy.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return h.gate.entered() == 1; }));

  std::thread a([&] { h.server().stop(); });
  std::thread b([&] { h.server().stop(); });
  a.join();
  b.join();
  h.server().stop();

  EXPECT_TRUE(idle.closed_by_server());
  // The request being handled finishes, but its response is not written.
  h.gate.open();
  EXPECT_TRUE(wait_until([&] { return h.handled_slow == 1; }));
  EXPECT_FALSE(busy.read_response());
  // And nothing is accepted any more.
  EXPECT_TRUE(wait_until([&] {
    TestClient late(port);
    return !late.connected() || late.closed_by_server();
  }));
}

TEST(HttpServerTest, StartOnAPortInUseThrowsNamingTheAddress) {
  Harness h;
  asio::io_context io;
  HttpServerOptions o;
  o.port = h.port();
  HttpServer other(io.get_executor(), o, [](const Request&) -> asio::awaitable<Response> {
    co_return Response{};
  });
  try {
    other.start();
    FAIL() << "start() on a port in use succeeded";
  } catch (const std::system_error& e) {
    // One plain line: the address and the reason, no source location.
    EXPECT_EQ(std::string(e.what()),
              "HTTP listen on 127.0.0.1:" + std::to_string(h.port()) + ": " +
                  std::make_error_code(std::errc::address_in_use).message());
  }
}

}  // namespace
}  // namespace raftkv
