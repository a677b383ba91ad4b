#include "tests/e2e/tcp_proxy.h"

#include <array>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

// GCC 12 pairs Asio's coroutine frame allocation (through its recycling allocator) with the
// frame's sized operator delete and reports a mismatch that is not there
// (-Wmismatched-new-delete); both go through Asio's own allocate/deallocate.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace raftkv::e2e {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// The two sockets of one forwarded connection; either direction ending closes both, so the
// other direction's pending read fails and its coroutine ends too.
struct Pair {
  tcp::socket client;
  tcp::socket server;
  void close() {
    boost::system::error_code ec;
    client.close(ec);
    server.close(ec);
  }
};

}  // namespace

struct TcpProxy::Impl {
  explicit Impl(uint16_t target) : target_port(target), acceptor(io) {}

  asio::awaitable<void> pipe(std::shared_ptr<Pair> pair, tcp::socket& from, tcp::socket& to) {
    std::array<char, 16 << 10> buf;
    for (;;) {
      auto [rec, n] = co_await from.async_read_some(asio::buffer(buf), kUse);
      if (rec) break;
      auto [wec, m] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kUse);
      if (wec) break;
      bytes += m;
    }
    pair->close();
  }

  asio::awaitable<void> forward(tcp::socket client) {
    auto pair = std::make_shared<Pair>(Pair{std::move(client), tcp::socket(io)});
    auto [ec] = co_await pair->server.async_connect(
        tcp::endpoint(asio::ip::address_v4::loopback(), target_port), kUse);
    if (ec) {
      pair->close();
      co_return;
    }
    asio::co_spawn(io, pipe(pair, pair->client, pair->server), asio::detached);
    asio::co_spawn(io, pipe(pair, pair->server, pair->client), asio::detached);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUse);
      if (ec) {
        if (!acceptor.is_open()) co_return;
        continue;
      }
      ++connections;
      asio::co_spawn(io, forward(std::move(socket)), asio::detached);
    }
  }

  uint16_t target_port;
  uint16_t port = 0;  // set before the thread starts; read-only afterwards
  asio::io_context io;
  tcp::acceptor acceptor;
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> bytes{0};
  std::thread thread;
};

TcpProxy::TcpProxy(uint16_t target_port) : impl_(std::make_unique<Impl>(target_port)) {
  tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

TcpProxy::~TcpProxy() {
  // Stopping the io_context abandons every coroutine; their frames, and the sockets they own,
  // are destroyed with the io_context after the thread has left run().
  impl_->io.stop();
  impl_->thread.join();
}

uint16_t TcpProxy::port() const { return impl_->port; }
uint64_t TcpProxy::connections() const { return impl_->connections.load(); }
uint64_t TcpProxy::bytes() const { return impl_->bytes.load(); }

}  // namespace raftkv::e2e
