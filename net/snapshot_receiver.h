// One incoming snapshot stream, once the acceptor has read its hello and offer and admitted it
// (net/inbound_connection.h): asks the handler for a sink, writes the chunks to it, commits after
// exactly the offered size, and answers with a result frame.
//
// Runs on the transport's snapshot thread, where on_snapshot_offer and the sink's blocking calls
// run too. The connection's socket and its FrameDecoder (which may already hold the first chunks)
// are handed over from the executor.
//
// Outcomes:
//   - on_snapshot_offer returns null (or throws): result 0, closed; logged at info, counted in
//     snapshots_failed. Nothing was written, so there is nothing to abort.
//   - `size` bytes arrived and commit() returned: counted in snapshots_received, `done(true)`
//     (the Transport hands the offer up), then result 1.
//   - the sink's write() or commit() throws: abort(), result 0; logged at warn.
//   - bad input (a frame the decoder refuses, a chunk past the offered size, the connection cut
//     before `size` bytes): abort(), closed without a result; counted in connections_refused
//     too, logged at warn with the peer's address.
//   - no bytes for snapshot_idle_timeout: abort(), closed without a result; logged at warn.
//   - close() (stop, remove_peer, a fault): abort(), closed; logged at info.
// abort() is called at most once, and never after a commit() that returned; an abort() that
// throws is logged.
//
// Thread-safety: every member runs on the snapshot thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/frame.h"
#include "net/stall_timer.h"
#include "net/transport.h"
#include "net/transport_shared.h"

namespace net::detail {

class SnapshotReceiver : public std::enable_shared_from_this<SnapshotReceiver> {
 public:
  // Called once, on the snapshot thread, with the stream's outcome: ok if the sink committed.
  // The coroutine may go on a little (writing the result, waiting for the sender to close).
  using Done = std::function<void(bool ok)>;

  // `socket` belongs to the snapshot thread's io_context; `offer` and `size` are what the
  // decoder returned for the offer frame.
  SnapshotReceiver(std::shared_ptr<TransportShared> shared, boost::asio::ip::tcp::socket socket,
                   std::string remote, uint64_t peer, FrameDecoder decoder, raft::Message offer,
                   uint64_t size);

  // Spawns the stream's coroutine. Once. `ended` runs on the snapshot thread when the coroutine
  // has ended, after `done`.
  void start(Done done, std::function<void()> ended);
  void close();

  uint64_t peer() const { return peer_; }
  const raft::Message& offer() const { return offer_; }

 private:
  // How receiving the bytes ended.
  enum class End { kComplete, kBadInput, kStalled, kSinkFailed, kClosed };

  boost::asio::awaitable<void> run(std::shared_ptr<SnapshotReceiver> keep_alive);
  // Feeds chunks to the sink until `size` bytes arrived or something failed (reason_ says what).
  boost::asio::awaitable<End> receive();
  // Writes the result frame, then closes.
  boost::asio::awaitable<void> answer(bool ok);
  // Reads and drops whatever comes until the sender closes.
  boost::asio::awaitable<void> drain();
  void abort_sink();
  std::string who() const;

  std::shared_ptr<TransportShared> shared_;
  boost::asio::ip::tcp::socket socket_;
  std::string remote_;  // "host:port" of the peer, for logs
  uint64_t peer_;
  FrameDecoder decoder_;
  raft::Message offer_;
  uint64_t size_;
  uint64_t received_ = 0;
  std::unique_ptr<SnapshotSink> sink_;
  std::string reason_;
  bool closed_ = false;
  bool started_ = false;
  Done done_;
  StallTimer stall_;
};

}  // namespace net::detail
