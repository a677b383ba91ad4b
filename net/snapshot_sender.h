// One outgoing snapshot stream: dials the peer on a connection of its own, sends the hello and
// the offer, then the source's bytes in chunk frames, and waits for the receiver's result frame.
//
// Runs on the transport's snapshot thread, where the source's blocking reads happen too. After
// the offer, three branches race, and the first to finish decides:
//   - the writer reads up to snapshot_chunk_bytes from the source straight into a frame, seals
//     it and writes it, until `size` bytes are out; then it waits;
//   - the result reader reads the one frame the acceptor sends: a refusal (0) that arrives while
//     chunks are still going out ends the stream at once;
//   - the stall timer: no chunk written (and no result) for snapshot_idle_timeout. The wait for
//     the result counts too, so the receiver's commit must finish within that time.
// The stream succeeds only on a result of 1 after all `size` bytes were written. A dial bounded
// by hello_timeout (as a message connection's), a source that throws or ends early, a write or
// read error, a bad result frame: failure, logged at warn with the peer's address.
//
// close() (stop, remove_peer, a fault that blocks the peer) ends the stream quietly; its outcome
// is then "failed". A source read in progress finishes first: the thread cannot be interrupted.
//
// Thread-safety: every member runs on the snapshot thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/stall_timer.h"
#include "net/transport.h"
#include "net/transport_shared.h"

namespace net::detail {

class SnapshotSender : public std::enable_shared_from_this<SnapshotSender> {
 public:
  // Called once, on the snapshot thread, when the stream has ended (counters already bumped):
  // ok if the peer committed the snapshot.
  using Done = std::function<void(bool ok)>;

  SnapshotSender(std::shared_ptr<TransportShared> shared, boost::asio::any_io_executor executor,
                 PeerAddress address, raft::Message message,
                 std::unique_ptr<SnapshotSource> source);

  // Spawns the stream's coroutine on `executor`. Once. `ended` runs on the snapshot thread
  // when the coroutine has ended, after `done`.
  void start(Done done, std::function<void()> ended);
  void close();

  uint64_t peer() const { return message_.to(); }

 private:
  boost::asio::awaitable<void> run(std::shared_ptr<SnapshotSender> keep_alive);
  // Connects socket_ to the peer's address within hello_timeout.
  boost::asio::awaitable<bool> dial();
  // The three branches of the race (see above).
  boost::asio::awaitable<void> write_chunks();
  boost::asio::awaitable<void> read_result();
  // Records why the stream failed; the first reason stays.
  void fail(std::string reason);
  std::string describe_peer() const;

  std::shared_ptr<TransportShared> shared_;
  boost::asio::any_io_executor executor_;
  PeerAddress address_;
  raft::Message message_;
  std::unique_ptr<SnapshotSource> source_;
  uint64_t size_ = 0;
  uint64_t written_ = 0;  // bytes of the stream handed to the socket
  bool succeeded_ = false;
  bool closed_ = false;
  bool started_ = false;
  std::string failure_;
  Done done_;

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  // The writer waits on it for the race to end once everything is written.
  boost::asio::steady_timer parked_;
  StallTimer stall_;
};

}  // namespace net::detail
