// What an application implements: the replicated state, fed committed commands in log order.
//
// ## Threads
//
// Every method below runs on the node's apply thread, one at a time, so an implementation needs
// no locking of its own against the framework. The exception is StateSnapshot::write, which
// runs on another thread while apply() goes on (see snapshot()). A slow apply() delays the
// results of proposals, never ticks, elections or replication.
//
// ## Restart
//
// An in-memory state machine starts empty (or from the latest snapshot, through restore()) and
// the node replays the committed log into it. A durable one reports the index it has durably
// applied through durable_applied_index(); the node then skips the commands at or below it.
// Either way the core itself never persists an applied index: only the state machine knows,
// atomically with its own state, what it has applied.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "raft/types.h"

namespace framework {

// One committed command, as proposed through Node::propose().
struct Command {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string_view data;
};

// A consistent view of the state, taken on the apply thread and written out on another.
class StateSnapshot {
 public:
  virtual ~StateSnapshot() = default;
  // Serializes the view. Throws (any std::exception) on failure.
  virtual void write(std::ostream& out) = 0;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies committed commands in log order and returns one result per command, in the same
  // order: the result is what the proposer's propose() resolves with. An exception thrown here
  // is a broken state machine: the node logs it and stops, because replicas that disagree on
  // the outcome of a command can no longer be trusted.
  virtual std::vector<std::string> apply(std::span<const Command> commands) = 0;

  // The last index whose effects are durable in the state machine's own storage; 0 (the
  // default) for an in-memory state machine, which the node replays from the log.
  virtual uint64_t durable_applied_index() const { return 0; }

  // A consistent view of the state as of the last applied command. Cheap here (a copy-on-write
  // handle, a storage engine's snapshot, a copy of a small map), because apply() waits while it
  // runs; the expensive serialization happens in StateSnapshot::write on another thread.
  virtual std::unique_ptr<StateSnapshot> snapshot() = 0;

  // Replaces the whole state with one written by StateSnapshot::write. Throws on bad input.
  virtual void restore(std::istream& in) = 0;

  // Optional hooks, in log order with apply().
  // The leader is now `leader` (0: none known) in `term`.
  virtual void on_leader_change(uint64_t /*leader*/, uint64_t /*term*/) {}
  // A configuration change was applied at `index`; `conf` is the configuration now in force.
  virtual void on_membership_change(uint64_t /*index*/, const raft::ConfState& /*conf*/) {}
};

}  // namespace framework
