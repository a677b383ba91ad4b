#include "raft/raft.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "raft/confchange/confchange.h"

namespace raft {
namespace {

uint64_t payloads_size(const EntryVec& entries) {
  uint64_t s = 0;
  for (const auto& e : entries) s += payload_size(e);
  return s;
}

}  // namespace

// --- Construction -------------------------------------------------------------------------

Raft::Raft(const Config& config, const Storage& storage)
    : config_(config),
      logger_(config.logger ? config.logger : &null_logger(), config.id),
      id_(config.id),
      raft_log_(storage, &logger_, config.max_committed_size_per_ready),
      trk_(config.max_inflight_msgs, config.max_inflight_bytes),
      rng_(config.seed ^ (config.id * 0x9E3779B97F4A7C15ULL)) {
  if (std::string why = config.validate(); !why.empty()) {
    throw std::invalid_argument("raft config: " + why);
  }
  auto state = storage.initial_state();
  if (!state) {
    logger_.fatal(concat("cannot read initial state from storage: ", state.error().message()));
  }
  ConfChangeResult restored =
      restore_conf_state(trk_, raft_log_.last_index(), state->conf_state);
  if (!restored.ok()) {
    logger_.fatal(concat("stored ConfState ", describe(state->conf_state),
                      " is invalid: ", restored.error));
  }
  switch_to_config(std::move(restored.config), std::move(restored.progress));

  const HardState& hs = state->hard_state;
  if (hs.term() != 0 || hs.vote() != 0 || hs.commit() != 0) load_state(hs);
  if (config.applied > 0) raft_log_.set_applied(config.applied);
  become_follower(term_, kNone);

  logger_.info(concat("newRaft: peers=", trk_.config.describe(), " term=", term_,
                   " commit=", raft_log_.committed(), " applied=", raft_log_.applied(),
                   " last=", raft_log_.last_index(), "/", raft_log_.last_term()));
}

void Raft::load_state(const HardState& hs) {
  if (hs.commit() < raft_log_.committed() || hs.commit() > raft_log_.last_index()) {
    logger_.fatal(concat("stored commit ", hs.commit(), " is out of range [",
                      raft_log_.committed(), ", ", raft_log_.last_index(), "]"));
  }
  raft_log_.commit_to(hs.commit());
  term_ = hs.term();
  logger_.set_term(term_);
  vote_ = hs.vote();
}

HardState Raft::hard_state() const {
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(raft_log_.committed());
  return hs;
}

bool Raft::is_learner() const {
  auto it = trk_.progress.find(id_);
  return it != trk_.progress.end() && it->second.is_learner;
}

bool Raft::promotable() const {
  auto it = trk_.progress.find(id_);
  return it != trk_.progress.end() && !it->second.is_learner &&
         !raft_log_.has_next_or_in_progress_snapshot();
}

// --- Roles --------------------------------------------------------------------------------

void Raft::reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
    logger_.set_term(term);
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  trk_.reset_votes();
  const uint64_t last = raft_log_.last_index();
  trk_.visit([&](uint64_t id, Progress& pr) {
    const bool learner = pr.is_learner;
    pr = Progress(last + 1, trk_.max_inflight(), trk_.max_inflight_bytes());
    pr.is_learner = learner;
    // This node's own entries count only once durable (on_persist_entries).
    if (id == id_) pr.match = raft_log_.persisted_index();
  });
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  campaign_when_applied_ = false;
  read_only_ = ReadOnly();
  pending_read_index_messages_.clear();
}

void Raft::reset_randomized_election_timeout() {
  const int lo = config_.effective_min_election_tick();
  const int hi = config_.effective_max_election_tick();
  randomized_election_timeout_ = lo + static_cast<int>(rng_() % static_cast<uint64_t>(hi - lo));
}

void Raft::become_follower(uint64_t term, uint64_t lead) {
  // A snapshot requested of the old leader is still wanted from the new one.
  const uint64_t pending_request_snapshot = pending_request_snapshot_;
  step_fn_ = &Raft::step_follower;
  tick_fn_ = &Raft::tick_election;
  reset(term);
  lead_ = lead;
  state_ = StateRole::kFollower;
  pending_request_snapshot_ = pending_request_snapshot;
  logger_.info(concat("became follower at term ", term_, " leader=", lead));
}

void Raft::become_candidate() {
  if (state_ == StateRole::kLeader) logger_.fatal("invalid transition [leader -> candidate]");
  step_fn_ = &Raft::step_candidate;
  tick_fn_ = &Raft::tick_election;
  reset(term_ + 1);
  vote_ = id_;
  state_ = StateRole::kCandidate;
  logger_.info(concat("became candidate at term ", term_));
}

void Raft::become_pre_candidate() {
  if (state_ == StateRole::kLeader) logger_.fatal("invalid transition [leader -> pre-candidate]");
  // PreVote changes neither term nor vote: a node that cannot win must not disrupt anyone.
  step_fn_ = &Raft::step_candidate;
  tick_fn_ = &Raft::tick_election;
  trk_.reset_votes();
  lead_ = kNone;
  state_ = StateRole::kPreCandidate;
  logger_.info(concat("became pre-candidate at term ", term_));
}

void Raft::become_leader() {
  if (state_ == StateRole::kFollower) logger_.fatal("invalid transition [follower -> leader]");
  step_fn_ = &Raft::step_leader;
  tick_fn_ = &Raft::tick_heartbeat;
  reset(term_);
  lead_ = id_;
  state_ = StateRole::kLeader;
  Progress& self = trk_.progress.at(id_);
  self.become_replicate();
  self.recent_active = true;
  // Any entry after the last index may be a configuration change this leader does not know is
  // applied; be conservative until the log up to here is applied.
  pending_conf_index_ = raft_log_.last_index();

  // An empty entry of the new term: committing it commits everything before it (§5.4.2), and
  // tells the leader its commit index (§6.4, for reads).
  Entry empty;
  if (!append_entry({empty})) logger_.fatal("empty entry was dropped");
  logger_.info(concat("became leader at term ", term_));
}

// --- Ticks --------------------------------------------------------------------------------

void Raft::tick() { (this->*tick_fn_)(); }

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    Message m;
    m.set_msg_type(eraftpb::MsgHup);
    m.set_from(id_);
    step(m);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      Message m;
      m.set_msg_type(eraftpb::MsgCheckQuorum);
      m.set_from(id_);
      step(m);
    }
    // A transfer that has not finished within an election timeout has failed (the transferee
    // is down or slow); resume taking proposals.
    if (state_ == StateRole::kLeader && lead_transferee_ != kNone) {
      logger_.info(concat("leader transfer to ", lead_transferee_, " timed out; aborting it"));
      abort_leader_transfer();
    }
    // A removed leader tries again (perhaps with another voter).
    if (state_ == StateRole::kLeader && removed_from_voters()) hand_off_leadership();
  }
  if (state_ != StateRole::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.set_msg_type(eraftpb::MsgBeat);
    m.set_from(id_);
    step(m);
  }
}

// --- Elections ----------------------------------------------------------------------------

std::error_code Raft::campaign(CampaignType type) {
  if (state_ == StateRole::kLeader) return Error::kProposalDropped;
  if (!promotable()) return Error::kProposalDropped;
  hup(type);
  return {};
}

bool Raft::has_unapplied_conf_changes() const {
  if (raft_log_.applied() >= raft_log_.committed()) return false;
  // Scan committed but unapplied entries in pages, so a long backlog is not read at once. A
  // snapshot not yet reported applied covers everything up to it (its ConfState is current).
  uint64_t lo = std::max(raft_log_.applied() + 1, raft_log_.first_index());
  const uint64_t hi = raft_log_.committed() + 1;
  constexpr uint64_t kPage = 1 << 20;
  while (lo < hi) {
    auto ents = raft_log_.slice(lo, hi, kPage);
    if (!ents) {
      logger_.fatal(concat("error scanning unapplied entries [", lo, ", ", hi,
                        "): ", ents.error().message()));
    }
    for (const auto& e : *ents) {
      if (is_conf_change_entry(e)) return true;
    }
    lo += ents->size();
  }
  return false;
}

void Raft::hup(CampaignType t) {
  if (state_ == StateRole::kLeader) {
    logger_.debug("ignoring MsgHup because already leader");
    return;
  }
  if (!promotable()) {
    logger_.warn("is unpromotable and can not campaign");
    return;
  }
  // A node must not campaign while a committed configuration change is unapplied: it might
  // win under a configuration that no longer holds.
  if (has_unapplied_conf_changes()) {
    logger_.warn(concat("cannot campaign at term ", term_,
                     " since there are still pending configuration changes to apply"));
    return;
  }
  logger_.info(concat("is starting a new election at term ", term_));
  start_campaign(t);
}

void Raft::start_campaign(CampaignType t) {
  uint64_t term;
  MessageType vote_msg;
  if (t == CampaignType::kPreElection) {
    become_pre_candidate();
    vote_msg = eraftpb::MsgRequestPreVote;
    // The term it would campaign at; its own term does not move until it wins the pre-vote.
    term = term_ + 1;
  } else {
    become_candidate();
    vote_msg = eraftpb::MsgRequestVote;
    term = term_;
  }
  if (poll(id_, vote_resp_msg_type(vote_msg), true) == quorum::VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (t == CampaignType::kPreElection) {
      start_campaign(CampaignType::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (uint64_t id : trk_.config.voters.ids()) {
    if (id == id_) continue;
    logger_.info(concat("sent ", eraftpb::MessageType_Name(vote_msg), " request to ", id,
                     " at term ", term, " for log ", raft_log_.last_term(), "/",
                     raft_log_.last_index()));
    Message m;
    m.set_msg_type(vote_msg);
    m.set_to(id);
    m.set_term(term);
    m.set_index(raft_log_.last_index());
    m.set_log_term(raft_log_.last_term());
    // A voter that missed a commit learns it here (see learn_commit).
    attach_commit(m);
    if (t == CampaignType::kTransfer) m.set_context(std::string(kCampaignTransfer));
    send(std::move(m));
  }
}

quorum::VoteResult Raft::poll(uint64_t id, MessageType t, bool granted) {
  logger_.info(concat("received ", eraftpb::MessageType_Name(t), (granted ? " grant" : " rejection"),
                   " from ", id));
  trk_.record_vote(id, granted);
  auto tally = trk_.tally_votes();
  logger_.info(concat("has received ", tally.granted, " votes and ", tally.rejected,
                   " vote rejections: ", quorum::to_string(tally.result)));
  return tally.result;
}

// --- Sending ------------------------------------------------------------------------------

void Raft::send(Message m) {
  // A forwarded MsgTransferLeader keeps its sender: it names the transferee.
  if (m.from() == kNone) m.set_from(id_);
  const MessageType t = m.msg_type();
  if (t == eraftpb::MsgRequestVote || t == eraftpb::MsgRequestVoteResponse ||
      t == eraftpb::MsgRequestPreVote || t == eraftpb::MsgRequestPreVoteResponse) {
    if (m.term() == 0) logger_.fatal(concat("term should be set when sending ", describe(m)));
  } else {
    if (m.term() != 0) logger_.fatal(concat("term should not be set when sending ", describe(m)));
    // Proposals and read requests forwarded to the leader are not bound to a term: the leader
    // takes them whatever term the follower is in.
    if (t != eraftpb::MsgPropose && t != eraftpb::MsgReadIndex) m.set_term(term_);
  }
  // Responses that promise durable state (entries appended, a vote given) wait for the writes
  // of their Ready; everything else may leave at once.
  if (t == eraftpb::MsgAppendResponse || t == eraftpb::MsgRequestVoteResponse ||
      t == eraftpb::MsgRequestPreVoteResponse) {
    msgs_after_append.push_back(std::move(m));
  } else {
    msgs.push_back(std::move(m));
  }
}

bool Raft::maybe_send_append(uint64_t to, bool send_if_empty) {
  Progress& pr = trk_.progress.at(to);
  if (pr.is_paused()) return false;

  const uint64_t prev_index = pr.next - 1;
  auto prev_term = raft_log_.term(prev_index);
  auto ents = raft_log_.entries(pr.next, config_.max_size_per_msg);
  if (!prev_term || !ents) {
    // The entries this follower needs are compacted: send a snapshot instead. Any snapshot
    // from next on lets it continue with the log that follows.
    return send_snapshot(to, pr, pr.next);
  }
  if (ents->empty() && !send_if_empty) return false;

  Message m;
  m.set_msg_type(eraftpb::MsgAppend);
  m.set_to(to);
  m.set_index(prev_index);
  m.set_log_term(*prev_term);
  m.set_commit(raft_log_.committed());
  const size_t n = ents->size();
  const uint64_t bytes = payloads_size(*ents);
  const uint64_t last = n == 0 ? prev_index : ents->back().index();
  for (auto& e : *ents) *m.add_entries() = std::move(e);
  pr.sent_entries(n, bytes, last);
  send(std::move(m));
  return true;
}

bool Raft::send_snapshot(uint64_t to, Progress& pr, uint64_t request_index) {
  if (!pr.recent_active) {
    logger_.debug(concat("ignore sending snapshot to ", to, " since it is not recently active"));
    return false;
  }
  auto snap = raft_log_.snapshot(request_index, to);
  if (!snap) {
    if (snap.error() == Error::kSnapshotTemporarilyUnavailable) {
      logger_.debug(concat("failed to send snapshot to ", to, ": temporarily unavailable"));
      return false;
    }
    logger_.fatal(concat("cannot get snapshot for ", to, ": ", snap.error().message()));
  }
  if (is_empty_snapshot(*snap)) logger_.fatal("need a non-empty snapshot");
  const uint64_t sindex = snap->metadata().index();
  logger_.info(concat("[first=", raft_log_.first_index(), " commit=", raft_log_.committed(),
                   "] sent snapshot ", sindex, "/", snap->metadata().term(), " to ", to,
                   " [", pr.describe(), "]"));
  pr.become_snapshot(sindex);
  Message m;
  m.set_msg_type(eraftpb::MsgSnapshot);
  m.set_to(to);
  *m.mutable_snapshot() = std::move(*snap);
  send(std::move(m));
  return true;
}

void Raft::send_heartbeat(uint64_t to, const std::string& ctx) {
  // A follower might not have the leader's whole committed log yet; never tell it to commit
  // past what it is known to match.
  const uint64_t commit = std::min(trk_.progress.at(to).match, raft_log_.committed());
  Message m;
  m.set_msg_type(eraftpb::MsgHeartbeat);
  m.set_to(to);
  m.set_commit(commit);
  m.set_context(ctx);
  send(std::move(m));
}

void Raft::send_timeout_now(uint64_t to) {
  Message m;
  m.set_msg_type(eraftpb::MsgTimeoutNow);
  m.set_to(to);
  send(std::move(m));
  if (state_ == StateRole::kLeader && removed_from_voters()) {
    // A removed leader's hand-off is complete: the transferee has its whole log (so it gets
    // this node's vote should the MsgTimeoutNow be lost). Stop leading, so nobody is told this
    // node leads any more.
    logger_.info(concat("handed leadership to ", to, "; stepping down"));
    become_follower(term_, kNone);
  }
}

void Raft::bcast_append() {
  trk_.visit([&](uint64_t id, Progress&) {
    if (id != id_) send_append(id);
  });
}

void Raft::bcast_heartbeat() { bcast_heartbeat_with_ctx(read_only_.last_pending_request_ctx()); }

void Raft::bcast_heartbeat_with_ctx(const std::string& ctx) {
  trk_.visit([&](uint64_t id, Progress&) {
    if (id != id_) send_heartbeat(id, ctx);
  });
}

// --- Log and commit -----------------------------------------------------------------------

bool Raft::append_entry(EntryVec entries) {
  uint64_t li = raft_log_.last_index();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].set_term(term_);
    entries[i].set_index(li + 1 + i);
  }
  if (!increase_uncommitted_size(entries)) {
    logger_.warn("appending new entries to log would exceed uncommitted entry size limit; "
                 "dropping proposal");
    return false;
  }
  raft_log_.append(entries);
  // The leader's own Progress advances when the entries are durable (on_persist_entries).
  return true;
}

bool Raft::maybe_commit() { return raft_log_.maybe_commit(trk_.committed(), term_); }

bool Raft::commit_and_broadcast() {
  if (!maybe_commit()) return false;
  // A commit in this term is what held back pending reads; followers learn the new index.
  release_pending_read_index_messages();
  bcast_append();
  return true;
}

bool Raft::increase_uncommitted_size(const EntryVec& entries) {
  const uint64_t s = payloads_size(entries);
  // Always admit one proposal into an empty budget, however large, so progress is possible.
  if (uncommitted_size_ > 0 && s > 0 &&
      (s > config_.max_uncommitted_entries_size ||
       uncommitted_size_ > config_.max_uncommitted_entries_size - s)) {
    return false;
  }
  uncommitted_size_ += s;
  return true;
}

void Raft::on_entries_applying(uint64_t payload_bytes) {
  if (state_ != StateRole::kLeader) return;
  uncommitted_size_ = payload_bytes > uncommitted_size_ ? 0 : uncommitted_size_ - payload_bytes;
}

bool Raft::committed_entry_in_current_term() const {
  return raft_log_.zero_term_on_err_compacted(raft_log_.committed()) == term_;
}

void Raft::on_persist_entries(uint64_t index, uint64_t term) {
  const uint64_t before = raft_log_.persisted_index();
  raft_log_.stable_to(index, term);
  const uint64_t after = raft_log_.persisted_index();
  if (state_ != StateRole::kLeader || after <= before) return;
  // The leader's durable prefix is part of its log, so it now counts towards a quorum.
  auto self = trk_.progress.find(id_);
  if (self == trk_.progress.end()) return;  // removed; it does not count any more
  if (self->second.maybe_update(after)) commit_and_broadcast();
}

void Raft::on_persist_snapshot(uint64_t index) {
  raft_log_.stable_snap_to(index);
}

void Raft::applied_to(uint64_t index) {
  raft_log_.applied_to(index);
  if (campaign_when_applied_ && state_ == StateRole::kFollower && !has_unapplied_conf_changes()) {
    campaign_when_applied_ = false;
    logger_.info("configuration changes applied; starting the election a transfer asked for");
    hup(CampaignType::kTransfer);
  }
  // Leave a joint configuration that asked to be left automatically, once the entry that
  // entered it (pending_conf_index) is applied.
  if (trk_.config.auto_leave && index >= pending_conf_index_ && state_ == StateRole::kLeader) {
    Message m;
    m.set_msg_type(eraftpb::MsgPropose);
    Entry* e = m.add_entries();
    e->set_entry_type(eraftpb::EntryConfChangeV2);
    e->set_data(ConfChangeV2().SerializeAsString());
    if (auto ec = step(m)) {
      logger_.debug(concat("not initiating automatic transition out of joint configuration ",
                        trk_.config.describe(), ": ", ec.message()));
    } else {
      logger_.info(concat("initiating automatic transition out of joint configuration ",
                       trk_.config.describe()));
    }
  }
}

// --- Step ---------------------------------------------------------------------------------

std::error_code Raft::validate(const Message& m) const {
  auto reject = [&](const std::string& why) -> std::error_code {
    logger_.warn(concat("rejected message: ", why, ": ", describe(m)));
    return Error::kInvalidMessage;
  };
  if (!eraftpb::MessageType_IsValid(m.msg_type())) {
    return reject(concat("unknown message type ", static_cast<int>(m.msg_type())));
  }
  if (m.to() != kNone && m.to() != id_) return reject("addressed to another node");
  const MessageType t = m.msg_type();
  // Local proposals and reads carry no sender; everything from a peer names one.
  const bool local_ok = t == eraftpb::MsgPropose || t == eraftpb::MsgReadIndex ||
                        t == eraftpb::MsgHup || t == eraftpb::MsgBeat ||
                        t == eraftpb::MsgCheckQuorum;
  if (m.from() == kNone && !local_ok) return reject("sender id 0");
  // Only this node's own requests come from itself; a peer's message naming us as sender is
  // forged or looped back.
  if (m.from() == id_ && !local_ok && t != eraftpb::MsgTransferLeader) {
    return reject("sender is this node");
  }
  // Term 0 marks messages not bound to a term: local ones, and requests forwarded to the
  // leader. Anything else with term 0 would bypass the term rules of §5.1.
  const bool termless_ok = local_ok || t == eraftpb::MsgTransferLeader ||
                           t == eraftpb::MsgUnreachable || t == eraftpb::MsgSnapStatus;
  if (m.term() == 0 && !termless_ok) return reject("term 0");
  // Terms and indexes grow by one at a time; values this large are corrupt, and accepting them
  // would let term + 1 or index + 1 wrap around.
  constexpr uint64_t kImplausible = uint64_t{1} << 62;
  if (m.term() >= kImplausible || m.index() >= kImplausible || m.commit() >= kImplausible ||
      m.log_term() >= kImplausible || m.commit_term() >= kImplausible) {
    return reject("implausibly large term or index");
  }
  if (t == eraftpb::MsgSnapshot) {
    const SnapshotMetadata& meta = m.snapshot().metadata();
    if (meta.index() >= kImplausible) return reject("implausibly large snapshot index");
    if (meta.term() > m.term()) return reject("snapshot term above message term");
    if (meta.index() != 0 && meta.term() == 0) return reject("snapshot without a term");
  }
  if (t == eraftpb::MsgPropose && m.entries_size() == 0) return reject("empty proposal");
  if (t == eraftpb::MsgReadIndex && m.entries_size() != 1) {
    return reject("read request without exactly one context entry");
  }
  if (t == eraftpb::MsgAppend) {
    // The entries must continue the log at index + 1 without gaps and with terms that never
    // fall and never pass the sender's term; anything else would corrupt the log.
    uint64_t want_index = m.index() + 1;
    uint64_t prev_term = m.log_term();
    for (const auto& e : m.entries()) {
      if (e.index() != want_index) return reject("entries not contiguous");
      if (e.term() < prev_term || e.term() > m.term()) return reject("entry terms out of order");
      if (!eraftpb::EntryType_IsValid(e.entry_type())) return reject("unknown entry type");
      prev_term = e.term();
      ++want_index;
    }
    if (m.log_term() > m.term()) return reject("log term above message term");
  }
  return {};
}

std::error_code Raft::step(const Message& m) {
  if (auto ec = validate(m)) return ec;

  switch (m.msg_type()) {
    case eraftpb::MsgRequestVote:
    case eraftpb::MsgRequestPreVote:
    case eraftpb::MsgRequestVoteResponse:
    case eraftpb::MsgRequestPreVoteResponse:
      learn_commit(m);
      break;
    default:
      break;
  }
  bool handled = false;
  if (auto ec = step_term(m, &handled); ec || handled) return ec;

  switch (m.msg_type()) {
    case eraftpb::MsgHup:
      hup(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
      return {};
    case eraftpb::MsgRequestVote:
    case eraftpb::MsgRequestPreVote:
      handle_vote_request(m);
      return {};
    default:
      return (this->*step_fn_)(m);
  }
}

// Reconciles the message's term with ours (§5.1): a higher term makes us a follower (with
// exceptions for PreVote and leases), a lower one is stale. Sets *handled if nothing is left.
std::error_code Raft::step_term(const Message& m, bool* handled) {
  const MessageType t = m.msg_type();
  if (m.term() == 0) return {};  // local message
  if (m.term() > term_) {
    if (t == eraftpb::MsgRequestVote || t == eraftpb::MsgRequestPreVote) {
      const bool force = m.context() == kCampaignTransfer;
      const bool in_lease = config_.check_quorum && lead_ != kNone &&
                            election_elapsed_ < config_.election_tick;
      if (!force && in_lease) {
        // Leader lease (thesis §4.2.3): a follower that heard from a leader within the minimum
        // election timeout ignores vote requests, so a removed or partitioned node cannot
        // depose a healthy leader.
        logger_.info(concat("ignored ", describe(m), ": lease is not expired (remaining ",
                         config_.election_tick - election_elapsed_, " ticks)"));
        *handled = true;
        return {};
      }
    }
    if (t == eraftpb::MsgRequestPreVote) {
      // A pre-vote never changes our term.
    } else if (t == eraftpb::MsgRequestPreVoteResponse && !m.reject()) {
      // A granted pre-vote carries the future term; ours moves only once the pre-vote wins.
    } else {
      logger_.info(concat("received ", describe(m), " at higher term"));
      if (t == eraftpb::MsgAppend || t == eraftpb::MsgHeartbeat || t == eraftpb::MsgSnapshot) {
        become_follower(m.term(), m.from());
      } else if (t == eraftpb::MsgRequestVote) {
        // Only hearing from a leader or granting a vote restarts the election timer (§5.2).
        // A candidate with a stale log that keeps raising the term must not keep the nodes
        // that could win from ever timing out.
        const int elapsed = election_elapsed_;
        become_follower(m.term(), kNone);
        election_elapsed_ = elapsed;
      } else {
        become_follower(m.term(), kNone);
      }
    }
    return {};
  }
  if (m.term() < term_) {
    *handled = true;
    if (t == eraftpb::MsgHeartbeat || t == eraftpb::MsgAppend) {
      // A stale leader (§5.1: a request with a stale term is rejected with our term): tell it
      // our term, so it steps down. Otherwise a node that raised its term while cut off may
      // never rejoin: with CheckQuorum or PreVote its vote requests do not move anyone's term,
      // and when its configuration is out of date they do not even reach the stale leader.
      Message resp;
      resp.set_msg_type(eraftpb::MsgAppendResponse);
      resp.set_to(m.from());
      send(std::move(resp));
    } else if (t == eraftpb::MsgRequestPreVote) {
      // Reject with our term so the pre-candidate learns it is behind.
      logger_.info(concat("rejected ", describe(m), ": lower term"));
      Message resp;
      resp.set_msg_type(eraftpb::MsgRequestPreVoteResponse);
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_reject(true);
      attach_commit(resp);
      send(std::move(resp));
    } else {
      logger_.debug(concat("ignored ", describe(m), ": lower term"));
    }
    return {};
  }
  return {};
}

void Raft::handle_vote_request(const Message& m) {
  const bool is_pre = m.msg_type() == eraftpb::MsgRequestPreVote;
  // We can vote for the sender if we already did, if we have voted for nobody and know no
  // leader this term, or (PreVote) if it campaigns for a future term.
  const bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                        (is_pre && m.term() > term_);
  Message resp;
  resp.set_msg_type(vote_resp_msg_type(m.msg_type()));
  resp.set_to(m.from());
  // §5.4.1: only a candidate whose log is at least as up-to-date as ours gets our vote.
  if (can_vote && raft_log_.is_up_to_date(m.index(), m.log_term())) {
    logger_.info(concat("cast ", eraftpb::MessageType_Name(m.msg_type()), " for ", m.from(),
                     " at term ", m.term()));
    // The response carries the request's term: for a pre-vote that is the future term the
    // candidate will use, not ours.
    resp.set_term(m.term());
    send(std::move(resp));
    if (!is_pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    logger_.info(concat("rejected ", eraftpb::MessageType_Name(m.msg_type()), " from ", m.from(),
                     " [log ", m.log_term(), "/", m.index(), ", ours ", raft_log_.last_term(),
                     "/", raft_log_.last_index(), ", vote ", vote_, "]"));
    resp.set_term(term_);
    resp.set_reject(true);
    // Tell the candidate what we know is committed: it may not know yet (configurations take
    // effect when applied), and a committed change may be what it needs to win without us.
    attach_commit(resp);
    send(std::move(resp));
  }
}

void Raft::attach_commit(Message& m) const {
  m.set_commit(raft_log_.committed());
  m.set_commit_term(raft_log_.zero_term_on_err_compacted(raft_log_.committed()));
}

void Raft::learn_commit(const Message& m) {
  // Any node may learn a commit index from any other: "entry (commit, commit_term) is
  // committed" is a fact, and by Log Matching a log holding that entry holds the same prefix.
  // Configurations take effect when applied, so a node that missed the commit of a change may
  // need a vote it cannot get (from a node the change removed), or may not know it became a
  // voter; learning the commit lets it apply the change and elect under the new one.
  if (m.commit() <= raft_log_.committed() || m.commit_term() == 0) return;
  if (!raft_log_.match_term(m.commit(), m.commit_term())) return;
  logger_.info(concat("learned commit ", m.commit(), " from ", m.from()));
  raft_log_.commit_to(m.commit());
}

// --- Leader -------------------------------------------------------------------------------

std::error_code Raft::step_leader(const Message& m) {
  switch (m.msg_type()) {
    case eraftpb::MsgBeat:
      bcast_heartbeat();
      return {};
    case eraftpb::MsgCheckQuorum:
      if (!trk_.quorum_active()) {
        logger_.warn("stepped down to follower since quorum is not active");
        become_follower(term_, kNone);
      }
      // Each check looks at one election timeout's worth of activity.
      trk_.visit([&](uint64_t id, Progress& pr) {
        if (id != id_) pr.recent_active = false;
      });
      return {};
    case eraftpb::MsgPropose:
      return step_leader_propose(m);
    case eraftpb::MsgReadIndex:
      step_leader_read_index(m);
      return {};
    default:
      break;
  }

  auto it = trk_.progress.find(m.from());
  if (it == trk_.progress.end()) {
    logger_.debug(concat("no progress available for ", m.from(), "; ignored ", describe(m)));
    return {};
  }
  Progress& pr = it->second;
  switch (m.msg_type()) {
    case eraftpb::MsgAppendResponse:
      step_leader_append_response(m, pr);
      break;
    case eraftpb::MsgHeartbeatResponse:
      step_leader_heartbeat_response(m, pr);
      break;
    case eraftpb::MsgSnapStatus:
      if (pr.state != ProgressState::kSnapshot) return {};
      if (m.reject()) pr.pending_snapshot = 0;
      pr.become_probe();
      // Wait for a heartbeat response (or the next append response) before probing, so a
      // follower still busy installing is not flooded.
      pr.probe_sent = true;
      logger_.info(concat("snapshot ", m.reject() ? "failed" : "succeeded", ", resumed sending to ",
                       m.from(), " [", pr.describe(), "]"));
      break;
    case eraftpb::MsgUnreachable:
      // The transport lost the connection: stop pipelining and probe instead.
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      logger_.debug(concat("failed to send message to ", m.from(), " because it is unreachable [",
                        pr.describe(), "]"));
      break;
    case eraftpb::MsgTransferLeader:
      step_leader_transfer(m, pr);
      break;
    default:
      break;
  }
  return {};
}

std::error_code Raft::step_leader_propose(const Message& m) {
  if (removed_from_voters()) {
    // Removed or demoted while still leading: it only hands leadership over now.
    return Error::kProposalDropped;
  }
  if (lead_transferee_ != kNone) {
    logger_.debug(concat("[term ", term_, "] transfer leadership to ", lead_transferee_,
                      " is in progress; dropping proposal"));
    return Error::kProposalDropped;
  }
  EntryVec entries(m.entries().begin(), m.entries().end());
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (!is_conf_change_entry(e)) continue;
    ConfChangeV2 cc;
    std::string refused;
    if (!decode_conf_change(e, &cc)) {
      refused = "undecodable configuration change";
    } else {
      const bool already_pending = pending_conf_index_ > raft_log_.applied();
      const bool already_joint = trk_.config.voters.is_joint();
      const bool wants_leave_joint = leaves_joint(cc);
      if (already_pending) {
        refused = concat("possible unapplied conf change at index ", pending_conf_index_,
                      " (applied to ", raft_log_.applied(), ")");
      } else if (already_joint && !wants_leave_joint) {
        refused = "must transition out of joint config first";
      } else if (!already_joint && wants_leave_joint) {
        refused = "not in joint state; refusing empty conf change";
      }
    }
    if (!refused.empty()) {
      logger_.info(concat("ignoring conf change ", describe(e), " at config ",
                       trk_.config.describe(), ": ", refused));
      // A local caller learns of the refusal now. A forwarded one cannot be answered, so its
      // entry becomes an empty normal entry that keeps its context: the proposer sees it
      // applied as a no-op and knows its change was refused.
      if (m.from() == kNone || m.from() == id_) return Error::kConfChangePending;
      Entry noop;
      noop.set_context(e.context());
      e = std::move(noop);
    } else {
      pending_conf_index_ = raft_log_.last_index() + i + 1;
    }
  }
  if (!append_entry(std::move(entries))) return Error::kProposalDropped;
  bcast_append();
  return {};
}

void Raft::send_read_index_response(const Message& req, uint64_t index) {
  if (req.from() == kNone || req.from() == id_) {
    read_states.push_back({index, req.entries(0).data()});
    return;
  }
  Message resp;
  resp.set_msg_type(eraftpb::MsgReadIndexResp);
  resp.set_to(req.from());
  resp.set_index(index);
  *resp.mutable_entries() = req.entries();
  send(std::move(resp));
}

void Raft::step_leader_read_index(const Message& m) {
  // Until it commits an entry of its own term, a new leader does not know the commit index
  // (thesis §6.4 step 1): hold the read until then. This holds for a single voter too: its own
  // commit waits for its write to be durable, so it may not know yet what earlier terms committed.
  if (!committed_entry_in_current_term()) {
    pending_read_index_messages_.push_back(m);
    return;
  }
  // A leader that is the only voter is its own quorum: no heartbeat round is needed. (A
  // removed leader in a one-voter configuration is not that voter.)
  if (trk_.is_singleton() && trk_.config.voters.contains(id_)) {
    send_read_index_response(m, raft_log_.committed());
    return;
  }
  // The lease holds only while a quorum has been heard from since the last quorum check: a leader
  // cut off from the others keeps its role until the check after that, which may come after the
  // others elected a new leader and committed a write that a lease answer would miss. Without
  // that contact, the read is confirmed by a heartbeat round, as a safe read is.
  if (config_.read_only_option == ReadOnlyOption::kLeaseBased && trk_.quorum_active()) {
    send_read_index_response(m, raft_log_.committed());
    return;
  }
  read_only_.add_request(raft_log_.committed(), m);
  // The leader acknowledges its own heartbeat.
  read_only_.recv_ack(id_, m.entries(0).data());
  bcast_heartbeat_with_ctx(m.entries(0).data());
}

void Raft::release_pending_read_index_messages() {
  if (pending_read_index_messages_.empty() || !committed_entry_in_current_term()) return;
  auto pending = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const auto& m : pending) step_leader_read_index(m);
}

void Raft::step_leader_append_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject()) {
    if (m.request_snapshot() != 0) {
      // The follower asked for a snapshot (request_snapshot) rather than entries.
      if (pr.state != ProgressState::kSnapshot) {
        pr.become_probe();
        send_snapshot(m.from(), pr, m.request_snapshot());
      }
      return;
    }
    logger_.debug(concat("received rejection ", describe(m), " [", pr.describe(), "]"));
    // Fast backtracking: the follower told us the last index whose term is <= the term we
    // probed with (reject_hint, with its term in log_term). Skip to the last index of ours
    // whose term is <= that, skipping a whole term's worth of mismatches per round trip.
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) {
      next_probe = raft_log_.find_conflict_by_term(m.reject_hint(), m.log_term()).first;
    }
    if (pr.maybe_decr_to(m.index(), next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from());
    }
    return;
  }

  if (m.index() > raft_log_.last_index()) {
    logger_.warn(concat("ignored ", describe(m), ": acknowledges past our last index ",
                     raft_log_.last_index()));
    return;
  }
  const bool old_paused = pr.is_paused();
  // A probe that finds the follower already at match also ends probing.
  if (!pr.maybe_update(m.index()) &&
      !(pr.match == m.index() && pr.state == ProgressState::kProbe)) {
    return;
  }
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.become_replicate();
      break;
    case ProgressState::kSnapshot:
      // The follower caught up past what the snapshot was for (or the log it needs is
      // available again): resume normal replication.
      if (pr.match + 1 >= raft_log_.first_index()) {
        logger_.debug(concat("recovered from needing snapshot, resumed sending to ", m.from(),
                          " [", pr.describe(), "]"));
        pr.become_probe();
        pr.become_replicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.free_le(m.index());
      break;
  }

  if (!commit_and_broadcast() && old_paused) {
    // The follower was paused and is now free: tell it the commit index and what follows.
    send_append(m.from());
  }
  // Fill the pipeline window while there is something to send.
  while (maybe_send_append(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr.match == raft_log_.last_index()) {
    logger_.info(concat("sent MsgTimeoutNow to ", m.from(), " after it caught up"));
    send_timeout_now(m.from());
  }
}

void Raft::step_leader_heartbeat_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  // The follower is alive; if the window is full, free a slot so one more append goes out.
  if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first_one();
  if (pr.match < raft_log_.last_index() || pr.state == ProgressState::kProbe) {
    send_append(m.from());
  }

  // Lease-mode reads are confirmed this way too while the lease is not held (above).
  if (m.context().empty()) return;
  const auto* acks = read_only_.recv_ack(m.from(), m.context());
  if (acks == nullptr) return;
  if (trk_.config.voters.vote_result(*acks) != quorum::VoteResult::kWon) return;
  for (const auto& rs : read_only_.advance(m.context())) {
    send_read_index_response(rs.req, rs.index);
  }
}

void Raft::step_leader_transfer(const Message& m, Progress& pr) {
  const uint64_t transferee = m.from();
  if (pr.is_learner) {
    logger_.debug(concat("ignored transferring leadership to learner ", transferee));
    return;
  }
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) {
      logger_.info(concat("transfer leadership to ", transferee,
                       " is in progress; ignored request to the same node"));
      return;
    }
    logger_.info(concat("aborted transfer leadership to ", lead_transferee_));
    abort_leader_transfer();
  }
  if (transferee == id_) {
    logger_.debug("is already leader; ignored transferring leadership to self");
    return;
  }
  logger_.info(concat("starts to transfer leadership to ", transferee));
  // The transfer must finish within an election timeout (tick_heartbeat aborts it).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr.match == raft_log_.last_index()) {
    send_timeout_now(transferee);
    logger_.info(concat("sends MsgTimeoutNow to ", transferee,
                     " immediately as it already has an up-to-date log"));
  } else {
    send_append(transferee);
  }
}

// --- Candidate ----------------------------------------------------------------------------

std::error_code Raft::step_candidate(const Message& m) {
  // Only responses of the current kind count: a pre-candidate ignores vote responses from an
  // earlier real election, and the reverse.
  const MessageType my_vote_resp = state_ == StateRole::kPreCandidate
                                       ? eraftpb::MsgRequestPreVoteResponse
                                       : eraftpb::MsgRequestVoteResponse;
  switch (m.msg_type()) {
    case eraftpb::MsgPropose:
      logger_.info(concat("no leader at term ", term_, "; dropping proposal"));
      return Error::kProposalDropped;
    case eraftpb::MsgAppend:
      become_follower(m.term(), m.from());  // a leader of this term exists
      handle_append_entries(m);
      return {};
    case eraftpb::MsgHeartbeat:
      become_follower(m.term(), m.from());
      handle_heartbeat(m);
      return {};
    case eraftpb::MsgSnapshot:
      become_follower(m.term(), m.from());
      handle_snapshot(m);
      return {};
    case eraftpb::MsgTimeoutNow:
      logger_.debug(concat("ignored MsgTimeoutNow from ", m.from(), " as a candidate"));
      return {};
    default:
      break;
  }
  if (m.msg_type() != my_vote_resp) return {};
  switch (poll(m.from(), m.msg_type(), !m.reject())) {
    case quorum::VoteResult::kWon:
      if (state_ == StateRole::kPreCandidate) {
        start_campaign(CampaignType::kElection);
      } else {
        become_leader();
        bcast_append();
      }
      break;
    case quorum::VoteResult::kLost:
      // A lost pre-vote or vote: wait for the next timeout (or a leader) as a follower.
      become_follower(term_, kNone);
      break;
    case quorum::VoteResult::kPending:
      break;
  }
  return {};
}

// --- Follower -----------------------------------------------------------------------------

std::error_code Raft::step_follower(const Message& m) {
  switch (m.msg_type()) {
    case eraftpb::MsgPropose: {
      if (lead_ == kNone) {
        logger_.info(concat("no leader at term ", term_, "; dropping proposal"));
        return Error::kProposalDropped;
      }
      if (config_.disable_proposal_forwarding) {
        logger_.info(concat("not forwarding to leader ", lead_, " at term ", term_,
                         "; dropping proposal"));
        return Error::kProposalDropped;
      }
      forward_to_leader(m);
      return {};
    }
    case eraftpb::MsgAppend:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_append_entries(m);
      return {};
    case eraftpb::MsgHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_heartbeat(m);
      return {};
    case eraftpb::MsgSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_snapshot(m);
      return {};
    case eraftpb::MsgTransferLeader: {
      if (lead_ == kNone) {
        logger_.info(concat("no leader at term ", term_, "; dropping leader transfer msg"));
        return Error::kProposalDropped;
      }
      forward_to_leader(m);
      return {};
    }
    case eraftpb::MsgTimeoutNow:
      // The leader handed us leadership: campaign at once, even inside its lease.
      if (promotable() && has_unapplied_conf_changes()) {
        // The append that told us a configuration change committed (often the leader's own
        // removal) arrived just before; campaign as soon as it is applied rather than lose
        // the hand-off and wait for an election timeout.
        logger_.info(concat("received MsgTimeoutNow from ", m.from(),
                         "; will campaign once committed configuration changes are applied"));
        campaign_when_applied_ = true;
        return {};
      }
      logger_.info(concat("received MsgTimeoutNow from ", m.from(),
                       " and starts an election to get leadership"));
      hup(CampaignType::kTransfer);
      return {};
    case eraftpb::MsgReadIndex: {
      if (lead_ == kNone) {
        logger_.info(concat("no leader at term ", term_, "; dropping index reading msg"));
        return Error::kProposalDropped;
      }
      forward_to_leader(m);
      return {};
    }
    case eraftpb::MsgReadIndexResp:
      if (m.entries_size() != 1) {
        logger_.error(concat("invalid format of MsgReadIndexResp from ", m.from(),
                          ", entries count: ", m.entries_size()));
        return Error::kInvalidMessage;
      }
      read_states.push_back({m.index(), m.entries(0).data()});
      return {};
    default:
      return {};
  }
}

void Raft::forward_to_leader(const Message& m) {
  Message fwd = m;
  fwd.set_to(lead_);
  fwd.set_term(0);  // send() stamps our term where the message type takes one
  send(std::move(fwd));
}

void Raft::send_request_snapshot() {
  Message m;
  m.set_msg_type(eraftpb::MsgAppendResponse);
  m.set_to(lead_);
  m.set_index(raft_log_.committed());
  m.set_reject(true);
  m.set_reject_hint(raft_log_.last_index());
  m.set_request_snapshot(pending_request_snapshot_);
  send(std::move(m));
}

std::error_code Raft::request_snapshot() {
  if (state_ == StateRole::kLeader) {
    logger_.info("can not request snapshot on leader; dropping request snapshot");
  } else if (lead_ == kNone) {
    logger_.info("drop request snapshot because of no leader");
  } else if (raft_log_.has_next_or_in_progress_snapshot() || pending_request_snapshot_ != 0) {
    logger_.info("there is a pending snapshot; dropping request snapshot");
  } else {
    const uint64_t index = raft_log_.last_index();
    if (raft_log_.zero_term_on_err_compacted(index) == term_) {
      pending_request_snapshot_ = index;
      send_request_snapshot();
      return {};
    }
    logger_.info("mismatched term; dropping request snapshot");
  }
  return Error::kRequestSnapshotDropped;
}

void Raft::handle_append_entries(const Message& m) {
  if (pending_request_snapshot_ != 0) {
    // Entries are no use while we wait for a snapshot; repeat the request instead.
    send_request_snapshot();
    return;
  }
  Message resp;
  resp.set_msg_type(eraftpb::MsgAppendResponse);
  resp.set_to(m.from());
  if (m.index() < raft_log_.committed()) {
    // Everything up to our commit index is already known to match.
    resp.set_index(raft_log_.committed());
    send(std::move(resp));
    return;
  }
  EntryVec entries(m.entries().begin(), m.entries().end());
  if (auto last_new = raft_log_.maybe_append(m.index(), m.log_term(), m.commit(), entries)) {
    resp.set_index(*last_new);
    send(std::move(resp));
    return;
  }
  // Log mismatch at (index, log_term). Tell the leader the last index whose term is at most
  // log_term: the leader's log cannot match ours above it (§5.3 optimisation).
  const uint64_t hint_index = std::min(m.index(), raft_log_.last_index());
  const auto [index, term] = raft_log_.find_conflict_by_term(hint_index, m.log_term());
  logger_.debug(concat("rejected MsgAppend [logterm ", m.log_term(), ", index ", m.index(),
                    "] from ", m.from(), ", hint ", index, "/", term));
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(index);
  resp.set_log_term(term);
  send(std::move(resp));
}

void Raft::handle_heartbeat(const Message& m) {
  if (m.commit() > raft_log_.last_index()) {
    // A correct leader never sends a commit past what we matched; do not trust it.
    logger_.warn(concat("ignored commit ", m.commit(), " from ", m.from(), " past last index ",
                     raft_log_.last_index()));
  } else if (m.commit() > raft_log_.committed()) {
    raft_log_.commit_to(m.commit());
  }
  Message resp;
  resp.set_msg_type(eraftpb::MsgHeartbeatResponse);
  resp.set_to(m.from());
  resp.set_context(m.context());
  send(std::move(resp));
}

void Raft::handle_snapshot(const Message& m) {
  Message resp;
  resp.set_msg_type(eraftpb::MsgAppendResponse);
  resp.set_to(m.from());
  if (!is_empty_snapshot(m.snapshot()) && restore(m.snapshot())) {
    logger_.info(concat("restored snapshot ", m.snapshot().metadata().index(), "/",
                     m.snapshot().metadata().term()));
    resp.set_index(raft_log_.last_index());
  } else {
    logger_.info(concat("ignored snapshot ", m.snapshot().metadata().index(), "/",
                     m.snapshot().metadata().term()));
    resp.set_index(raft_log_.committed());
  }
  send(std::move(resp));
}

bool Raft::restore(const Snapshot& s) {
  const SnapshotMetadata& meta = s.metadata();
  if (pending_request_snapshot_ != 0 && meta.index() <= raft_log_.first_index() - 1) {
    // This node already holds a snapshot this recent (its storage would refuse the same one
    // again): the application restores from its own, so the request is answered.
    logger_.info(concat("requested snapshot ", meta.index(),
                        " is not newer than our own; request done"));
    pending_request_snapshot_ = 0;
    return false;
  }
  // A snapshot at the commit index brings nothing new, unless this node asked for one
  // (request_snapshot).
  if (meta.index() < raft_log_.committed() ||
      (meta.index() == raft_log_.committed() && pending_request_snapshot_ == 0)) {
    return false;
  }
  if (state_ != StateRole::kFollower) {
    // Only a follower of this term's leader receives snapshots; anything else is a bug or a
    // confused peer. Step down into a new term rather than install it.
    logger_.warn("attempted to restore snapshot as leader or candidate; should never happen");
    become_follower(term_ + 1, kNone);
    return false;
  }
  const ConfState& cs = meta.conf_state();
  const auto in = [&](const auto& ids) {
    return std::find(ids.begin(), ids.end(), id_) != ids.end();
  };
  if (!in(cs.voters()) && !in(cs.learners()) && !in(cs.voters_outgoing())) {
    // Probably a snapshot from a configuration this node was removed from, or a stray one.
    logger_.warn(concat("attempted to restore snapshot but it is not in the ConfState ",
                     describe(cs), "; should never happen"));
    return false;
  }
  if (pending_request_snapshot_ == 0 && raft_log_.match_term(meta.index(), meta.term())) {
    // We already have every entry of the snapshot: just fast-forward the commit index.
    logger_.info(concat("fast-forwarded commit to snapshot ", meta.index(), "/", meta.term()));
    raft_log_.commit_to(meta.index());
    return false;
  }
  // Check the configuration before touching the log, so a bad snapshot changes nothing.
  ProgressTracker fresh(trk_.max_inflight(), trk_.max_inflight_bytes());
  ConfChangeResult restored = restore_conf_state(fresh, meta.index(), cs);
  if (!restored.ok()) {
    logger_.error(concat("rejected snapshot with invalid ConfState ", describe(cs), ": ",
                      restored.error));
    return false;
  }
  raft_log_.restore(s);
  pending_request_snapshot_ = 0;
  trk_ = std::move(fresh);
  switch_to_config(std::move(restored.config), std::move(restored.progress));
  Progress& self = trk_.progress.at(id_);
  self.maybe_update(self.next - 1);
  logger_.info(concat("switched to configuration ", trk_.config.describe()));
  return true;
}

// --- Membership ---------------------------------------------------------------------------

ConfState Raft::apply_conf_change(const ConfChangeV2& cc) {
  Changer changer(trk_, raft_log_.last_index());
  ConfChangeResult result;
  bool auto_leave = false;
  if (leaves_joint(cc)) {
    result = changer.leave_joint();
  } else if (enters_joint(cc, &auto_leave)) {
    result = changer.enter_joint(auto_leave, {cc.changes().begin(), cc.changes().end()});
  } else {
    result = changer.simple({cc.changes().begin(), cc.changes().end()});
  }
  if (!result.ok()) {
    // Every node applies the same entry and reaches the same verdict, so skipping it keeps the
    // cluster consistent.
    logger_.error(concat("ignored invalid configuration change: ", result.error));
    return trk_.conf_state();
  }
  return switch_to_config(std::move(result.config), std::move(result.progress));
}

ConfState Raft::switch_to_config(TrackerConfig config, ProgressMap progress) {
  trk_.config = std::move(config);
  trk_.progress = std::move(progress);
  logger_.info(concat("switched to configuration ", trk_.config.describe()));
  ConfState cs = trk_.conf_state();
  if ((state_ == StateRole::kCandidate || state_ == StateRole::kPreCandidate) &&
      removed_from_voters()) {
    // Removed or demoted mid-election: it may not win (and lead a configuration without it).
    logger_.info("removed from the voters while campaigning; back to follower");
    become_follower(term_, kNone);
  }
  if (state_ != StateRole::kLeader || cs.voters_size() == 0) return cs;

  // The quorum changed, so the commit index may move; and new members need their first
  // append.
  if (!commit_and_broadcast()) {
    trk_.visit([&](uint64_t id, Progress&) {
      if (id != id_) maybe_send_append(id, false);
    });
  }
  if (lead_transferee_ != kNone && !trk_.config.voters.contains(lead_transferee_)) {
    abort_leader_transfer();
  }
  if (removed_from_voters()) hand_off_leadership();
  return cs;
}

bool Raft::removed_from_voters() const { return !trk_.config.voters.contains(id_); }

// A leader that was removed or demoted keeps leading, without taking proposals, until it has
// handed leadership to a voter. Stepping down at once could leave the cluster without a
// leader: the remaining voters may not yet know the change is committed, so they still need
// this node's vote, which it refuses to any of them whose log is shorter than its own. A
// transfer first brings the transferee's log up to date, so the vote is granted.
void Raft::hand_off_leadership() {
  if (lead_transferee_ != kNone) return;
  uint64_t best = kNone;
  uint64_t best_match = 0;
  for (uint64_t id : trk_.config.voters.ids()) {
    if (id == id_) continue;
    const uint64_t match = trk_.progress.at(id).match;
    if (best == kNone || match > best_match) {
      best = id;
      best_match = match;
    }
  }
  if (best == kNone) return;
  logger_.info(concat("removed from the voters; handing leadership to ", best));
  election_elapsed_ = 0;
  lead_transferee_ = best;
  if (best_match == raft_log_.last_index()) {
    send_timeout_now(best);
  } else {
    send_append(best);
  }
}

}  // namespace raft
