// The meta store: a node's small durable state, in LevelDB.
//
// ## Keys
//
// One LevelDB database (its own directory) holds, under these keys:
//
//     "identity"       cluster id u64 | node id u64 (little-endian), written once at creation
//     "hard_state"     raft HardState, protobuf
//     "conf_state"     raft ConfState, protobuf: the configuration as of the last applied change
//                      or snapshot
//     "snapshot"       raft SnapshotMetadata, protobuf: the latest snapshot's index, term and
//                      ConfState (the snapshot's data lives elsewhere, see snapshot/)
//     "format"         "1": the version of this layout
//
// A value that does not parse is corruption: open() fails naming the key. A key that is absent
// means the default (an empty HardState, ConfState or snapshot at index 0).
//
// ## Durability
//
// save() writes everything it is given in one LevelDB write batch, so a crash leaves all of it
// or none of it. The batch is synced (written and fsynced to LevelDB's log before save returns)
// when it changes the term or vote, the ConfState, the snapshot metadata, or when asked; a batch
// that only moves `commit` is not synced, because commit can be relearned from the leader
// (DESIGN.md, durability rules). An unsynced write survives a process crash (it is in the page
// cache) but maybe not a power loss.
//
// ## Threads
//
// Thread-safe: reads return copies of an in-memory cache taken under a lock that is never held
// across I/O, so a reader does not wait for a synced save; save() calls are serialized and update
// the cache after LevelDB accepts the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "raft/types.h"
#include "wal/status.h"

namespace leveldb {
class DB;
}

namespace wal {

// Which cluster and which node a data directory belongs to.
struct NodeIdentity {
  uint64_t cluster_id = 0;
  uint64_t node_id = 0;
  bool operator==(const NodeIdentity&) const = default;
};

// One atomic update; absent fields are left as they are.
struct MetaUpdate {
  std::optional<raft::HardState> hard_state;
  std::optional<raft::ConfState> conf_state;
  std::optional<raft::SnapshotMetadata> snapshot;
  // Sync even when the rules above would not.
  bool force_sync = false;
};

class MetaStore {
 public:
  // Opens the database in `dir`, creating it (and the directory) if there is none. A new store
  // records `identity` (synced). An existing one must hold the same identity: kWrongCluster or
  // kWrongNode otherwise, with both identities in the message. Both ids must be non-zero
  // (kInvalidArgument). LevelDB errors (a lock held by another process, a damaged database) are
  // kMetaStore with LevelDB's message.
  static StatusOr<std::unique_ptr<MetaStore>> open(const std::string& dir,
                                                   const NodeIdentity& identity);

  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  NodeIdentity identity() const;
  raft::HardState hard_state() const;
  raft::ConfState conf_state() const;
  raft::SnapshotMetadata snapshot() const;

  // Writes the update in one batch; synced per the rules above. On error nothing in memory
  // changes.
  Status save(const MetaUpdate& update);

  // How many save() calls synced and how many did not (tests check the rule; benchmarks report).
  uint64_t synced_writes() const;
  uint64_t unsynced_writes() const;

 private:
  MetaStore() = default;

  // Serializes save(); held across the LevelDB write (and its fsync).
  std::mutex write_mu_;
  // Guards the cached values below; never held across I/O.
  mutable std::mutex mu_;
  std::unique_ptr<leveldb::DB> db_;
  NodeIdentity identity_;
  raft::HardState hard_state_;
  raft::ConfState conf_state_;
  raft::SnapshotMetadata snapshot_;
  uint64_t synced_writes_ = 0;
  uint64_t unsynced_writes_ = 0;
};

}  // namespace wal
