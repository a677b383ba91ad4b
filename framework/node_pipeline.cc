// The node's pipeline on its strand: ticks and peer messages go into the core; each Ready is
// split into messages to send now, writes for the disk thread (with the messages that must wait
// for them), and committed entries for the apply thread; the threads' reports come back here
// and resolve the requests waiting on them.
#include <algorithm>
#include <set>

#include "framework/node_impl.h"
#include "raft/types.h"

namespace asio = boost::asio;

namespace framework {
namespace {

std::error_code node_error(NodeError e) { return make_error_code(e); }

}  // namespace

void Node::Impl::arm_ticker() {
  if (phase_ != Phase::kRunning) return;
  ticker_.expires_after(config_.tick_interval);
  ticker_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->phase_ != Phase::kRunning) return;
    self->on_tick();
    self->arm_ticker();
  });
}

void Node::Impl::on_tick() {
  ++ticks_;
  for (auto it = peers_to_remove_.begin(); it != peers_to_remove_.end();) {
    if (it->second <= ticks_) {
      transport_->remove_peer(it->first);
      it = peers_to_remove_.erase(it);
    } else {
      ++it;
    }
  }
  if (stop_at_tick_ != 0 && ticks_ >= stop_at_tick_) {
    fail_node(NodeError::kRemoved, "this node was removed from the cluster; stopped");
    return;
  }
  raw_->tick();
  expire_requests();
  publish_gauges();
  schedule_ready();
}

void Node::Impl::on_message(raft::Message m) {
  if (phase_ != Phase::kRunning) return;
  if (std::error_code ec = raw_->step(m); ec && log_.enabled(raft::LogLevel::kDebug)) {
    log_.debug(raft::concat("ignored ", raft::describe(m), ": ", ec.message()));
  }
  schedule_ready();
}

// Everything that arrives while a run is queued (messages, proposals, reports) is handled by
// that one run: that is what turns many proposals into one Ready, one sync and one message per
// follower.
void Node::Impl::schedule_ready() {
  if (ready_scheduled_ || phase_ != Phase::kRunning) return;
  ready_scheduled_ = true;
  asio::post(strand_, [self = shared_from_this()] {
    self->ready_scheduled_ = false;
    self->run_ready();
  });
}

void Node::Impl::run_ready() {
  if (phase_ != Phase::kRunning) return;
  flush_proposals();
  while (phase_ == Phase::kRunning && raw_->has_ready()) handle_ready(raw_->ready());
  publish_gauges();
}

void Node::Impl::flush_proposals() {
  size_t begin = 0;
  while (begin < batch_.size()) {
    // One MsgPropose per max_size_per_msg bytes, so a forwarded batch stays a sane frame.
    size_t end = begin;
    uint64_t bytes = 0;
    std::vector<std::string> data;
    while (end < batch_.size() && (end == begin || bytes + batch_[end].second.size() <=
                                                       config_.max_size_per_msg)) {
      bytes += batch_[end].second.size();
      data.push_back(std::move(batch_[end].second));
      ++end;
    }
    if (raw_->propose_batch(std::move(data))) {
      const uint64_t lead = leader();
      const NodeError e = lead == raft::kNone ? NodeError::kNotLeader : NodeError::kDropped;
      for (size_t i = begin; i < end; ++i) {
        if (auto it = proposals_.find(batch_[i].first); it != proposals_.end()) {
          std::move(it->second).fail(node_error(e), lead);
          proposals_.erase(it);
        }
      }
    }
    begin = end;
  }
  batch_.clear();
}

void Node::Impl::handle_ready(raft::Ready rd) {
  if (rd.hard_state && rd.hard_state->term() != term_) {
    term_ = rd.hard_state->term();
    log_.set_term(term_);
  }
  if (rd.soft_state && rd.soft_state->leader_id != leader_) {
    on_leader_change(rd.soft_state->leader_id, raw_->raft().term());
  }
  for (raft::Message& m : rd.messages) send(std::move(m));
  committed_mirror_.store(raw_->raft().log().committed());

  for (const raft::ReadState& rs : rd.read_states) {
    std::optional<RequestTag> tag = decode_read_context(rs.request_ctx);
    if (!tag || tag->origin != config_.id) continue;
    const std::optional<uint64_t> request = tag->request;
    if (auto it = reads_.find(*request); it != reads_.end()) {
      it->second.index = rs.index;
      read_queue_.emplace(rs.index, *request);
    }
  }

  const bool writes = !rd.entries.empty() || rd.hard_state || rd.snapshot;
  if (!writes && last_ready_persisted_ == last_ready_submitted_) {
    // Nothing to write and nothing in flight: this Ready is durable as it stands.
    last_ready_persisted_ = last_ready_submitted_ = rd.number;
    raw_->on_persist_ready(rd.number);
    for (raft::Message& m : rd.persisted_messages) send(std::move(m));
  } else {
    if (!rd.persisted_messages.empty()) {
      held_messages_.emplace_back(rd.number, std::move(rd.persisted_messages));
    }
    DiskJob job;
    job.ready_number = rd.number;
    job.entries = std::move(rd.entries);
    job.hard_state = std::move(rd.hard_state);
    job.snapshot = rd.snapshot;  // metadata only: the data is in the snapshot store
    disk_->submit(std::move(job));
    last_ready_submitted_ = rd.number;
  }

  if (rd.snapshot) {
    // The state machine restores from the received file once the snapshot is durable here, so
    // that a crash never leaves a state machine ahead of the node's storage.
    ApplyJob job;
    job.kind = ApplyJob::Kind::kRestore;
    job.snapshot = rd.snapshot->metadata();
    set_members(members_of(job.snapshot.conf_state()));
    held_restores_.emplace_back(rd.number, std::move(job));
  }
  if (!rd.committed_entries.empty()) hand_out_committed(std::move(rd.committed_entries));
  resolve_applied();
}

void Node::Impl::hand_out_committed(raft::EntryVec entries) {
  ApplyJob job;
  for (const raft::Entry& e : entries) {
    bytes_since_snapshot_ += e.data().size();
    if (raft::is_conf_change_entry(e)) {
      apply_conf_entry(e, job);
    } else if (e.data().empty() && !e.context().empty()) {
      // A change forwarded to the leader and refused there comes back as an empty entry.
      std::optional<ConfContext> ctx = decode_conf_context(e.context());
      if (ctx && ctx->tag.origin == config_.id) {
        conf_outcomes_.push_back(
            ConfOutcome{ctx->tag.request, e.index(), node_error(NodeError::kDropped), {}});
      }
    }
  }
  bump(counters_.entries_applied, entries.size());
  job.entries = std::move(entries);
  submit_apply(std::move(job));
}

// A committed configuration change takes effect in the core when it is handed out for applying
// (the state machine hears of it in log order, through on_membership_change).
void Node::Impl::apply_conf_entry(const raft::Entry& e, ApplyJob& job) {
  raft::ConfState cs;
  std::string context;
  bool parsed = false;
  if (e.entry_type() == eraftpb::EntryConfChange) {
    raft::ConfChange cc;
    if ((parsed = cc.ParseFromString(e.data()))) {
      cs = raw_->apply_conf_change(cc);
      context = cc.context();
    }
  } else {
    raft::ConfChangeV2 cc;
    if ((parsed = cc.ParseFromString(e.data()))) {
      cs = raw_->apply_conf_change(cc);
      context = cc.context();
    }
  }
  if (!parsed) {
    // Every member skips the same entry, so they stay in agreement.
    log_.error(raft::concat("skipped an unparseable configuration change at index ", e.index()));
    return;
  }
  job.conf_states[e.index()] = cs;

  std::optional<ConfContext> ctx = decode_conf_context(context);
  if (ctx) {
    for (const auto& [id, address] : ctx->addresses) learned_addresses_[id] = address;
  }
  const std::set<uint64_t> now = members_of(cs);
  // Only the newest change counts: a node removed once and added back later replays its old
  // removal on the way to its re-addition.
  if (!now.contains(config_.id)) {
    if (members_.contains(config_.id)) removed_at_ = e.index();
  } else {
    removed_at_ = 0;
  }
  set_members(now);
  if (ctx && ctx->tag.origin == config_.id) {
    conf_outcomes_.push_back(ConfOutcome{ctx->tag.request, e.index(), {}, cs});
  }
}

void Node::Impl::set_members(std::set<uint64_t> now) {
  // A removed peer is disconnected only after a grace period: the message that tells it the
  // removal committed leaves in the same Ready, and closing at once would drop it from the queue
  // (the removed node would then never learn of its removal and never stop).
  for (uint64_t id : members_) {
    if (!now.contains(id) && id != config_.id) {
      peers_to_remove_[id] = ticks_ + removal_grace_ticks();
    }
  }
  for (uint64_t id : now) {
    peers_to_remove_.erase(id);
    if (!members_.contains(id)) connect_member(id);
  }
  members_ = std::move(now);
}

void Node::Impl::on_leader_change(uint64_t leader, uint64_t term) {
  log_.info(raft::concat("leader is now ", leader, " in term ", term));
  leader_ = leader;
  bump(counters_.leader_changes);
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (it->second.to == leader) {
      std::move(it->second.waiter).resolve({});
      it = transfers_.erase(it);
    } else if (leader != raft::kNone) {
      // Another node won: the transfer did not happen (the caller may ask again).
      std::move(it->second.waiter).fail(node_error(NodeError::kDropped), leader);
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
  // A ReadIndex not yet answered was lost with the old leadership: the caller may retry.
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.index == 0) {
      std::move(it->second.waiter).fail(node_error(NodeError::kDropped), leader);
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
  ApplyJob job;
  job.kind = ApplyJob::Kind::kLeaderChange;
  job.leader = leader;
  job.term = term;
  submit_apply(std::move(job));
}

void Node::Impl::submit_apply(ApplyJob job) {
  apply_->submit(std::move(job));
  ++apply_jobs_submitted_;
}

void Node::Impl::on_persisted(uint64_t ready_number) {
  if (phase_ == Phase::kStopped) return;
  last_ready_persisted_ = ready_number;
  raw_->on_persist_ready(ready_number);
  while (!held_restores_.empty() && held_restores_.front().first <= ready_number) {
    submit_apply(std::move(held_restores_.front().second));
    held_restores_.pop_front();
  }
  while (!held_messages_.empty() && held_messages_.front().first <= ready_number) {
    for (raft::Message& m : held_messages_.front().second) send(std::move(m));
    held_messages_.pop_front();
  }
  maybe_finish_stop();
  schedule_ready();
}

void Node::Impl::on_applied(ApplyOutcome outcome) {
  if (phase_ == Phase::kStopped) return;
  ++apply_jobs_done_;
  if (outcome.job == ApplyJob::Kind::kRestore) {
    last_snapshot_index_ = std::max(last_snapshot_index_, outcome.applied_index);
  }
  if (outcome.restored_addresses) {
    for (auto& [id, address] : *outcome.restored_addresses) learned_addresses_[id] = address;
    for (uint64_t id : members_) connect_member(id);
  }
  if (outcome.job == ApplyJob::Kind::kTakeSnapshot) {
    if (outcome.taken) {
      on_snapshot_taken(std::move(*outcome.taken));
    } else {
      // Nothing applied yet: there is nothing to take.
      snapshot_in_progress_ = false;
      for (auto& w : snapshot_waiters_current_) std::move(w).fail(node_error(NodeError::kDropped));
      snapshot_waiters_current_.clear();
    }
  }
  if (outcome.applied_index > applied_) {
    applied_ = outcome.applied_index;
    raw_->advance_apply_to(applied_);
  }
  for (CommandOutcome& c : outcome.commands) {
    if (auto it = proposals_.find(c.request); it != proposals_.end()) {
      Reply<Proposed> r;
      r.value = Proposed{c.index, std::move(c.result)};
      std::move(it->second).resolve(std::move(r));
      proposals_.erase(it);
    }
  }
  resolve_applied();
  maybe_take_snapshot();
  if (removed_at_ != 0 && applied_ >= removed_at_ && applied_ >= raw_->raft().log().committed() &&
      phase_ == Phase::kRunning && stop_at_tick_ == 0) {
    // Stay up a little longer so the messages of the removal (a leader's commit) still leave.
    log_.info("this node was removed from the cluster; stopping shortly");
    stop_at_tick_ = ticks_ + removal_grace_ticks();
  }
  maybe_finish_stop();
  publish_gauges();
  schedule_ready();
}

void Node::Impl::resolve_applied() {
  while (!conf_outcomes_.empty() && conf_outcomes_.front().index <= applied_) {
    ConfOutcome& o = conf_outcomes_.front();
    if (auto it = changes_.find(o.request); it != changes_.end()) {
      Reply<raft::ConfState> r;
      r.error = o.error;
      r.leader = leader();
      r.value = std::move(o.conf);
      std::move(it->second).resolve(std::move(r));
      changes_.erase(it);
    }
    conf_outcomes_.pop_front();
  }
  while (!read_queue_.empty() && read_queue_.begin()->first <= applied_) {
    const auto [index, request] = *read_queue_.begin();
    read_queue_.erase(read_queue_.begin());
    if (auto it = reads_.find(request); it != reads_.end()) {
      Reply<uint64_t> r;
      r.value = index;
      std::move(it->second.waiter).resolve(std::move(r));
      reads_.erase(it);
    }
  }
}

namespace {

// Fails and removes every entry of `table` whose deadline passed.
template <typename Map, typename GetWaiter>
void expire(Map& table, std::chrono::steady_clock::time_point now, uint64_t leader,
            GetWaiter waiter_of) {
  for (auto it = table.begin(); it != table.end();) {
    auto& w = waiter_of(it->second);
    if (w.deadline() <= now) {
      std::move(w).fail(node_error(NodeError::kTimeout), leader);
      it = table.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace

void Node::Impl::expire_requests() {
  const auto now = Clock::now();
  const uint64_t lead = leader();
  expire(proposals_, now, lead, [](auto& w) -> auto& { return w; });
  expire(reads_, now, lead, [](PendingRead& r) -> auto& { return r.waiter; });
  expire(changes_, now, lead, [](auto& w) -> auto& { return w; });
  expire(transfers_, now, lead, [](PendingTransfer& t) -> auto& { return t.waiter; });
}

void Node::Impl::fail_node(NodeError error, const std::string& why) {
  if (phase_ == Phase::kStopped || failure_) return;
  if (error == NodeError::kRemoved) {
    log_.info(why);
  } else {
    log_.error(why);
  }
  failure_ = error;
  phase_ = Phase::kStopping;
  ticker_.cancel();
  fail_all(node_error(error));
  maybe_finish_stop();
}

void Node::Impl::maybe_finish_stop() {
  if (phase_ != Phase::kStopping) return;
  const bool disk_done = last_ready_persisted_ >= last_ready_submitted_ ||
                         failure_ == NodeError::kStorageFailed;
  const bool apply_done = apply_jobs_done_ >= apply_jobs_submitted_ || apply_failed_;
  if (disk_done && apply_done) finish_stop();
}

void Node::Impl::fail_all(std::error_code ec) {
  const uint64_t lead = leader();
  for (auto& [id, w] : proposals_) std::move(w).fail(ec, lead);
  for (auto& [id, r] : reads_) std::move(r.waiter).fail(ec, lead);
  for (auto& [id, w] : changes_) std::move(w).fail(ec, lead);
  for (auto& [id, t] : transfers_) std::move(t.waiter).fail(ec, lead);
  for (auto& w : snapshot_waiters_next_) std::move(w).fail(ec, lead);
  for (auto& w : snapshot_waiters_current_) std::move(w).fail(ec, lead);
  snapshot_waiters_next_.clear();
  snapshot_waiters_current_.clear();
  proposals_.clear();
  reads_.clear();
  read_queue_.clear();
  changes_.clear();
  conf_outcomes_.clear();
  transfers_.clear();
  batch_.clear();
}

void Node::Impl::finish_stop() {
  fail_all(node_error(failure_.value_or(NodeError::kStopped)));
  phase_ = Phase::kStopped;
  held_messages_.clear();
  held_restores_.clear();
  transport_->stop([self = shared_from_this()] {
    self->disk_->stop();
    self->apply_->stop();
    self->snapshotter_->stop();
    self->torn_down_ = true;
    self->log_.info("stopped");
    for (Waiter<Empty>& w : self->stop_waiters_) std::move(w).resolve({});
    self->stop_waiters_.clear();
  });
}

}  // namespace framework
