// The Raft state machine of one node: elections, replication, reads, leadership transfer and
// membership, as in the Raft paper and thesis (with PreVote and CheckQuorum from chapter 9).
//
// Pure and deterministic: it reacts to step(), tick() and the driver's reports, and its only
// outputs are the fields it fills (messages, read states, log changes) which RawNode hands out
// in a Ready. Same config (seed included) and same inputs give the same outputs.
//
// Roles switch a step function and a tick function, as in etcd raft:
//   follower / candidate / pre-candidate: tick_election, step_follower / step_candidate
//   leader:                               tick_heartbeat, step_leader
//
// Most users want RawNode (raw_node.h); Raft is its engine and is exposed for tests.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "raft/config.h"
#include "raft/errors.h"
#include "raft/logger.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/storage.h"
#include "raft/tracker/tracker.h"
#include "raft/types.h"

namespace raft {

// The volatile state a node reports on: who leads, and its own role.
struct SoftState {
  uint64_t leader_id = kNone;
  StateRole role = StateRole::kFollower;
  bool operator==(const SoftState&) const = default;
};

// The vote request of a transfer carries this context, so that followers grant it even while
// they still hear from the current leader.
inline constexpr std::string_view kCampaignTransfer = "CampaignTransfer";

enum class CampaignType { kPreElection, kElection, kTransfer };

class Raft {
 public:
  // Reads the initial state from `storage`, which must outlive the Raft.
  // Throws std::invalid_argument if the config is invalid, InvariantViolation if storage is
  // inconsistent (a HardState commit outside the log).
  Raft(const Config& config, const Storage& storage);

  // Handles one message, local or from a peer. Expected failures are returned, never thrown:
  // kProposalDropped, kInvalidMessage (logged), ...
  std::error_code step(const Message& m);
  // Advances the logical clock by one tick.
  void tick();

  // The driver's reports.
  // Entries up to (index, term) are durable. A leader counts itself towards commit only from
  // here on.
  void on_persist_entries(uint64_t index, uint64_t term);
  // The snapshot at `index` is durable.
  void on_persist_snapshot(uint64_t index);
  // Committed entries up to `index` are handed to the state machine (`payload_bytes` of
  // payload): the leader's uncommitted budget is freed.
  void on_entries_applying(uint64_t payload_bytes);
  // The state machine applied up to `index`. A leader in a joint configuration with auto_leave
  // proposes leaving it once the entry that entered it is applied.
  void applied_to(uint64_t index);
  // Applies a committed configuration change and returns the resulting ConfState. An invalid
  // change (which every node rejects identically) leaves the configuration as it was and is
  // logged as an error.
  ConfState apply_conf_change(const ConfChangeV2& cc);

  // Operations the application asks for (RawNode wraps them).
  // Sends a snapshot request to the leader (the state machine lost data or needs a fresh start).
  std::error_code request_snapshot();
  // Campaign at once, as if the election timer fired.
  std::error_code campaign(CampaignType type);

  // Outputs, drained by RawNode.
  // Messages that may leave before this node's pending writes are durable.
  std::vector<Message> msgs;
  // Messages that must wait until the writes of the Ready they go with are durable (append and
  // vote responses: they promise durable state).
  std::vector<Message> msgs_after_append;
  std::vector<ReadState> read_states;

  // State, read-only for callers.
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t leader_id() const { return lead_; }
  StateRole state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  uint64_t pending_request_snapshot() const { return pending_request_snapshot_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  bool is_learner() const;
  // A voter of the current configuration with a log that is not waiting for a snapshot.
  bool promotable() const;
  SoftState soft_state() const { return {lead_, state_}; }
  HardState hard_state() const;
  const RaftLog& log() const { return raft_log_; }
  RaftLog& log() { return raft_log_; }
  const ProgressTracker& tracker() const { return trk_; }
  const Config& config() const { return config_; }
  const NodeLogger& logger() const { return logger_; }
  size_t pending_reads() const { return read_only_.pending() + pending_read_index_messages_.size(); }

  // Test hooks (deterministic; they change what a real node would reach by ticking).
  void become_follower(uint64_t term, uint64_t lead);
  void become_candidate();
  void become_pre_candidate();
  void become_leader();
  void set_randomized_election_timeout(int ticks) { randomized_election_timeout_ = ticks; }

 private:
  using StepFn = std::error_code (Raft::*)(const Message&);
  using TickFn = void (Raft::*)();

  std::error_code validate(const Message& m) const;
  std::error_code step_term(const Message& m, bool* handled);
  std::error_code step_leader(const Message& m);
  std::error_code step_candidate(const Message& m);
  std::error_code step_follower(const Message& m);
  std::error_code step_leader_propose(const Message& m);
  void step_leader_read_index(const Message& m);
  void step_leader_append_response(const Message& m, Progress& pr);
  void step_leader_heartbeat_response(const Message& m, Progress& pr);
  void step_leader_transfer(const Message& m, Progress& pr);
  void handle_vote_request(const Message& m);
  void learn_commit(const Message& m);
  void attach_commit(Message& m) const;
  void handle_append_entries(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  bool restore(const Snapshot& s);

  void tick_election();
  void tick_heartbeat();
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void reset_randomized_election_timeout();
  void reset(uint64_t term);

  void hup(CampaignType t);
  void start_campaign(CampaignType t);
  quorum::VoteResult poll(uint64_t id, MessageType t, bool granted);
  bool has_unapplied_conf_changes() const;

  void send(Message m);
  bool maybe_send_append(uint64_t to, bool send_if_empty);
  void send_append(uint64_t to) { maybe_send_append(to, true); }
  bool send_snapshot(uint64_t to, Progress& pr, uint64_t request_index);
  void send_heartbeat(uint64_t to, const std::string& ctx);
  void send_timeout_now(uint64_t to);
  void send_request_snapshot();
  void forward_to_leader(const Message& m);
  void bcast_append();
  void bcast_heartbeat();
  void bcast_heartbeat_with_ctx(const std::string& ctx);
  void send_read_index_response(const Message& req, uint64_t index);
  void release_pending_read_index_messages();
  bool committed_entry_in_current_term() const;

  bool append_entry(EntryVec entries);
  bool maybe_commit();
  // maybe_commit(), and if commit moved, answer held reads and tell the followers.
  bool commit_and_broadcast();
  bool increase_uncommitted_size(const EntryVec& entries);
  void abort_leader_transfer() { lead_transferee_ = kNone; }
  ConfState switch_to_config(TrackerConfig config, ProgressMap progress);
  bool removed_from_voters() const;
  void hand_off_leadership();
  void load_state(const HardState& hs);

  Config config_;
  NodeLogger logger_;
  uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  StateRole state_ = StateRole::kFollower;
  RaftLog raft_log_;
  ProgressTracker trk_;
  ReadOnly read_only_;
  // Reads that arrived before this leader committed an entry of its term (it does not yet know
  // the commit index, thesis §6.4 step 1); answered once it does.
  std::vector<Message> pending_read_index_messages_;

  // The node leadership is being handed to, or kNone.
  uint64_t lead_transferee_ = kNone;
  // A configuration change may be proposed only when applied >= this (the index of the last
  // change proposed, or the last index when this node became leader).
  uint64_t pending_conf_index_ = 0;
  // Payload bytes of uncommitted entries in the leader's log.
  uint64_t uncommitted_size_ = 0;
  // A snapshot asked of the leader (request_snapshot), 0 if none.
  uint64_t pending_request_snapshot_ = 0;
  // MsgTimeoutNow arrived while a committed configuration change was unapplied: campaign once
  // it is applied (cleared when the term changes).
  bool campaign_when_applied_ = false;

  // Leader: ticks since it last checked quorum; others: since they last heard from a leader or
  // granted a vote.
  int election_elapsed_ = 0;
  // Leader only: ticks since the last heartbeat.
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::mt19937_64 rng_;

  StepFn step_fn_ = &Raft::step_follower;
  TickFn tick_fn_ = &Raft::tick_election;
};

}  // namespace raft
