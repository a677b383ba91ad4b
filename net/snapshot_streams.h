// The snapshot streams of one Transport: the thread (and its io_context) they run on, the limits
// on how many run at once, and the way in and out of that thread.
//
// The thread is the transport's own. Every stream's socket, timers and coroutine live on its
// io_context, and the blocking calls of a stream (SnapshotSource::read, on_snapshot_offer, the
// SnapshotSink's calls) run on it, so neither a slow disk nor a large snapshot ever holds the
// executor. A blocked call holds the other streams of this transport too: they share the thread.
//
// From the executor: send() and receive() start streams (posted to the thread); cut() and stop()
// end them (posted too). The outcome of each stream comes back posted to the executor, where
// on_snapshot_sent and on_snapshot_received are called (nothing after stop()).
//
// Limits (on the executor): at most max_snapshot_sends sends and max_snapshot_receives receives
// from when they are admitted until their outcome is posted back. A send over the limit fails at
// once; a receive over the limit is refused by the acceptor (admit_receive()).
//
// Stopping: stop() closes every stream (receivers abort their sinks; sends are not reported) and
// lets the io_context run out of work; when the thread has ended, the executor joins it and
// releases the hold it put on TransportShared::when_idle(), so stop()'s `done` runs after that.
// A source read or sink write in progress is waited for: the thread cannot be interrupted.
//
// Thread-safety: members say where they run: "executor" (the transport's executor, or before it
// runs), "snapshot thread", or join() (see there).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/frame.h"
#include "net/snapshot_receiver.h"
#include "net/snapshot_sender.h"
#include "net/transport.h"
#include "net/transport_shared.h"

namespace net::detail {

class SnapshotStreams : public std::enable_shared_from_this<SnapshotStreams> {
 public:
  explicit SnapshotStreams(std::shared_ptr<TransportShared> shared);
  // Stops and joins the thread if that was not done (it always is, by the Transport).
  ~SnapshotStreams();
  SnapshotStreams(const SnapshotStreams&) = delete;
  SnapshotStreams& operator=(const SnapshotStreams&) = delete;

  // Executor: starts the thread. Once; nothing before it is accepted.
  void start();

  // Executor: streams `message` with `source` to its `to`, at `address`. The outcome is reported
  // through on_snapshot_sent, at once if the send limit is reached or the streams are stopped
  // (the latter only before TransportShared::begin_stop(), which silences every report).
  void send(PeerAddress address, raft::Message message, std::unique_ptr<SnapshotSource> source);

  // Executor: empty if one more stream from `peer` may be received now (it is then counted until
  // its outcome, so receive() or cancel_receive() must follow), else why not.
  std::string admit_receive();
  void cancel_receive();
  // Executor: moves an admitted connection, whose hello and offer were read on the executor, to
  // the snapshot thread. `socket` is released (left closed); `decoder` keeps whatever it has
  // buffered after the offer.
  void receive(uint64_t peer, std::string remote, boost::asio::ip::tcp::socket& socket,
               FrameDecoder decoder, raft::Message offer, uint64_t size);

  // Executor: ends the streams with `peer`: outgoing ones (`sends`), incoming ones (`receives`).
  void cut(uint64_t peer, bool sends, bool receives);
  // Executor: ends every stream and lets the thread end (see above). Idempotent.
  void stop();
  // Blocks until the thread has ended. Only where the executor runs no handler of this
  // transport (the Transport's destructor), after stop().
  void join();

 private:
  // Snapshot thread.
  void start_sender(PeerAddress address, raft::Message message,
                    std::unique_ptr<SnapshotSource> source);
  void start_receiver(std::shared_ptr<SnapshotReceiver> receiver);
  // Closes the matching streams: those with `peer`, or all of them if `peer` is empty.
  void close_streams(std::optional<uint64_t> peer, bool sends, bool receives);
  // Executor: the thread has ended.
  void thread_ended();

  std::shared_ptr<TransportShared> shared_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;

  // Executor.
  bool started_ = false;
  bool stopped_ = false;
  size_t sending_ = 0;
  size_t receiving_ = 0;

  // Snapshot thread.
  bool closing_ = false;
  std::unordered_map<SnapshotSender*, std::shared_ptr<SnapshotSender>> senders_;
  std::unordered_map<SnapshotReceiver*, std::shared_ptr<SnapshotReceiver>> receivers_;
};

}  // namespace net::detail
