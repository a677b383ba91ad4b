#include "net/snapshot_streams.h"

#include <unistd.h>

#include <utility>

#include <boost/asio/post.hpp>

namespace net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A descriptor on its way from the executor to the snapshot thread: closed if the handler that
// carries it is destroyed without running (the io_context went away first).
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&&) = delete;
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

// One thread runs the io_context: the hint lets Asio skip the locking that several would need.
SnapshotStreams::SnapshotStreams(std::shared_ptr<TransportShared> shared)
    : shared_(std::move(shared)), io_(1) {}

SnapshotStreams::~SnapshotStreams() {
  if (!thread_.joinable()) return;
  // Not reached when the Transport joined; kept so a thread is never left running (or a
  // joinable std::thread destroyed, which terminates).
  asio::post(io_, [this] {
    closing_ = true;
    close_streams(std::nullopt, true, true);
  });
  work_.reset();
  thread_.join();
}

void SnapshotStreams::start() {
  if (started_ || stopped_) return;
  started_ = true;
  work_.emplace(io_.get_executor());
  // stop()'s `done` waits for the thread, as it waits for a coroutine.
  shared_->hold();
  thread_ = std::thread([this] {
    io_.run();
    // Posted last, so every outcome this thread posted runs on the executor before it.
    if (auto self = weak_from_this().lock()) {
      asio::post(shared_->executor(), [self = std::move(self)] { self->thread_ended(); });
    }
  });
}

void SnapshotStreams::send(PeerAddress address, raft::Message message,
                           std::unique_ptr<SnapshotSource> source) {
  const uint64_t peer = message.to();
  const size_t limit = shared_->options().max_snapshot_sends;
  if (!started_ || stopped_ || sending_ >= limit) {
    TransportShared::bump(shared_->counters().snapshots_failed);
    if (started_ && !stopped_) {
      shared_->log(raft::LogLevel::kInfo,
                   raft::concat("net: snapshot to peer ", peer, " not sent: ", sending_,
                                " snapshot streams already going out (max_snapshot_sends ", limit,
                                ")"));
    }
    shared_->report_snapshot_sent(peer, false);
    return;
  }
  ++sending_;
  asio::post(io_, [this, address = std::move(address), message = std::move(message),
                   source = std::move(source)]() mutable {
    start_sender(std::move(address), std::move(message), std::move(source));
  });
}

std::string SnapshotStreams::admit_receive() {
  if (!started_ || stopped_) return "the transport is stopping";
  const size_t limit = shared_->options().max_snapshot_receives;
  if (receiving_ >= limit) {
    return raft::concat(receiving_, " snapshot streams already coming in (max_snapshot_receives ",
                        limit, ")");
  }
  ++receiving_;
  return {};
}

void SnapshotStreams::cancel_receive() { --receiving_; }

void SnapshotStreams::receive(uint64_t peer, std::string remote, tcp::socket& socket,
                              FrameDecoder decoder, raft::Message offer, uint64_t size) {
  // The socket belongs to the executor's io_context; the stream lives on the snapshot thread's.
  // Its descriptor moves across: released here, adopted there by a new socket.
  boost::system::error_code error;
  const tcp::endpoint local = socket.local_endpoint(error);
  int fd = -1;
  if (!error) fd = socket.release(error);
  if (error) {
    shared_->log(raft::LogLevel::kWarn,
                 raft::concat("net: cannot hand the snapshot connection from ", remote,
                              " to the snapshot thread: ", error.message()));
    boost::system::error_code ignored;
    socket.close(ignored);
    TransportShared::bump(shared_->counters().snapshots_failed);
    cancel_receive();
    return;
  }
  asio::post(io_, [this, fd = OwnedFd(fd), protocol = local.protocol(), peer,
                   remote = std::move(remote), decoder = std::move(decoder),
                   offer = std::move(offer), size]() mutable {
    tcp::socket adopted(io_);
    boost::system::error_code assign_error;
    adopted.assign(protocol, fd.release(), assign_error);
    // assign() fails only when the reactor cannot take the descriptor; the stream then fails at
    // its first read, through the usual path.
    start_receiver(std::make_shared<SnapshotReceiver>(shared_, std::move(adopted),
                                                      std::move(remote), peer, std::move(decoder),
                                                      std::move(offer), size));
  });
}

void SnapshotStreams::cut(uint64_t peer, bool sends, bool receives) {
  if (!started_ || stopped_) return;
  asio::post(io_, [this, peer, sends, receives] { close_streams(peer, sends, receives); });
}

void SnapshotStreams::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  asio::post(io_, [this] {
    closing_ = true;
    close_streams(std::nullopt, true, true);
  });
  // With no work guard, run() returns once the streams' coroutines have ended.
  work_.reset();
}

void SnapshotStreams::join() {
  if (thread_.joinable()) thread_.join();
}

void SnapshotStreams::thread_ended() {
  join();
  shared_->release();
}

void SnapshotStreams::start_sender(PeerAddress address, raft::Message message,
                                   std::unique_ptr<SnapshotSource> source) {
  auto sender = std::make_shared<SnapshotSender>(shared_, io_.get_executor(), std::move(address),
                                                 std::move(message), std::move(source));
  SnapshotSender* key = sender.get();
  senders_.emplace(key, sender);
  const uint64_t peer = sender->peer();
  sender->start(
      [this, peer](bool ok) {
        if (auto self = weak_from_this().lock()) {
          asio::post(shared_->executor(), [self = std::move(self), peer, ok] {
            --self->sending_;
            self->shared_->report_snapshot_sent(peer, ok);
          });
        }
      },
      [this, key] { senders_.erase(key); });
  if (closing_) sender->close();
}

void SnapshotStreams::start_receiver(std::shared_ptr<SnapshotReceiver> receiver) {
  SnapshotReceiver* key = receiver.get();
  receivers_.emplace(key, receiver);
  receiver->start(
      [this, key](bool ok) {
        raft::Message offer = ok ? key->offer() : raft::Message();
        if (auto self = weak_from_this().lock()) {
          asio::post(shared_->executor(),
                     [self = std::move(self), ok, offer = std::move(offer)]() mutable {
                       --self->receiving_;
                       if (ok) self->shared_->deliver_snapshot(std::move(offer));
                     });
        }
      },
      [this, key] { receivers_.erase(key); });
  if (closing_) receiver->close();
}

void SnapshotStreams::close_streams(std::optional<uint64_t> peer, bool sends, bool receives) {
  // close() only closes sockets and cancels timers; the coroutines end (and leave the maps)
  // later, so iterating while closing is safe.
  if (sends) {
    for (const auto& [key, sender] : senders_) {
      if (!peer || sender->peer() == *peer) sender->close();
    }
  }
  if (receives) {
    for (const auto& [key, receiver] : receivers_) {
      if (!peer || receiver->peer() == *peer) receiver->close();
    }
  }
}

}  // namespace net::detail
