// The TCP transport between the nodes of a cluster: moves raft Messages, knows nothing of Raft's
// rules.
//
// ## Connections
//
// Each node dials one outbound connection per peer and sends on it; it receives on the
// connections its peers dialled (so between two nodes there are two connections, one per
// direction, and neither side ever decides who dials). A dial that fails, and a connection that
// breaks, are retried with exponential backoff from dial_backoff_min to dial_backoff_max, with
// full jitter drawn from a seeded generator.
//
// The dialler's first frame is a hello (net/frame.h) with the cluster id, its own id and the id
// it expects to reach; the acceptor checks all three (its cluster, a known peer, itself) and
// closes the connection otherwise. An acceptor that gets no hello within hello_timeout closes
// the connection. After the hello, only message frames flow, from dialler to acceptor; every
// message must be addressed to this node (`to`) and come from the peer of the hello (`from`),
// except MsgTransferLeader: a follower forwards it to the leader with the transferee in `from`.
//
// ## Sending
//
// send() queues a message for its peer. A writer coroutine per peer takes everything queued and
// writes it as one buffer (one write per wake-up, however many messages): appends are
// pipelined, never one round trip each. A peer's queue is bounded by messages and by bytes;
// a message that does not fit is dropped and the peer reported unreachable, so the core backs
// off (its Progress goes to Probe) instead of the transport buffering without bound. While a
// peer is not connected its queue still fills up to the bound; when the connection is lost the
// queue is cleared (the core resends what matters) and the peer reported unreachable.
//
// ## Bad input
//
// A frame that is oversized, truncated by a closed connection, corrupt or unparseable, a hello
// of another cluster or from an unknown node, or a message not addressed to this node: the
// connection is closed and the reason logged with the peer's address; the transport keeps
// serving every other connection.
//
// ## Threads
//
// Everything runs on the executor given at construction (use a strand when the io_context has
// several threads). send(), set_peer(), remove_peer() and stop() may be called from any thread:
// they post to the executor. The handler's callbacks run on the executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "net/frame.h"
#include "raft/logger.h"
#include "raft/types.h"

namespace net {

struct TransportOptions {
  uint64_t cluster_id = 0;
  uint64_t node_id = 0;
  // Where to accept connections; port 0 picks a free port (see Transport::port()).
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  size_t max_frame_body = kDefaultMaxFrameBody;
  // Per peer: messages and bytes (encoded) queued and not yet written.
  size_t max_queue_messages = 4096;
  uint64_t max_queue_bytes = 64ull << 20;
  std::chrono::milliseconds dial_backoff_min{20};
  std::chrono::milliseconds dial_backoff_max{1000};
  std::chrono::milliseconds hello_timeout{5000};
  // Seeds the backoff jitter and the fault injector's random drops.
  uint64_t seed = 1;
  raft::Logger* logger = nullptr;
};

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
};

// What the transport hands up, on its executor.
struct TransportHandler {
  // A message from a peer, already checked as above.
  std::function<void(raft::Message)> on_message;
  // The peer could not be reached, or a message to it was dropped (the core's MsgUnreachable).
  std::function<void(uint64_t peer)> on_unreachable;
};

// Faults a test injects into one transport, per peer and per direction, applied to messages
// (not bytes): a blocked or dropped message simply never arrives, as when a network loses it.
struct FaultRules {
  bool block_outbound = false;    // messages to the peer are dropped
  bool block_inbound = false;     // messages from the peer are dropped on arrival
  double drop_outbound = 0;       // probability that a message to the peer is dropped
  std::chrono::milliseconds delay_outbound{0};  // added before a message is written
};

struct TransportStats {
  uint64_t messages_sent = 0;      // written to a socket
  uint64_t messages_received = 0;  // handed to on_message
  uint64_t writes = 0;             // socket writes (each carries one or more messages)
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_by_faults = 0;
  uint64_t connections_refused = 0;  // closed for bad input (bad frame, hello, address)
  uint64_t dials = 0;
};

class Transport {
 public:
  Transport(boost::asio::any_io_executor executor, TransportOptions options,
            TransportHandler handler);
  // Stops (as stop()) if not stopped; must not run while the executor runs other handlers of
  // this transport (destroy it on the executor's thread after stop() finished, or after the
  // io_context stopped).
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds the listening socket and starts accepting and dialling. Call once, before running
  // the executor or on it. Throws boost::system::system_error when the address cannot be bound.
  void start();
  // The bound port (after start()).
  uint16_t port() const;

  // Adds or changes a peer's address (a changed address reconnects); removing a peer closes its
  // connections and drops its queue.
  void set_peer(uint64_t id, PeerAddress address);
  void remove_peer(uint64_t id);

  // Queues `m` for m.to(). Unknown peer or full queue: dropped and reported unreachable.
  void send(raft::Message m);

  // Closes the listener and every connection and ends every coroutine; pending messages are
  // dropped. `done` (optional) runs on the executor when everything has ended.
  void stop(std::function<void()> done = {});

  // Test faults; callable from any thread. Posted like send(), so faults set and messages sent
  // from one thread apply in that order.
  void set_faults(uint64_t peer, const FaultRules& rules);
  void clear_faults();

  TransportStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace net
