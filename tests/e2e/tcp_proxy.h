// A TCP forwarding proxy for the end-to-end tests: listens on 127.0.0.1 (a free port) and pipes
// every connection it accepts, both ways, to a fixed target port on 127.0.0.1. It lets a test
// give one node an address for a peer that differs from the address that peer listens on.
//
// Runs on a thread of its own from construction to destruction; the destructor closes every
// connection and joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace raftkv::e2e {

class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const;
  // Connections accepted and bytes forwarded (both directions) so far.
  uint64_t connections() const;
  uint64_t bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftkv::e2e
