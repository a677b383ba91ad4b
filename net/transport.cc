// The Transport: the listener and its accept loop, the registry of peers (one PeerSender each)
// and of accepted connections (one InboundConnection each), the snapshot streams, and the
// posting of calls from any thread onto the executor. The work of a connection lives in
// peer_sender.cc and inbound_connection.cc, that of snapshot streams in snapshot_*.cc; what they
// share, in transport_shared.cc.
#include "net/transport.h"

#include <atomic>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/inbound_connection.h"
#include "net/peer_sender.h"
#include "net/snapshot_streams.h"
#include "net/transport_shared.h"

namespace net {

namespace asio = boost::asio;
using asio::ip::tcp;
using detail::InboundConnection;
using detail::PeerSender;
using detail::SnapshotStreams;
using detail::TransportShared;

struct Transport::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor executor, TransportOptions options, TransportHandler handler)
      : shared(std::make_shared<TransportShared>(std::move(executor), std::move(options),
                                                 std::move(handler))),
        snapshots(std::make_shared<SnapshotStreams>(shared)),
        acceptor(shared->executor()),
        accept_pause(shared->executor()) {}

  void start();
  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> keep_alive);
  void set_peer(uint64_t id, PeerAddress address);
  void remove_peer(uint64_t id);
  void send(raft::Message message);
  void send_snapshot(raft::Message message, std::unique_ptr<SnapshotSource> source);
  void set_faults(uint64_t peer, const FaultRules& rules);
  // Executor only (or when it runs nothing of this transport, as in the destructor).
  void stop(std::function<void()> done);

  std::shared_ptr<TransportShared> shared;
  std::shared_ptr<SnapshotStreams> snapshots;
  tcp::acceptor acceptor;
  // A failing accept (out of file descriptors) waits on it before trying again.
  asio::steady_timer accept_pause;
  std::atomic<uint16_t> port{0};
  bool started = false;
  std::unordered_map<uint64_t, std::shared_ptr<PeerSender>> peers;
  std::unordered_set<std::shared_ptr<InboundConnection>> inbound;
};

void Transport::Impl::start() {
  if (started || shared->stopping()) return;
  started = true;
  const TransportOptions& options = shared->options();
  const tcp::endpoint endpoint(asio::ip::make_address(options.listen_host), options.listen_port);
  acceptor.open(endpoint.protocol());
  // A restarted node rebinds its port while the old connections sit in TIME_WAIT.
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
  snapshots->start();
  shared->spawn(accept_loop(shared_from_this()));
}

asio::awaitable<void> Transport::Impl::accept_loop(std::shared_ptr<Impl> /*keep_alive*/) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  while (!shared->stopping()) {
    auto [error, socket] = co_await acceptor.async_accept(use_tuple);
    if (shared->stopping()) break;
    if (error) {
      if (error == asio::error::operation_aborted || !acceptor.is_open()) break;
      // Out of descriptors or memory: accepting again at once would spin.
      shared->log(raft::LogLevel::kWarn, raft::concat("net: accept failed: ", error.message()));
      accept_pause.expires_after(shared->options().dial_backoff_min);
      co_await accept_pause.async_wait(use_tuple);
      continue;
    }
    auto connection = std::make_shared<InboundConnection>(shared, snapshots, std::move(socket));
    inbound.insert(connection);
    connection->start([self = shared_from_this(), connection] { self->inbound.erase(connection); });
  }
}

void Transport::Impl::set_peer(uint64_t id, PeerAddress address) {
  if (shared->stopping()) return;
  if (id == raft::kNone || id == shared->options().node_id) {
    // A configuration that lists this node among its peers: nothing to dial.
    return;
  }
  auto it = peers.find(id);
  if (it != peers.end()) {
    it->second->set_address(std::move(address));
    return;
  }
  auto peer = std::make_shared<PeerSender>(shared, id, std::move(address));
  peers.emplace(id, peer);
  shared->add_known_peer(id);
  peer->start();
}

void Transport::Impl::remove_peer(uint64_t id) {
  if (shared->stopping()) return;
  auto it = peers.find(id);
  if (it != peers.end()) {
    it->second->close();
    peers.erase(it);
  }
  shared->remove_known_peer(id);
  for (const auto& connection : inbound) {
    if (connection->peer() == id) connection->close();
  }
  snapshots->cut(id, /*sends=*/true, /*receives=*/true);
}

void Transport::Impl::send(raft::Message message) {
  if (shared->stopping()) return;
  auto it = peers.find(message.to());
  if (it == peers.end()) {
    shared->report_unreachable(message.to());
    return;
  }
  it->second->send(std::move(message));
}

void Transport::Impl::send_snapshot(raft::Message message,
                                    std::unique_ptr<SnapshotSource> source) {
  if (shared->stopping()) return;
  const uint64_t peer = message.to();
  auto it = peers.find(peer);
  std::string why;
  if (it == peers.end()) {
    why = "unknown peer";
  } else if (shared->faults(peer).block_outbound) {
    why = "outbound traffic to the peer is blocked (fault injection)";
  } else if (message.msg_type() != raft::MessageType::MsgSnapshot) {
    // The receiver would refuse it as bad input; failing here says why without a connection.
    why = raft::concat("not a MsgSnapshot: ", raft::describe(message));
  }
  if (!why.empty()) {
    TransportShared::bump(shared->counters().snapshots_failed);
    shared->log(raft::LogLevel::kInfo,
                raft::concat("net: snapshot to peer ", peer, " not sent: ", why));
    shared->report_snapshot_sent(peer, false);
    return;
  }
  snapshots->send(it->second->address(), std::move(message), std::move(source));
}

void Transport::Impl::set_faults(uint64_t peer, const FaultRules& rules) {
  shared->set_faults(peer, rules);
  // A partition cuts the streams in flight too, as it would cut their connections.
  if (rules.block_outbound || rules.block_inbound) {
    snapshots->cut(peer, rules.block_outbound, rules.block_inbound);
  }
}

void Transport::Impl::stop(std::function<void()> done) {
  if (!shared->stopping()) {
    shared->begin_stop();
    boost::system::error_code ignored;
    acceptor.close(ignored);
    accept_pause.cancel();
    for (auto& [id, peer] : peers) peer->close();
    peers.clear();
    // Each connection leaves `inbound` when its coroutine ends, later, on the executor.
    for (const auto& connection : inbound) connection->close();
    // when_idle() waits for the snapshot thread too: it holds a count until it has ended.
    snapshots->stop();
  }
  shared->when_idle(std::move(done));
}

Transport::Transport(asio::any_io_executor executor, TransportOptions options,
                     TransportHandler handler)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handler))) {}

Transport::~Transport() {
  // The contract forbids running this while the executor runs our handlers, so the stop can be
  // done here, directly; coroutines still suspended end when the executor next runs (or are
  // destroyed with it), holding what they use. The snapshot thread needs nothing from the
  // executor to end, so it is joined here (at once if stop() had finished).
  impl_->stop({});
  impl_->snapshots->join();
}

void Transport::start() { impl_->start(); }

uint16_t Transport::port() const { return impl_->port.load(); }

void Transport::set_peer(uint64_t id, PeerAddress address) {
  asio::post(impl_->shared->executor(), [impl = impl_, id, address = std::move(address)]() mutable {
    impl->set_peer(id, std::move(address));
  });
}

void Transport::remove_peer(uint64_t id) {
  asio::post(impl_->shared->executor(), [impl = impl_, id] { impl->remove_peer(id); });
}

void Transport::send(raft::Message m) {
  asio::post(impl_->shared->executor(),
             [impl = impl_, m = std::move(m)]() mutable { impl->send(std::move(m)); });
}

void Transport::send_snapshot(raft::Message m, std::unique_ptr<SnapshotSource> source) {
  asio::post(impl_->shared->executor(),
             [impl = impl_, m = std::move(m), source = std::move(source)]() mutable {
               impl->send_snapshot(std::move(m), std::move(source));
             });
}

void Transport::stop(std::function<void()> done) {
  asio::post(impl_->shared->executor(),
             [impl = impl_, done = std::move(done)]() mutable { impl->stop(std::move(done)); });
}

// Posted like send(), so that faults set, then messages sent, from one thread apply in that order.
void Transport::set_faults(uint64_t peer, const FaultRules& rules) {
  asio::post(impl_->shared->executor(),
             [impl = impl_, peer, rules] { impl->set_faults(peer, rules); });
}

void Transport::clear_faults() {
  asio::post(impl_->shared->executor(), [impl = impl_] { impl->shared->clear_faults(); });
}

TransportStats Transport::stats() const { return impl_->shared->stats(); }

std::map<uint64_t, PeerTraffic> Transport::traffic() const { return impl_->shared->traffic(); }

}  // namespace net
