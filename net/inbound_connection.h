// One connection a peer dialled to this node: checks its hello, then hands up its messages, or,
// when the first frame after the hello is a snapshot offer, hands the connection over to the
// snapshot thread (net/snapshot_streams.h).
//
// One coroutine per connection reads frames through a FrameDecoder. The first frame must be a
// hello, and must arrive within hello_timeout (a race between the read and a timer: whichever
// loses is cancelled). The hello must name this cluster, a known peer (set_peer) as `from`, and
// this node as `to`. After it, every message must be addressed to this node and come from the
// hello's peer, except MsgTransferLeader, whose `from` is the transferee.
//
// Anything else — a frame the decoder refuses (oversized, corrupt, unparseable, out of order), a
// frame cut short when the peer closed, a hello or message that fails the checks, no hello in
// time — closes the connection, counts in connections_refused and is logged at warn with the
// peer's address. A connection the peer closes between frames just ends.
//
// Messages from a peer whose inbound traffic a test blocked (FaultRules::block_inbound) are
// checked as usual, then dropped and counted in dropped_by_faults.
//
// A snapshot offer must be a MsgSnapshot addressed to this node from the hello's peer; else the
// connection is refused as above and also counted in snapshots_failed. A good offer is declined
// (result frame 0, counted in snapshots_failed, logged at info) when the peer's inbound traffic
// is blocked or max_snapshot_receives streams are already coming in; otherwise the socket and
// the decoder, with whatever it holds after the offer, move to the snapshot thread, and this
// connection's coroutine ends.
//
// Thread-safety: every member runs on the transport's executor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/frame.h"
#include "net/transport_shared.h"

namespace net::detail {

class SnapshotStreams;

class InboundConnection : public std::enable_shared_from_this<InboundConnection> {
 public:
  InboundConnection(std::shared_ptr<TransportShared> shared,
                    std::shared_ptr<SnapshotStreams> snapshots, boost::asio::ip::tcp::socket socket);

  // Spawns the connection's coroutine (once); `on_end` runs when it has ended.
  void start(std::function<void()> on_end);
  // Closes the connection quietly (stop, remove_peer).
  void close();

  // The peer of the accepted hello; 0 before it.
  uint64_t peer() const { return peer_; }

 private:
  // What reading the next frame came to.
  enum class Read { kHello, kMessage, kOffer, kBadFrame, kTruncated, kClosed };

  boost::asio::awaitable<void> run(std::shared_ptr<InboundConnection> keep_alive);
  // Decodes the next frame into hello_ or message_, reading from the socket as needed.
  boost::asio::awaitable<Read> read_frame();
  // Empty if the hello is acceptable, else why not.
  std::string check_hello() const;
  // Empty if message_ is acceptable on this connection, else why not.
  std::string check_message() const;
  // Empty if message_, an offer, is acceptable, else why not.
  std::string check_offer() const;
  // The first frame after the hello was an offer: decline it, or hand the connection over.
  boost::asio::awaitable<void> take_offer();
  // Answers a declined offer with result 0, then waits (at most hello_timeout) for the dialler
  // to close, so that the close here does not reset the connection before it reads the answer.
  boost::asio::awaitable<void> decline_offer(std::string_view reason);
  // Refuses the connection for `reason` (counted, logged) and closes it.
  void refuse(std::string_view reason);
  // The refusal reason for a Read that is not a frame, or empty for a quiet end.
  std::string describe_failure(Read read) const;

  std::shared_ptr<TransportShared> shared_;
  std::shared_ptr<SnapshotStreams> snapshots_;
  boost::asio::ip::tcp::socket socket_;
  std::string remote_;  // "host:port" of the peer, for logs
  FrameDecoder decoder_;
  std::vector<char> read_buffer_;
  Hello hello_;
  raft::Message message_;
  boost::system::error_code read_error_;
  uint64_t peer_ = 0;
  uint64_t unattributed_bytes_ = 0;  // read before the hello named the peer
  bool closed_ = false;
  bool started_ = false;
};

}  // namespace net::detail
