// Snapshots on the node's strand: when to take one, what happens once it is written and
// recorded, what a follower that needs one is sent, and what a received one must be to be
// accepted. The work itself runs elsewhere: the view on the apply thread, the file on the
// snapshot thread, the record and compaction on the disk thread, the streams in the transport.
#include <exception>

#include "framework/node_impl.h"

namespace asio = boost::asio;

namespace framework {
namespace {

std::error_code node_error(NodeError e) { return make_error_code(e); }

}  // namespace

void Node::Impl::open_snapshots() {
  try {
    snapshots_ = std::make_unique<snapshot::SnapshotStore>(config_.data_dir + "/snap",
                                                           config_.snapshot_keep);
  } catch (const std::exception& e) {
    throw std::system_error(node_error(NodeError::kStorageFailed),
                            "cannot open the snapshots of " + config_.data_dir + ": " + e.what());
  }
  const raft::SnapshotMetadata& snap = storage_->meta().snapshot();
  if (snap.index() > 0 && !snapshots_->find(snap.index(), snap.term())) {
    throw std::system_error(
        node_error(NodeError::kStorageFailed),
        raft::concat("data dir ", config_.data_dir, " records a snapshot at index ", snap.index(),
                     " term ", snap.term(), " but ", snapshots_->dir(), " does not hold it"));
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  storage_->set_snapshot_source([weak](uint64_t request_index, uint64_t to) {
    std::shared_ptr<Impl> self = weak.lock();
    if (!self) return raft::Result<raft::Snapshot>(raft::Error::kSnapshotTemporarilyUnavailable);
    return self->snapshot_for(request_index, to);
  });
}

// Called by the core, on the strand, when a follower needs entries this node no longer has.
raft::Result<raft::Snapshot> Node::Impl::snapshot_for(uint64_t request_index, uint64_t to) {
  if (std::optional<snapshot::SnapshotInfo> latest = snapshots_->latest()) {
    const raft::SnapshotMetadata& m = latest->metadata;
    // The follower refuses a snapshot of a configuration without it (one taken before it was
    // added): then a fresh one is needed.
    if (m.index() >= request_index && (to == raft::kNone || members_of(m.conf_state()).contains(to))) {
      raft::Snapshot s;
      *s.mutable_metadata() = m;
      return s;
    }
  }
  // While one is being taken, wait for it: the core asks again (every heartbeat round) and gets
  // it if it serves, or asks for another one then. Asking now would take a second snapshot
  // right after the first one in a cluster that keeps writing.
  if (!snapshot_in_progress_) {
    snapshot_wanted_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->maybe_take_snapshot(); });
  }
  return raft::Error::kSnapshotTemporarilyUnavailable;
}

void Node::Impl::request_snapshot(Waiter<uint64_t> w) {
  std::error_code ec;
  if (!accepting(ec)) return std::move(w).fail(ec);
  snapshot_waiters_next_.push_back(std::move(w));
  snapshot_wanted_ = true;
  maybe_take_snapshot();
}

void Node::Impl::maybe_take_snapshot() {
  if (phase_ != Phase::kRunning || snapshot_in_progress_) return;
  const bool policy =
      (config_.snapshot_entries > 0 &&
       applied_ >= last_snapshot_index_ + config_.snapshot_entries) ||
      (config_.snapshot_bytes > 0 && bytes_since_snapshot_ >= config_.snapshot_bytes);
  if (!snapshot_wanted_ && !policy) return;
  snapshot_wanted_ = false;
  snapshot_in_progress_ = true;
  bytes_since_snapshot_ = 0;
  for (auto& w : snapshot_waiters_next_) snapshot_waiters_current_.push_back(std::move(w));
  snapshot_waiters_next_.clear();
  ApplyJob job;
  job.kind = ApplyJob::Kind::kTakeSnapshot;
  job.addresses = learned_addresses_;
  for (const auto& [id, address] : config_.peers) {
    if (address.port != 0 && members_.contains(id)) job.addresses[id] = address;
  }
  submit_apply(std::move(job));
}

void Node::Impl::on_snapshot_taken(TakenSnapshot taken) {
  if (taken.metadata.index() <= last_snapshot_index_) {
    // Nothing was applied since the last snapshot: that one serves.
    snapshot_in_progress_ = false;
    for (auto& w : snapshot_waiters_current_) {
      Reply<uint64_t> r;
      r.value = last_snapshot_index_;
      std::move(w).resolve(std::move(r));
    }
    snapshot_waiters_current_.clear();
    return;
  }
  SnapshotTask task;
  task.metadata = std::move(taken.metadata);
  task.view = std::move(taken.view);
  task.addresses = std::move(taken.addresses);
  snapshotter_->submit(std::move(task));
}

void Node::Impl::on_snapshot_written(snapshot::SnapshotInfo info, const std::string& error) {
  if (phase_ == Phase::kStopped) return;
  if (!error.empty()) {
    // Not fatal: the node keeps its log and tries again at the next occasion.
    log_.error("taking a snapshot failed: " + error);
    snapshot_in_progress_ = false;
    for (auto& w : snapshot_waiters_current_) std::move(w).fail(node_error(NodeError::kStorageFailed));
    snapshot_waiters_current_.clear();
    return;
  }
  const uint64_t index = info.metadata.index();
  log_.info(raft::concat("stored a snapshot at index ", index, " (", info.body_bytes,
                         " bytes of state) in ", info.path));
  DiskJob job;
  job.record_snapshot = info.metadata;
  job.compact_index = index > config_.compaction_margin ? index - config_.compaction_margin : 0;
  disk_->submit(std::move(job));
}

void Node::Impl::on_snapshot_recorded(const raft::SnapshotMetadata& metadata) {
  if (phase_ == Phase::kStopped) return;
  last_snapshot_index_ = std::max(last_snapshot_index_, metadata.index());
  snapshot_in_progress_ = false;
  bump(counters_.snapshots_taken);
  publish_gauges();
  for (auto& w : snapshot_waiters_current_) {
    Reply<uint64_t> r;
    r.value = metadata.index();
    std::move(w).resolve(std::move(r));
  }
  snapshot_waiters_current_.clear();
  SnapshotTask prune;
  prune.kind = SnapshotTask::Kind::kPrune;
  snapshotter_->submit(std::move(prune));
  maybe_take_snapshot();  // asked for again meanwhile
}

void Node::Impl::send(raft::Message m) {
  if (m.msg_type() != eraftpb::MsgSnapshot) return transport_->send(std::move(m));
  const raft::SnapshotMetadata& md = m.snapshot().metadata();
  const uint64_t to = m.to();
  std::optional<snapshot::SnapshotInfo> info = snapshots_->find(md.index(), md.term());
  try {
    if (!info) throw snapshot::SnapshotError("pruned meanwhile");
    log_.info(raft::concat("sending the snapshot at index ", md.index(), " (", info->file_bytes,
                           " bytes) to ", to));
    transport_->send_snapshot(std::move(m), snapshot_source(snapshots_->open_raw(*info)));
  } catch (const std::exception& e) {
    log_.warn(raft::concat("cannot send the snapshot at index ", md.index(), " to ", to, ": ",
                           e.what()));
    raw_->report_snapshot(to, false);
  }
}

// On the transport's snapshot thread: only thread-safe state is touched (the commit mirror, the
// store), and the log lines go straight to the logger (the strand's NodeLogger tracks the term
// and is not thread-safe).
std::unique_ptr<net::SnapshotSink> Node::Impl::accept_snapshot_offer(const raft::Message& m,
                                                                     uint64_t size) {
  auto log = [&](raft::LogLevel level, const std::string& line) {
    if (config_.logger && level >= config_.logger->level()) {
      config_.logger->log(level, config_.id, m.term(), line);
    }
  };
  const raft::SnapshotMetadata& md = m.snapshot().metadata();
  const uint64_t committed = committed_mirror_.load();
  if (md.index() <= committed) {
    log(raft::LogLevel::kInfo, raft::concat("refused a snapshot at index ", md.index(), " from ",
                                            m.from(), ": this node has committed up to ",
                                            committed));
    return nullptr;
  }
  try {
    log(raft::LogLevel::kInfo, raft::concat("receiving a snapshot at index ", md.index(), " (",
                                            size, " bytes) from ", m.from()));
    return snapshot_sink(snapshots_->receive(md));
  } catch (const std::exception& e) {
    log(raft::LogLevel::kError, raft::concat("cannot receive a snapshot: ", e.what()));
    return nullptr;
  }
}

void Node::Impl::connect_member(uint64_t id) {
  if (id == config_.id) return;
  auto configured = config_.peers.find(id);
  if (configured != config_.peers.end() && configured->second.port != 0) {
    transport_->set_peer(id, configured->second);
  } else if (auto learned = learned_addresses_.find(id); learned != learned_addresses_.end()) {
    transport_->set_peer(id, learned->second);
  }
}

}  // namespace framework
