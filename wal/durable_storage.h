// raft::Storage on disk: the WAL for entries, the meta store for everything else.
//
// One data directory per node:
//
//     <data_dir>/wal/    the write-ahead log (wal/wal.h)
//     <data_dir>/meta/   the LevelDB meta store (wal/meta_store.h)
//
// After a crash, open() yields exactly the state that was durable: HardState, ConfState,
// snapshot metadata and entries, so a node restarts from disk as if it had only paused.
//
// ## Reconciling the two stores at open
//
// A snapshot is recorded in the meta store first and then in the WAL (a reset record), and the
// WAL only drops segments below a snapshot already recorded, so after any crash the meta store's
// snapshot (index S, term T) is at or ahead of what the WAL knows. open() then keeps the WAL's
// entries after S if the WAL has S with term T (or S is just before its first entry), and
// otherwise resets the WAL to (S, T): its entries after S belonged to a log the snapshot replaced.
// A WAL that starts after S + 1 has lost entries: that is corruption, and so is a committed
// index past the last entry.
//
// ## Writes and durability
//
// The runtime writes after handling a Ready and before telling the core what it persisted, in
// this order, which persist() follows for a whole Ready:
//   1. apply_snapshot() for a received snapshot (meta store synced, then the WAL reset, synced);
//   2. append() the entries, then sync() them, one sync for as many Readys as are waiting;
//   3. set_hard_state(): synced when term or vote changed, not when only commit moved. It comes
//      after the entries are durable so a stored commit never points past the durable log.
//
// ## Threads
//
// One writer thread calls the write methods; the core reads (the raft::Storage methods) from its
// own thread at the same time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "raft/raw_node.h"
#include "raft/storage.h"
#include "wal/meta_store.h"
#include "wal/status.h"
#include "wal/wal.h"

namespace wal {

struct DurableStorageOptions {
  WalOptions wal;
};

// What open() found and did.
struct DurableOpenInfo {
  WalOpenInfo wal;
  // True when the data directory was empty (a new node).
  bool created = false;
  // Entries after the snapshot that the WAL held but that the snapshot replaced (reconciliation
  // above); 0 normally.
  uint64_t entries_dropped = 0;
};

// Builds a snapshot to send to node `to` covering at least `request_index` (see
// raft::Storage::snapshot); provided by the snapshot layer.
using SnapshotSource =
    std::function<raft::Result<raft::Snapshot>(uint64_t request_index, uint64_t to)>;

class DurableStorage final : public raft::Storage {
 public:
  static StatusOr<std::unique_ptr<DurableStorage>> open(const std::string& data_dir,
                                                        const NodeIdentity& identity,
                                                        const DurableStorageOptions& options,
                                                        DurableOpenInfo* info = nullptr);
  ~DurableStorage() override;

  // --- raft::Storage ---
  raft::Result<raft::RaftState> initial_state() const override;
  raft::Result<raft::EntryVec> entries(uint64_t lo, uint64_t hi, uint64_t max_size) const override;
  raft::Result<uint64_t> term(uint64_t index) const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  // From the SnapshotSource; kSnapshotTemporarilyUnavailable while none is set.
  raft::Result<raft::Snapshot> snapshot(uint64_t request_index, uint64_t to) const override;

  // --- Writes: one thread ---

  // Whether nothing was ever stored: no HardState, no ConfState, no snapshot, no entries.
  bool is_new() const;

  // The snapshot (Ready::snapshot) received from a leader: its metadata and ConfState go to the
  // meta store (synced), then the WAL is reset to its index and term (synced). Its data is the
  // snapshot layer's business. kSnapOutOfDate-like refusal (kInvalidArgument) when it is not
  // newer than the stored one.
  Status apply_snapshot(const raft::Snapshot& snapshot);

  // Appends entries (Ready::entries) to the WAL; durable after sync().
  Status append(const raft::EntryVec& entries);
  Status sync();

  // Saves the HardState; synced when term or vote changed.
  Status set_hard_state(const raft::HardState& hs);

  // Saves the ConfState after a configuration change is applied (synced); also how a new node
  // stores its first configuration.
  Status set_conf_state(const raft::ConfState& cs);

  // Records a snapshot this node made of its own state (metadata, and its ConfState as the one a
  // restart starts from; synced); compact() then drops the WAL's segments that hold only entries
  // at or below compact_index (<= the snapshot's index).
  Status record_snapshot(const raft::SnapshotMetadata& metadata);
  Status compact(uint64_t compact_index);

  // Everything a Ready asks to persist, in the order above; returns once it is durable.
  Status persist(const raft::Ready& ready);

  void set_snapshot_source(SnapshotSource source);

  const MetaStore& meta() const { return *meta_; }
  const Wal& wal() const { return *wal_; }

 private:
  DurableStorage(std::unique_ptr<MetaStore> meta, std::unique_ptr<Wal> wal);
  // Caches the stored snapshot's index and term for term(), which the core calls often.
  void remember_snapshot(const raft::SnapshotMetadata& m);

  std::unique_ptr<MetaStore> meta_;
  std::unique_ptr<Wal> wal_;
  // The stored snapshot's index and term, as one pair.
  mutable std::mutex snapshot_mu_;
  uint64_t snapshot_index_ = 0;
  uint64_t snapshot_term_ = 0;
  mutable std::mutex source_mu_;
  SnapshotSource source_;
};

}  // namespace wal
