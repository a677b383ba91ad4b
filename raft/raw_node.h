// The application's handle on the consensus core: a thread-unsafe, I/O-free object that the
// driver (framework/Node, or a test) calls in a loop:
//
//   tick() / step(msg) / propose(...) / read_index(...) / ...   inputs
//   if (has_ready()) {
//     Ready rd = ready();
//     1. send rd.messages at once (they never wait for this node's disk);
//     2. persist rd.snapshot, rd.entries and rd.hard_state (fsync if rd.must_sync);
//     3. send rd.persisted_messages (append and vote responses, and every message of a Ready
//        that changes term or vote: they promise durable state);
//     4. apply rd.committed_entries (and the snapshot), answer rd.read_states once applied;
//     advance(rd);   // or, with persistence and apply running elsewhere, see below
//   }
//
// Asynchronous persistence (the framework's disk thread): call advance_append_async(rd) right
// after ready(), keep calling ready() for new work, and when the writes of Ready number n are
// durable call on_persist_ready(n) (then send that Ready's persisted_messages). Writes must
// become durable in Ready order. A leader sends its appends to followers while its own write is
// in flight, and counts itself towards commit only once on_persist_ready says so.
// Committed entries are applied separately: advance_apply_to(index) after applying.
//
// Pending reads do not survive a change of leader; the caller times them out.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "raft/config.h"
#include "raft/raft.h"
#include "raft/status.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace raft {

struct Ready {
  // Ready numbers start at 1 and rise by one per ready() call.
  uint64_t number = 0;
  // Set when leader or role changed since the last Ready.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed. Term/vote changes must be synced (must_sync).
  std::optional<HardState> hard_state;
  // Reads that may be served once the state machine has applied up to their index.
  std::vector<ReadState> read_states;
  // Entries to append to stable storage (replacing any at the same or later indexes).
  EntryVec entries;
  // A snapshot from the leader to persist and then restore the state machine from.
  std::optional<Snapshot> snapshot;
  // Entries committed and durable on this node, to apply in order.
  EntryVec committed_entries;
  // Messages that may be sent before this Ready's writes are durable.
  std::vector<Message> messages;
  // Messages to send only after this Ready's writes are durable.
  std::vector<Message> persisted_messages;
  // The writes must be synced before persisted_messages leave (a term or vote change, entries
  // or a snapshot). A commit-only HardState change may be written lazily.
  bool must_sync = false;
};

class RawNode {
 public:
  // Throws std::invalid_argument on a bad config (see Config::validate), InvariantViolation on
  // inconsistent storage.
  RawNode(const Config& config, const Storage& storage);

  // --- Inputs ---
  void tick();
  // Campaign now (kProposalDropped if this node cannot: leader already, learner, ...).
  std::error_code campaign();
  // Proposes `data` to be appended to the log. kProposalDropped when there is no leader, a
  // transfer is in progress, forwarding is disabled, or the uncommitted budget is spent.
  std::error_code propose(std::string data, std::string context = {});
  // Proposes several entries in one message, so that they reach the log, the Ready and each
  // follower's MsgAppend together. All are accepted or all dropped; an empty batch is
  // kInvalidMessage.
  std::error_code propose_batch(std::vector<std::string> data);
  // Proposes a membership change (kConfChangePending if one is not yet applied). The entry's
  // context is the change's context. A change forwarded from a follower that the leader refuses
  // comes back as an empty normal entry with the same context.
  std::error_code propose_conf_change(const ConfChange& cc);
  std::error_code propose_conf_change(const ConfChangeV2& cc);
  // Applies a committed change (call when applying its entry) and returns the new ConfState.
  ConfState apply_conf_change(const ConfChange& cc);
  ConfState apply_conf_change(const ConfChangeV2& cc);
  // A message from a peer. kStepLocalMsg for local message types, kStepPeerNotFound for a
  // response from a node outside the configuration, kInvalidMessage for malformed input.
  std::error_code step(const Message& m);
  // Asks for a linearizable read; `ctx` comes back in a ReadState (it should be unique).
  std::error_code read_index(std::string ctx);
  // Asks the leader to hand leadership to `transferee`.
  std::error_code transfer_leader(uint64_t transferee);
  // Asks the leader for a snapshot (this node's state machine needs a fresh start).
  std::error_code request_snapshot();
  // The transport could not reach `id`.
  void report_unreachable(uint64_t id);
  // Sending a snapshot to `id` finished (success) or failed.
  void report_snapshot(uint64_t id, bool success);

  // --- Outputs ---
  bool has_ready() const;
  Ready ready();
  // Everything in rd is persisted, its messages sent, its committed entries applied.
  void advance(const Ready& rd);
  // rd's writes are durable; its committed entries are still being applied.
  void advance_append(const Ready& rd);
  // rd's writes are in progress; on_persist_ready(rd.number) will say when they are durable.
  // (ready() already marked rd's content as handed out, so this only documents the intent.)
  void advance_append_async(const Ready& rd);
  void on_persist_ready(uint64_t number);
  // The state machine applied everything handed out so far / up to `index`.
  void advance_apply();
  void advance_apply_to(uint64_t index);

  Status status() const { return Status::of(raft_); }
  Raft& raft() { return raft_; }
  const Raft& raft() const { return raft_; }

 private:
  // What a Ready handed out for writing, to report back to the core when it is durable.
  struct PendingWrite {
    uint64_t number;
    uint64_t last_index = 0;  // 0 if the Ready had no entries
    uint64_t last_term = 0;
    uint64_t snapshot_index = 0;  // 0 if the Ready had no snapshot
  };

  bool term_or_vote_changed(const HardState& hs) const;

  Raft raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  uint64_t next_ready_number_ = 1;
  uint64_t persisted_number_ = 0;
  // The newest Ready that changed term or vote; until it is durable, no message may leave early.
  uint64_t last_term_vote_ready_ = 0;
  std::deque<PendingWrite> pending_writes_;
};

}  // namespace raft
