// The sending side of one peer: its bounded queue, the outbound connection that is dialled, kept
// and redialled, and the writer that drains the queue onto it.
//
// One coroutine per peer runs the connection's life: dial (backoff between attempts), send the
// hello, then a writer and a watcher until the connection ends, then start over. The writer
// sleeps on a timer that send() cancels when something is queued; each time it wakes it takes
// every queued message that is due and writes them, behind the hello on a new connection, as one
// buffer. The watcher reads the connection only to learn that the acceptor closed it (an acceptor
// never sends anything), so a lost connection is noticed at once rather than at the next write.
//
// Contract (see net/transport.h for the whole):
// - The queue is bounded by options().max_queue_messages and max_queue_bytes (frames, encoded).
//   A message that does not fit, or whose body exceeds max_frame_body (the acceptor would refuse
//   it and close the connection), is dropped, counted in dropped_queue_full and the peer is
//   reported unreachable.
// - A failed dial reports the peer unreachable and keeps the queue; the next dial waits
//   next_backoff(failures). Dialling is bounded by hello_timeout, as the acceptor's wait for the
//   hello is.
// - A lost connection clears the queue (what was being written is lost too) and reports the peer
//   unreachable. A connection that broke sooner than dial_backoff_max after it was made counts as
//   one more failure, so a peer that keeps refusing this node is redialled ever more slowly.
// - set_address() with a different address closes the connection and dials the new one at once,
//   keeping the queue and reporting nothing: the peer moved, nothing was lost but what was in
//   flight.
// - Outbound faults (block, drop, delay) apply in send(); a delayed message holds back those
//   queued after it, so order is kept.
// - close() ends the coroutines, drops the queue and reports nothing.
//
// Thread-safety: every member runs on the transport's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/transport.h"
#include "net/transport_shared.h"

namespace net::detail {

class PeerSender : public std::enable_shared_from_this<PeerSender> {
 public:
  PeerSender(std::shared_ptr<TransportShared> shared, uint64_t id, PeerAddress address);

  // Spawns the connection's coroutine. Once.
  void start();
  void set_address(PeerAddress address);
  void send(raft::Message message);
  void close();

  uint64_t id() const { return id_; }
  const PeerAddress& address() const { return address_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct Queued {
    raft::Message message;
    uint64_t bytes = 0;       // the encoded frame's size, as counted against max_queue_bytes
    Clock::time_point due{};  // written no earlier than this (a delay fault)
  };

  // The whole life of the peer's outbound connection; `keep_alive` owns this object until the
  // coroutine ends, so remove_peer() may drop its reference at any time.
  boost::asio::awaitable<void> run(std::shared_ptr<PeerSender> keep_alive);
  // One dial of the current address, bounded by hello_timeout: true once connected.
  boost::asio::awaitable<bool> dial();
  // Writes the hello, then every batch of queued messages, until the connection fails or closes.
  boost::asio::awaitable<void> write_until_closed();
  // Reads until the acceptor closes the connection, then closes it here too.
  boost::asio::awaitable<void> watch_until_closed();

  // Moves every queued message that is due into `out` (as frames); returns how many, and sets
  // `next_due` to when the first message left behind is due (Clock::time_point::max() if none).
  size_t take_due(std::string& out, Clock::time_point& next_due);
  void clear_queue();
  // Closes the connection (ending the writer and the watcher); `why` is kept for the log line
  // unless a reason was already recorded.
  void close_socket(boost::system::error_code why = {});
  bool active() const { return !closed_ && !shared_->stopping(); }
  std::string describe_address() const;

  std::shared_ptr<TransportShared> shared_;
  const uint64_t id_;
  PeerAddress address_;
  // Bumped by set_address(): a connection made for an older address is closed, not lost.
  uint64_t address_version_ = 0;
  bool closed_ = false;
  bool started_ = false;

  std::deque<Queued> queue_;
  uint64_t queued_bytes_ = 0;

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  // Why the current connection ended, for the log.
  boost::system::error_code close_reason_;
  // The wait between dials; cancelled by set_address() and close().
  boost::asio::steady_timer backoff_timer_;
  // The writer sleeps on it; send() cancels it to say "something is queued".
  boost::asio::steady_timer wake_;
};

}  // namespace net::detail
