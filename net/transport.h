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
// ## Snapshots
//
// send_snapshot() streams a snapshot to a peer on a connection of its own, so a large snapshot
// never delays the messages (heartbeats, appends) on the peer's message connection. The
// connection starts with a hello, then an offer (the MsgSnapshot carrying the snapshot's
// metadata, with no data, and the stream's size in bytes), then the bytes in chunk frames of at
// most snapshot_chunk_bytes, each with the frame's CRC32C; the receiver answers with a result
// frame once its sink has committed the whole (or refused it). TCP's own flow control paces the
// sender to the receiver's disk. Reading the source and writing the sink (blocking file I/O)
// run on a thread of the transport's own, never on the executor.
//
// At most max_snapshot_sends streams go out at once and max_snapshot_receives come in at once;
// a send beyond the limit fails at once (on_snapshot_sent(peer, false): the core tries again
// later), an offer beyond it is declined (result 0). A stream that stalls for
// snapshot_idle_timeout fails on both sides; the sender's wait for the result counts, so a
// sink's commit() must finish within it. On the receiver a refused offer, a bad or short chunk,
// a cut connection or a sink that throws aborts the sink and is logged with the peer's address;
// nothing is handed up. The receiver refuses a chunk larger than its own snapshot_chunk_bytes:
// every node of a cluster must use the same value.
//
// The offer must be a MsgSnapshot addressed to this node from the hello's peer, else it is bad
// input. block_outbound and block_inbound fault rules apply to snapshot streams (a send to a
// blocked peer fails at once, an offer from one is declined, and setting the rule cuts the
// streams in flight); drop_outbound and delay_outbound apply to messages only. remove_peer()
// cuts the peer's streams. Counters: snapshots_sent and snapshots_received count committed
// streams; snapshots_failed every other outcome, on either side, from the moment a send was
// asked for or an offer frame decoded (an offer that the decoder cannot parse counts only in
// connections_refused, like any bad frame).
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
// several threads), except the snapshot streams, which run on a thread the transport owns
// (started by start(), joined before stop()'s `done`). send(), send_snapshot(), set_peer(),
// remove_peer() and stop() may be called from any thread: they post to the executor. The
// handler's callbacks run on the executor, except on_snapshot_offer (on the snapshot thread). Log
// lines of the snapshot thread are posted to the executor, so the logger is only ever called
// there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
  // Snapshot streams (see above).
  size_t max_snapshot_sends = 2;
  size_t max_snapshot_receives = 2;
  size_t snapshot_chunk_bytes = kDefaultSnapshotChunkBytes;  // the same on every node
  std::chrono::milliseconds snapshot_idle_timeout{30000};
  // Seeds the backoff jitter and the fault injector's random drops.
  uint64_t seed = 1;
  raft::Logger* logger = nullptr;
};

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
};

// The sender's side of a snapshot stream: the bytes of a stored snapshot.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The stream's length in bytes. Called once, when the stream starts.
  virtual uint64_t size() const = 0;
  // Up to n bytes from where the last read ended; 0 at the end. Throws std::exception on failure.
  // Called on the snapshot thread; never asked for more than size() in all.
  virtual size_t read(char* buf, size_t n) = 0;
};

// The receiver's side: where the bytes go. Every call, and the destructor, run on the snapshot
// thread.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // Throws std::exception on failure (the stream is then aborted).
  virtual void write(const char* data, size_t n) = 0;
  // All `size` bytes arrived: check and keep them. Throws if the whole is bad (abort() follows).
  virtual void commit() = 0;
  // The stream failed: drop what was written. Called at most once, never after a commit() that
  // returned; a sink destroyed without commit() or abort() was never written to.
  virtual void abort() = 0;
};

// What the transport hands up, on its executor (except on_snapshot_offer, see there).
struct TransportHandler {
  // A message from a peer, already checked as above.
  std::function<void(raft::Message)> on_message;
  // The peer could not be reached, or a message to it was dropped (the core's MsgUnreachable).
  std::function<void(uint64_t peer)> on_unreachable;
  // A peer offers a snapshot: `m` is its MsgSnapshot (metadata, no data), `size` the bytes to
  // come. Returns the sink to write them to, or null to refuse (say, the snapshot is not newer
  // than what this node has). Runs on the transport's snapshot thread, so it must be thread-safe
  // with respect to the executor, must not wait for the executor (stop() and the destructor wait
  // for this thread), and must not destroy the Transport (say, by dropping the last reference
  // to its owner there). Unset: every offer is refused.
  std::function<std::unique_ptr<SnapshotSink>(const raft::Message& m, uint64_t size)>
      on_snapshot_offer;
  // The whole snapshot arrived and the sink committed it; `m` is the offer's MsgSnapshot, to be
  // stepped into the core like any message.
  std::function<void(raft::Message m)> on_snapshot_received;
  // A send_snapshot() ended: the peer committed the snapshot (true) or not (false). Called once
  // per send_snapshot() made before stop(); not for streams that stop() cut.
  std::function<void(uint64_t peer, bool ok)> on_snapshot_sent;
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
  uint64_t snapshots_sent = 0;      // committed by the peer
  uint64_t snapshots_received = 0;  // committed here
  uint64_t snapshots_failed = 0;    // sends and receives that failed or were refused
  uint64_t snapshot_bytes_sent = 0;
};

// Bytes and messages exchanged with one peer, raft messages and snapshot streams together, frame
// headers and hellos included (bytes of a connection refused at its hello are not counted).
struct PeerTraffic {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;      // raft messages written to a socket
  uint64_t messages_received = 0;  // raft messages handed to on_message
};

class Transport {
 public:
  Transport(boost::asio::any_io_executor executor, TransportOptions options,
            TransportHandler handler);
  // Stops (as stop()) if not stopped, and joins the snapshot thread (waiting for a source read
  // or sink call in progress); must not run while the executor runs other handlers of this
  // transport (destroy it on the executor's thread after stop() finished, or after the
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

  // Streams the snapshot `m` (a MsgSnapshot with metadata; its data, if any, is not sent) with
  // the bytes of `source` to m.to() on a connection of its own; on_snapshot_sent reports the
  // outcome (also, at once, for an unknown peer, a blocked peer or a full send limit). The
  // source is read, and destroyed, on the snapshot thread (or on the executor if the send fails
  // at once).
  void send_snapshot(raft::Message m, std::unique_ptr<SnapshotSource> source);

  // Closes the listener and every connection and ends every coroutine; pending messages are
  // dropped. Snapshot streams are cut: receiving sinks are aborted, and sends in flight are not
  // reported (no callback reaches the handler once stop() has run). A source read or sink call
  // in progress is waited for. `done` (optional) runs on the executor when everything has
  // ended, the snapshot thread included.
  void stop(std::function<void()> done = {});

  // Test faults; callable from any thread. Posted like send(), so faults set and messages sent
  // from one thread apply in that order.
  void set_faults(uint64_t peer, const FaultRules& rules);
  void clear_faults();

  TransportStats stats() const;
  // Traffic per peer id since start(), for every peer anything was exchanged with. Any thread.
  std::map<uint64_t, PeerTraffic> traffic() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace net
