#include "raft/raw_node.h"

#include <algorithm>

#include "raft/confchange/confchange.h"

namespace raft {
namespace {

Message local_message(MessageType type, uint64_t from) {
  Message m;
  m.set_msg_type(type);
  m.set_from(from);
  return m;
}

}  // namespace

RawNode::RawNode(const Config& config, const Storage& storage)
    : raft_(config, storage),
      prev_soft_state_(raft_.soft_state()),
      prev_hard_state_(raft_.hard_state()) {}

void RawNode::tick() { raft_.tick(); }

std::error_code RawNode::campaign() {
  return raft_.campaign(raft_.config().pre_vote ? CampaignType::kPreElection
                                                : CampaignType::kElection);
}

std::error_code RawNode::propose(std::string data, std::string context) {
  Message m = local_message(eraftpb::MsgPropose, raft_.id());
  Entry* e = m.add_entries();
  e->set_data(std::move(data));
  e->set_context(std::move(context));
  return raft_.step(m);
}

std::error_code RawNode::propose_batch(std::vector<std::string> data) {
  if (data.empty()) return Error::kInvalidMessage;
  Message m = local_message(eraftpb::MsgPropose, raft_.id());
  m.mutable_entries()->Reserve(static_cast<int>(data.size()));
  for (auto& d : data) m.add_entries()->set_data(std::move(d));
  return raft_.step(m);
}

std::error_code RawNode::propose_conf_change(const ConfChange& cc) {
  Message m = local_message(eraftpb::MsgPropose, raft_.id());
  Entry* e = m.add_entries();
  e->set_entry_type(eraftpb::EntryConfChange);
  e->set_data(cc.SerializeAsString());
  e->set_context(cc.context());
  return raft_.step(m);
}

std::error_code RawNode::propose_conf_change(const ConfChangeV2& cc) {
  Message m = local_message(eraftpb::MsgPropose, raft_.id());
  Entry* e = m.add_entries();
  e->set_entry_type(eraftpb::EntryConfChangeV2);
  e->set_data(cc.SerializeAsString());
  e->set_context(cc.context());
  return raft_.step(m);
}

ConfState RawNode::apply_conf_change(const ConfChange& cc) {
  return raft_.apply_conf_change(to_conf_change_v2(cc));
}

ConfState RawNode::apply_conf_change(const ConfChangeV2& cc) {
  return raft_.apply_conf_change(cc);
}

std::error_code RawNode::step(const Message& m) {
  if (is_local_msg(m.msg_type())) return Error::kStepLocalMsg;
  if (is_response_msg(m.msg_type()) && !raft_.tracker().progress.contains(m.from())) {
    return Error::kStepPeerNotFound;
  }
  return raft_.step(m);
}

std::error_code RawNode::read_index(std::string ctx) {
  Message m = local_message(eraftpb::MsgReadIndex, kNone);
  m.add_entries()->set_data(std::move(ctx));
  return raft_.step(m);
}

std::error_code RawNode::transfer_leader(uint64_t transferee) {
  // The transferee is the message's sender, as if it had asked for leadership itself.
  return raft_.step(local_message(eraftpb::MsgTransferLeader, transferee));
}

std::error_code RawNode::request_snapshot() { return raft_.request_snapshot(); }

void RawNode::report_unreachable(uint64_t id) {
  raft_.step(local_message(eraftpb::MsgUnreachable, id));
}

void RawNode::report_snapshot(uint64_t id, bool success) {
  Message m = local_message(eraftpb::MsgSnapStatus, id);
  m.set_reject(!success);
  raft_.step(m);
}

bool RawNode::term_or_vote_changed(const HardState& hs) const {
  return hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote();
}

bool RawNode::has_ready() const {
  const RaftLog& log = raft_.log();
  if (raft_.soft_state() != prev_soft_state_) return true;
  const HardState hs = raft_.hard_state();
  if (hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
      hs.commit() != prev_hard_state_.commit()) {
    return true;
  }
  return log.has_next_unstable_entries() || log.next_unstable_snapshot() != nullptr ||
         !raft_.msgs.empty() || !raft_.msgs_after_append.empty() ||
         !raft_.read_states.empty() || log.has_next_committed_entries();
}

Ready RawNode::ready() {
  Ready rd;
  rd.number = next_ready_number_++;
  RaftLog& log = raft_.log();

  if (SoftState ss = raft_.soft_state(); ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  const HardState hs = raft_.hard_state();
  const bool term_vote = term_or_vote_changed(hs);
  if (term_vote || hs.commit() != prev_hard_state_.commit()) {
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  if (term_vote) last_term_vote_ready_ = rd.number;

  rd.entries = log.next_unstable_entries();
  if (const Snapshot* snap = log.next_unstable_snapshot()) rd.snapshot = *snap;
  log.accept_unstable();
  rd.must_sync = term_vote || !rd.entries.empty() || rd.snapshot.has_value();

  rd.committed_entries = log.next_committed_entries();
  if (!rd.committed_entries.empty()) {
    uint64_t bytes = 0;
    uint64_t payload = 0;
    for (const auto& e : rd.committed_entries) {
      bytes += entry_size(e);
      payload += payload_size(e);
    }
    log.accept_applying(rd.committed_entries.back().index(), bytes);
    raft_.on_entries_applying(payload);
  }

  rd.read_states = std::move(raft_.read_states);
  raft_.read_states.clear();

  // A term or vote not yet durable (in this Ready or an earlier one still being written) holds
  // back every message: a node that forgets its vote after a crash could vote twice in a term.
  if (last_term_vote_ready_ > persisted_number_) {
    rd.persisted_messages = std::move(raft_.msgs);
    for (auto& m : raft_.msgs_after_append) rd.persisted_messages.push_back(std::move(m));
  } else {
    rd.messages = std::move(raft_.msgs);
    rd.persisted_messages = std::move(raft_.msgs_after_append);
  }
  raft_.msgs.clear();
  raft_.msgs_after_append.clear();

  PendingWrite w{rd.number};
  if (!rd.entries.empty()) {
    w.last_index = rd.entries.back().index();
    w.last_term = rd.entries.back().term();
  }
  if (rd.snapshot) w.snapshot_index = rd.snapshot->metadata().index();
  pending_writes_.push_back(w);
  return rd;
}

void RawNode::on_persist_ready(uint64_t number) {
  while (!pending_writes_.empty() && pending_writes_.front().number <= number) {
    const PendingWrite w = pending_writes_.front();
    pending_writes_.pop_front();
    if (w.snapshot_index != 0) raft_.on_persist_snapshot(w.snapshot_index);
    if (w.last_index != 0) raft_.on_persist_entries(w.last_index, w.last_term);
  }
  persisted_number_ = std::max(persisted_number_, number);
}

void RawNode::advance_append(const Ready& rd) { on_persist_ready(rd.number); }

void RawNode::advance_append_async(const Ready&) {}

void RawNode::advance(const Ready& rd) {
  advance_append(rd);
  uint64_t applied = raft_.log().applied();
  if (rd.snapshot) applied = std::max(applied, rd.snapshot->metadata().index());
  if (!rd.committed_entries.empty()) {
    applied = std::max(applied, rd.committed_entries.back().index());
  }
  if (applied > raft_.log().applied()) advance_apply_to(applied);
}

void RawNode::advance_apply() {
  // Everything handed out: committed entries, and a snapshot (which starts the log after it).
  const RaftLog& log = raft_.log();
  advance_apply_to(std::max(log.applying(), log.first_index() - 1));
}

void RawNode::advance_apply_to(uint64_t index) { raft_.applied_to(index); }

}  // namespace raft
