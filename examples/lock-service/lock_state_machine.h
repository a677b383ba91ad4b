// The lock service's replicated state: named locks, each held by one owner.
//
// Commands (lock_command.h) acquire and release locks. A successful acquire returns a fencing
// token: the log index of the command that granted the lock. Log indexes only grow, so every
// grant carries a larger token than any grant before it, of this lock or any other. A resource
// that the lock protects remembers the largest token it has seen and refuses requests with a
// smaller one, so a client that still believes it holds a lock it lost (paused, partitioned,
// slow) is fenced off even though it cannot know it lost the lock.
//
// Rules, deterministic on every replica (no clocks, no randomness: apply() sees only the log):
// - acquire of a free lock grants it, with the command's index as token;
// - acquire by the current holder succeeds again with the token it already has, so a client
//   that retries an acquire whose outcome it did not learn gets the same tenure back;
// - acquire of a lock someone else holds fails with the holder's name;
// - release only by the holder; anyone else gets not-holder (with the holder's name), and a
//   free lock gives not-held;
// - a command that does not parse changes nothing and is answered "invalid" (never an
//   exception: an exception from apply() stops the node).
// There are no leases: a lock is held until its owner releases it. A lease would need time, and
// time in apply() must come from the log (a timestamp the leader puts in the command), which is
// more than this example needs.
//
// ## Snapshots
//
// snapshot() copies the map. The table is small (one entry per lock in use), so the copy costs
// microseconds, and apply() is paused only that long; the copy is then the consistent, immutable
// view that StateSnapshot::write serializes on the snapshot thread while apply() goes on. A
// service with millions of entries would hand over a copy-on-write handle instead (a persistent
// map, or a shared_ptr to an immutable version that the next write replaces) to make snapshot()
// O(1); for a handful of locks that is complexity without a gain.
//
// The format, one line each:
//
//     lock-service snapshot 1
//     <count>
//     <name> <owner> <token>        count lines, names in ascending order
//
// restore() checks all of it (header, count, names, tokens, order, nothing after the last line)
// and throws std::runtime_error on bad input, leaving the current state unchanged.
//
// ## Threads
//
// apply(), snapshot() and restore() run on the node's apply thread. holder() and locks() may be
// called from any thread (the service reads after Node::read_index(), on the caller's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "examples/lock-service/lock_command.h"
#include "framework/state_machine.h"

namespace lock_service {

struct LockHolder {
  std::string owner;
  uint64_t token = 0;  // the index of the command that granted the lock

  bool operator==(const LockHolder&) const = default;
};

// Lock name -> its holder; a free lock has no entry.
using LockTable = std::map<std::string, LockHolder, std::less<>>;

// The snapshot format above; read_locks throws std::runtime_error naming what is wrong.
void write_locks(std::ostream& out, const LockTable& locks);
LockTable read_locks(std::istream& in);

class LockStateMachine final : public framework::StateMachine {
 public:
  std::vector<std::string> apply(std::span<const framework::Command> commands) override;
  std::unique_ptr<framework::StateSnapshot> snapshot() override;
  void restore(std::istream& in) override;

  // Who holds `name` in this replica's state right now (nullopt: free). Linearizable only after
  // Node::read_index() on this replica's node (LockClient::holder does that).
  std::optional<LockHolder> holder(std::string_view name) const;
  // Every held lock.
  LockTable locks() const;

 private:
  LockResult execute(uint64_t index, std::string_view command);

  mutable std::mutex mu_;  // guards locks_ against the readers above
  LockTable locks_;
};

}  // namespace lock_service
