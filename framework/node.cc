// Node's lifetime (construction, start, stop) and the requests of its public API. The pipeline
// that turns ticks, messages and requests into Readys is in node_pipeline.cc.
#include "framework/node.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include "framework/node_impl.h"
#include "raft/errors.h"
#include "raft/types.h"

namespace asio = boost::asio;

namespace framework {
namespace {

std::error_code node_error(NodeError e) { return make_error_code(e); }

bool contains(const google::protobuf::RepeatedField<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Node: forwards to Impl on its strand.

Node::Node(asio::any_io_executor executor, NodeConfig config,
           std::shared_ptr<StateMachine> state_machine) {
  if (std::string why = config.validate(); !why.empty()) {
    throw std::invalid_argument("invalid node config: " + why);
  }
  if (!state_machine) throw std::invalid_argument("invalid node config: no state machine");
  impl_ = std::make_shared<Impl>(std::move(executor), std::move(config), std::move(state_machine));
}

Node::~Node() {
  if (impl_) impl_->shutdown_now();
}

void Node::start() { impl_->start(); }
uint16_t Node::port() const { return impl_->port(); }
uint64_t Node::id() const { return impl_->config().id; }

void Node::set_peer_address(uint64_t id, net::PeerAddress address) {
  asio::post(impl_->strand_, [impl = impl_, id, address = std::move(address)]() mutable {
    impl->set_peer_address(id, std::move(address));
  });
}

void Node::set_faults(uint64_t peer, const net::FaultRules& rules) {
  asio::post(impl_->strand_, [impl = impl_, peer, rules] { impl->set_faults(peer, rules); });
}

void Node::clear_faults() {
  asio::post(impl_->strand_, [impl = impl_] { impl->set_faults(0, net::FaultRules{}); });
}

asio::awaitable<Reply<Proposed>> Node::propose(std::string command) {
  Impl::bump(impl_->counters_.proposals);
  // Built before the co_await, not inside its expression: g++ 12 destroys a lambda's captures
  // twice when the lambda is a temporary of a co_await expression.
  auto request = impl_->request<Proposed>(
      [c = std::move(command)](Impl& n, Waiter<Proposed> w) mutable {
        n.propose(std::move(c), std::move(w));
      });
  Reply<Proposed> r = co_await std::move(request);
  if (!r.ok()) Impl::bump(impl_->counters_.proposals_failed);
  co_return r;
}

asio::awaitable<Reply<uint64_t>> Node::read_index() {
  Impl::bump(impl_->counters_.reads);
  auto request = impl_->request<uint64_t>(
      [](Impl& n, Waiter<uint64_t> w) { n.read_index(std::move(w)); });
  Reply<uint64_t> r = co_await std::move(request);
  if (!r.ok()) Impl::bump(impl_->counters_.reads_failed);
  co_return r;
}

asio::awaitable<Reply<raft::ConfState>> Node::add_voter(uint64_t id, net::PeerAddress address) {
  return change_membership({MemberChange{MemberChange::Op::kAddVoter, id, std::move(address)}});
}

asio::awaitable<Reply<raft::ConfState>> Node::add_learner(uint64_t id,
                                                          net::PeerAddress address) {
  return change_membership({MemberChange{MemberChange::Op::kAddLearner, id, std::move(address)}});
}

asio::awaitable<Reply<raft::ConfState>> Node::promote(uint64_t id) {
  std::vector<MemberChange> changes{MemberChange{MemberChange::Op::kAddVoter, id, {}}};
  return impl_->request<raft::ConfState>(
      [c = std::move(changes)](Impl& n, Waiter<raft::ConfState> w) mutable {
        n.change_membership(std::move(c), /*promote=*/true, std::move(w));
      });
}

asio::awaitable<Reply<raft::ConfState>> Node::remove_member(uint64_t id) {
  return change_membership({MemberChange{MemberChange::Op::kRemove, id, {}}});
}

asio::awaitable<Reply<raft::ConfState>> Node::change_membership(
    std::vector<MemberChange> changes) {
  return impl_->request<raft::ConfState>(
      [c = std::move(changes)](Impl& n, Waiter<raft::ConfState> w) mutable {
        n.change_membership(std::move(c), /*promote=*/false, std::move(w));
      });
}

asio::awaitable<Reply<Empty>> Node::transfer_leader(uint64_t to) {
  return impl_->request<Empty>(
      [to](Impl& n, Waiter<Empty> w) { n.transfer_leader(to, std::move(w)); });
}

asio::awaitable<Reply<uint64_t>> Node::snapshot() {
  return impl_->request<uint64_t>(
      [](Impl& n, Waiter<uint64_t> w) { n.request_snapshot(std::move(w)); });
}

asio::awaitable<NodeStatus> Node::status() {
  Reply<NodeStatus> r = co_await impl_->request<NodeStatus>([](Impl& n, Waiter<NodeStatus> w) {
    Reply<NodeStatus> reply;
    reply.value = n.status();
    std::move(w).resolve(std::move(reply));
  });
  co_return std::move(r.value);
}

asio::awaitable<void> Node::stop() {
  co_await impl_->request<Empty>([](Impl& n, Waiter<Empty> w) { n.stop(std::move(w)); });
}

// ---------------------------------------------------------------------------------------------
// Impl: lifetime.

Node::Impl::Impl(asio::any_io_executor executor, NodeConfig config,
                 std::shared_ptr<StateMachine> state_machine)
    : strand_(asio::make_strand(executor)),
      config_(std::move(config)),
      sm_(std::move(state_machine)),
      log_(config_.logger ? config_.logger : &raft::null_logger(), config_.id),
      ticker_(strand_) {
  std::random_device rd;
  next_request_ = (static_cast<uint64_t>(rd()) << 32 | rd()) >> 1;
}

Node::Impl::~Impl() = default;

void Node::Impl::start() {
  if (phase_ != Phase::kNew) throw std::logic_error("Node::start called twice");
  open_storage();
  open_snapshots();
  const raft::SnapshotMetadata& snap = storage_->meta().snapshot();
  const uint64_t snapshot_index = storage_->first_index() - 1;
  applied_ = snapshot_index;
  last_snapshot_index_ = snap.index();
  raw_ = std::make_unique<raft::RawNode>(config_.raft_config(snapshot_index), *storage_);
  const raft::Status st = raw_->status();
  const raft::ConfState cs = raw_->raft().tracker().config.to_conf_state();
  members_ = members_of(cs);
  term_ = st.hard_state.term();
  log_.set_term(term_);
  start_workers(ApplyPosition{snap.index(), snap.term(), cs});
  // An in-memory state machine starts from the stored snapshot (a durable one that already holds
  // it does not); the replay of the log after it follows.
  if (snap.index() > 0 && sm_->durable_applied_index() < snap.index()) {
    // Until the restore is done the state machine has applied nothing: reads wait for it.
    applied_ = 0;
    ApplyJob restore;
    restore.kind = ApplyJob::Kind::kRestore;
    restore.snapshot = snap;
    submit_apply(std::move(restore));
  }
  // Running before the transport starts: its first messages find the node ready for them.
  phase_ = Phase::kRunning;
  try {
    start_transport();
  } catch (...) {
    release_transport();
    disk_->stop();
    apply_->stop();
    snapshotter_->stop();
    phase_ = Phase::kStopped;
    torn_down_ = true;
    throw;
  }
  log_.info(raft::concat("node started: data dir ", config_.data_dir, ", listening on ",
                         config_.listen.host, ":", port_, ", ", st.describe()));
  // Before the executor runs: metrics() shows the restored position at once.
  publish_gauges();
  asio::post(strand_, [self = shared_from_this()] {
    self->arm_ticker();
    self->schedule_ready();
  });
}

void Node::Impl::open_storage() {
  wal::DurableStorageOptions options;
  options.wal.segment_size = config_.wal_segment_bytes;
  options.wal.cache_bytes = config_.wal_cache_bytes;
  wal::DurableOpenInfo info;
  auto opened = wal::DurableStorage::open(
      config_.data_dir, wal::NodeIdentity{config_.cluster_id, config_.id}, options, &info);
  if (!opened.ok()) {
    throw std::system_error(node_error(NodeError::kStorageFailed),
                            "cannot open data dir " + config_.data_dir + ": " +
                                opened.status().message());
  }
  storage_ = std::move(opened).value();
  if (info.wal.torn_bytes > 0) {
    log_.warn(raft::concat("cut a torn WAL tail of ", info.wal.torn_bytes, " bytes at ",
                           info.wal.torn_path, ":", info.wal.torn_offset, " (copy kept at ",
                           info.wal.torn_copy, ")"));
  }
  // A bootstrap interrupted by a crash (entries written, HardState not yet) is done again: the
  // entries are the same, and nothing else can have happened without a term.
  const bool unfinished_bootstrap = storage_->meta().hard_state().term() == 0 &&
                                    storage_->first_index() == 1 &&
                                    storage_->meta().conf_state().voters_size() == 0;
  if (!config_.join && (storage_->is_new() || unfinished_bootstrap)) bootstrap();
}

// A new cluster's members each write the same first entries: one AddNode per initial member at
// term 1, already committed, as etcd does. Every node then learns the initial membership by
// applying them, and a node that joins later learns it from the same entries in the leader's
// log (the membership is in the log, not only in each member's config).
void Node::Impl::bootstrap() {
  raft::EntryVec entries;
  uint64_t index = 0;
  for (const auto& [id, address] : config_.peers) {
    raft::ConfChange cc;
    cc.set_change_type(eraftpb::AddNode);
    cc.set_node_id(id);
    raft::Entry e;
    e.set_entry_type(eraftpb::EntryConfChange);
    e.set_term(1);
    e.set_index(++index);
    e.set_data(cc.SerializeAsString());
    entries.push_back(std::move(e));
  }
  raft::HardState hs;
  hs.set_term(1);
  hs.set_commit(index);
  wal::Status s = storage_->append(entries);
  if (s.ok()) s = storage_->sync();
  if (s.ok()) s = storage_->set_hard_state(hs);
  if (!s.ok()) {
    throw std::system_error(node_error(NodeError::kStorageFailed),
                            "cannot create the cluster in " + config_.data_dir + ": " +
                                s.message());
  }
  log_.info(raft::concat("created a new cluster of ", index, " members"));
}

void Node::Impl::start_workers(ApplyPosition position) {
  std::weak_ptr<Impl> weak = weak_from_this();
  auto disk = std::make_unique<DiskWriter>(
      *storage_,
      [weak, strand = strand_](uint64_t number) {
        asio::post(strand, [weak, number] {
          if (auto self = weak.lock()) self->on_persisted(number);
        });
      },
      [weak, strand = strand_](const wal::Status& s) {
        asio::post(strand, [weak, why = s.message()] {
          if (auto self = weak.lock()) self->fail_node(NodeError::kStorageFailed, why);
        });
      },
      [weak, strand = strand_](const raft::SnapshotMetadata& m) {
        asio::post(strand, [weak, m] {
          if (auto self = weak.lock()) self->on_snapshot_recorded(m);
        });
      });
  {
    std::lock_guard lock(parts_mutex_);  // metrics() reads the pointer from other threads
    disk_ = std::move(disk);
  }
  snapshotter_ = std::make_unique<Snapshotter>(
      *snapshots_, [weak, strand = strand_](snapshot::SnapshotInfo info, std::string error) {
        asio::post(strand, [weak, info = std::move(info), error = std::move(error)]() mutable {
          if (auto self = weak.lock()) self->on_snapshot_written(std::move(info), error);
        });
      });
  apply_ = std::make_unique<ApplyWorker>(
      *sm_, *snapshots_, config_.id, std::move(position),
      [weak, strand = strand_](ApplyOutcome outcome) {
        asio::post(strand, [weak, o = std::move(outcome)]() mutable {
          if (auto self = weak.lock()) self->on_applied(std::move(o));
        });
      },
      [weak, strand = strand_](const std::string& what) {
        asio::post(strand, [weak, what] {
          if (auto self = weak.lock()) {
            self->apply_failed_ = true;
            self->fail_node(NodeError::kStopped, "the state machine failed: " + what);
          }
        });
      });
}

void Node::Impl::start_transport() {
  std::weak_ptr<Impl> weak = weak_from_this();
  net::TransportHandler handler;
  handler.on_message = [weak](raft::Message m) {
    if (auto self = weak.lock()) self->on_message(std::move(m));
  };
  handler.on_unreachable = [weak](uint64_t peer) {
    if (auto self = weak.lock(); self && self->phase_ == Phase::kRunning) {
      self->raw_->report_unreachable(peer);
      self->schedule_ready();
    }
  };
  handler.on_snapshot_offer = [weak](const raft::Message& m, uint64_t size) {
    std::shared_ptr<Impl> self = weak.lock();
    return self ? self->accept_snapshot_offer(m, size) : nullptr;
  };
  handler.on_snapshot_received = [weak](raft::Message m) {
    if (auto self = weak.lock()) self->on_message(std::move(m));
  };
  handler.on_snapshot_sent = [weak](uint64_t peer, bool ok) {
    if (auto self = weak.lock(); self && self->phase_ == Phase::kRunning) {
      self->raw_->report_snapshot(peer, ok);
      self->schedule_ready();
    }
  };
  auto transport = std::make_unique<net::Transport>(strand_, config_.transport_options(),
                                                    std::move(handler));
  {
    std::lock_guard lock(parts_mutex_);  // metrics() reads the pointer from other threads
    transport_ = std::move(transport);
  }
  try {
    transport_->start();
  } catch (const boost::system::system_error& e) {
    // what() of std::system_error appends the reason: "cannot listen on H:P: Address already in
    // use" (Boost's own what() would add its source location).
    throw std::system_error(std::error_code(e.code()),
                            raft::concat("cannot listen on ", config_.listen.host, ":",
                                         config_.listen.port));
  }
  port_ = transport_->port();
  for (const auto& [id, address] : config_.peers) {
    if (id != config_.id && address.port != 0) transport_->set_peer(id, address);
  }
}

void Node::Impl::set_peer_address(uint64_t id, net::PeerAddress address) {
  config_.peers[id] = address;
  if (transport_ && id != config_.id && phase_ == Phase::kRunning) {
    transport_->set_peer(id, std::move(address));
  }
}

void Node::Impl::set_faults(uint64_t peer, const net::FaultRules& rules) {
  if (!transport_ || phase_ != Phase::kRunning) return;
  if (peer == 0) {
    transport_->clear_faults();
  } else {
    transport_->set_faults(peer, rules);
  }
}

void Node::Impl::stop(Waiter<Empty> w) {
  if (phase_ == Phase::kNew || (phase_ == Phase::kStopped && torn_down_)) {
    phase_ = Phase::kStopped;
    torn_down_ = true;
    std::move(w).resolve({});
    return;
  }
  // Stopping, or stopped and still tearing down: resolved when the teardown ends.
  if (phase_ == Phase::kStopped) {
    stop_waiters_.push_back(std::move(w));
    return;
  }
  stop_waiters_.push_back(std::move(w));
  if (phase_ == Phase::kStopping) return;
  log_.info("stopping");
  phase_ = Phase::kStopping;
  ticker_.cancel();
  // Commands not yet handed to the core certainly did not happen.
  for (auto& [request, command] : batch_) {
    if (auto it = proposals_.find(request); it != proposals_.end()) {
      std::move(it->second).fail(node_error(NodeError::kStopped));
      proposals_.erase(it);
    }
  }
  batch_.clear();
  maybe_finish_stop();
}

void Node::Impl::shutdown_now() {
  if (torn_down_) return;
  phase_ = Phase::kStopped;
  torn_down_ = true;
  ticker_.cancel();
  release_transport();
  if (disk_) disk_->stop();
  if (apply_) apply_->stop();
  if (snapshotter_) snapshotter_->stop();
}

// ---------------------------------------------------------------------------------------------
// Impl: requests.

uint64_t Node::Impl::leader() const { return raw_ ? raw_->raft().leader_id() : 0; }

bool Node::Impl::accepting(std::error_code& ec) const {
  if (phase_ == Phase::kRunning) return true;
  ec = node_error(failure_.value_or(NodeError::kStopped));
  return false;
}

size_t Node::Impl::pending_count() const {
  return proposals_.size() + reads_.size() + changes_.size() + transfers_.size();
}

bool Node::Impl::full() const { return pending_count() >= config_.max_pending_requests; }

void Node::Impl::propose(std::string command, Waiter<Proposed> w) {
  std::error_code ec;
  if (!accepting(ec)) return std::move(w).fail(ec);
  if (command.size() > config_.max_command_bytes) {
    return std::move(w).fail(node_error(NodeError::kInvalidArgument));
  }
  if (leader() == raft::kNone) return std::move(w).fail(node_error(NodeError::kNotLeader));
  if (full()) return std::move(w).fail(node_error(NodeError::kTooManyPending), leader());
  const uint64_t request = next_request_++;
  batch_.emplace_back(request, encode_command(RequestTag{config_.id, request}, command));
  proposals_.emplace(request, std::move(w));
  schedule_ready();
}

void Node::Impl::read_index(Waiter<uint64_t> w) {
  std::error_code ec;
  if (!accepting(ec)) return std::move(w).fail(ec);
  if (leader() == raft::kNone) return std::move(w).fail(node_error(NodeError::kNotLeader));
  if (full()) return std::move(w).fail(node_error(NodeError::kTooManyPending), leader());
  const uint64_t request = next_request_++;
  if (raw_->read_index(encode_read_context(RequestTag{config_.id, request}))) {
    return std::move(w).fail(node_error(NodeError::kDropped), leader());
  }
  reads_.emplace(request, PendingRead{std::move(w), 0});
  schedule_ready();
}

void Node::Impl::change_membership(std::vector<MemberChange> changes, bool promote,
                                   Waiter<raft::ConfState> w) {
  std::error_code ec;
  if (!accepting(ec)) return std::move(w).fail(ec);
  const raft::ConfState cs = raw_->raft().tracker().config.to_conf_state();
  auto is_voter = [&](uint64_t id) {
    return contains(cs.voters(), id) || contains(cs.voters_outgoing(), id);
  };
  auto is_learner = [&](uint64_t id) { return contains(cs.learners(), id); };
  ConfContext context;
  raft::ConfChangeV2 cc;
  std::string bad;
  for (const MemberChange& c : changes) {
    if (c.id == raft::kNone) bad = "member id 0";
    raft::ConfChangeSingle* s = cc.add_changes();
    s->set_node_id(c.id);
    switch (c.op) {
      case MemberChange::Op::kAddVoter:
        s->set_change_type(eraftpb::AddNode);
        if (promote && !is_learner(c.id)) bad = raft::concat(c.id, " is not a learner");
        if (!promote && (is_voter(c.id) || is_learner(c.id))) {
          bad = raft::concat(c.id, " is already a member");
        }
        break;
      case MemberChange::Op::kAddLearner:
        s->set_change_type(eraftpb::AddLearnerNode);
        if (is_learner(c.id)) bad = raft::concat(c.id, " is already a learner");
        break;
      case MemberChange::Op::kRemove:
        s->set_change_type(eraftpb::RemoveNode);
        if (!is_voter(c.id) && !is_learner(c.id)) bad = raft::concat(c.id, " is not a member");
        break;
    }
    if (c.op != MemberChange::Op::kRemove && !promote) {
      if (c.address.host.empty() || c.address.host.size() > 255 || c.address.port == 0) {
        bad = raft::concat("member ", c.id, " needs an address (host up to 255 bytes, port)");
      }
      context.addresses[c.id] = c.address;
    }
  }
  if (changes.empty()) bad = "no changes";
  if (!bad.empty()) {
    log_.info("refused a membership change: " + bad);
    return std::move(w).fail(node_error(NodeError::kInvalidArgument));
  }
  if (leader() == raft::kNone) return std::move(w).fail(node_error(NodeError::kNotLeader));
  if (full()) return std::move(w).fail(node_error(NodeError::kTooManyPending), leader());
  const uint64_t request = next_request_++;
  context.tag = RequestTag{config_.id, request};
  cc.set_context(encode_conf_context(context));
  if (raw_->propose_conf_change(cc)) {
    return std::move(w).fail(node_error(NodeError::kDropped), leader());
  }
  changes_.emplace(request, std::move(w));
  schedule_ready();
}

void Node::Impl::transfer_leader(uint64_t to, Waiter<Empty> w) {
  std::error_code ec;
  if (!accepting(ec)) return std::move(w).fail(ec);
  if (leader() == to) return std::move(w).resolve({});
  if (leader() == raft::kNone) return std::move(w).fail(node_error(NodeError::kNotLeader));
  if (full()) return std::move(w).fail(node_error(NodeError::kTooManyPending), leader());
  const raft::ConfState cs = raw_->raft().tracker().config.to_conf_state();
  if (!contains(cs.voters(), to)) {
    return std::move(w).fail(node_error(NodeError::kInvalidArgument), leader());
  }
  if (raw_->transfer_leader(to)) {
    return std::move(w).fail(node_error(NodeError::kDropped), leader());
  }
  transfers_.emplace(next_request_++, PendingTransfer{std::move(w), to});
  schedule_ready();
}

NodeStatus Node::Impl::status() const {
  NodeStatus s;
  s.id = config_.id;
  s.applied = applied_;
  s.pending_requests = pending_count();
  s.stopped = phase_ == Phase::kStopped || phase_ == Phase::kStopping;
  if (!raw_) return s;
  const raft::Raft& r = raw_->raft();
  s.role = r.state();
  s.term = r.term();
  s.leader = r.leader_id();
  s.commit = r.log().committed();
  s.last_index = r.log().last_index();
  s.snapshot_index = storage_->meta().snapshot().index();
  s.first_index = storage_->first_index();
  const raft::ConfState cs = r.tracker().config.to_conf_state();
  s.voters.assign(cs.voters().begin(), cs.voters().end());
  s.outgoing_voters.assign(cs.voters_outgoing().begin(), cs.voters_outgoing().end());
  s.learners.assign(cs.learners().begin(), cs.learners().end());
  if (r.state() == raft::StateRole::kLeader) {
    r.tracker().visit([&](uint64_t id, const raft::Progress& pr) {
      s.progress[id] = PeerProgress{pr.match, pr.next, raft::to_string(pr.state), pr.recent_active};
    });
  }
  return s;
}

}  // namespace framework
