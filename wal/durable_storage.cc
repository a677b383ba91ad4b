#include "wal/durable_storage.h"

#include <algorithm>

namespace wal {
namespace {

bool is_empty_conf_state(const raft::ConfState& cs) {
  return cs.voters_size() == 0 && cs.learners_size() == 0 && cs.voters_outgoing_size() == 0 &&
         cs.learners_next_size() == 0;
}

bool is_empty_hard_state(const raft::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

// Brings the WAL in line with the meta store's snapshot (see "Reconciling" in the header), and
// the stored commit up to the snapshot, which is committed by definition. Returns how many
// entries after the snapshot the WAL dropped.
StatusOr<uint64_t> reconcile(MetaStore& meta, Wal& wal) {
  const raft::SnapshotMetadata snap = meta.snapshot();
  const uint64_t s = snap.index();
  const uint64_t first = wal.first_index();
  const uint64_t last = wal.last_index();
  uint64_t dropped = 0;

  if (s + 1 < first) {
    return Status(Error::kCorruption,
                  raft::concat("wal: the log in ", wal.dir(), " starts at index ", first,
                               " but the latest snapshot is at index ", s, ": entries ", s + 1,
                               "..", first - 1, " are missing"));
  }
  if (s > 0) {
    // The WAL's term at s, when it knows it (0 = unknown: the log began with a replayed record).
    const raft::Result<uint64_t> wal_term = wal.term(s);
    const bool matches = wal_term.ok() && (*wal_term == snap.term() || (*wal_term == 0 && s + 1 == first));
    if (matches) {
      if (s >= first) {
        if (Status st = wal.compact(s); !st.ok()) return st;
      }
    } else {
      // Either the WAL ends before s, or its entry at s has another term: what it holds after
      // s belongs to a log the snapshot replaced.
      dropped = last > s ? last - s : 0;
      if (Status st = wal.reset(s, snap.term()); !st.ok()) return st;
      if (Status st = wal.sync(); !st.ok()) return st;
    }
  }

  raft::HardState hs = meta.hard_state();
  if (hs.commit() > std::max(s, wal.last_index())) {
    return Status(Error::kCorruption,
                  raft::concat("wal: the stored commit index ", hs.commit(),
                               " is past the last entry in ", wal.dir(), " (",
                               std::max(s, wal.last_index()), ")"));
  }
  if (hs.commit() < s) {
    hs.set_commit(s);
    MetaUpdate update;
    update.hard_state = hs;
    if (Status st = meta.save(update); !st.ok()) return st;
  }
  return dropped;
}

}  // namespace

DurableStorage::DurableStorage(std::unique_ptr<MetaStore> meta, std::unique_ptr<Wal> wal)
    : meta_(std::move(meta)), wal_(std::move(wal)) {
  remember_snapshot(meta_->snapshot());
}

void DurableStorage::remember_snapshot(const raft::SnapshotMetadata& m) {
  std::lock_guard lock(snapshot_mu_);
  snapshot_index_ = m.index();
  snapshot_term_ = m.term();
}

DurableStorage::~DurableStorage() = default;

StatusOr<std::unique_ptr<DurableStorage>> DurableStorage::open(const std::string& data_dir,
                                                               const NodeIdentity& identity,
                                                               const DurableStorageOptions& options,
                                                               DurableOpenInfo* info) {
  DurableOpenInfo local;
  if (info == nullptr) info = &local;
  *info = DurableOpenInfo{};
  FileSystem& fs = options.wal.fs != nullptr ? *options.wal.fs : posix_file_system();
  const std::string meta_dir = join_path(data_dir, "meta");
  const std::string wal_dir = join_path(data_dir, "wal");
  info->created = !fs.exists(meta_dir) && !fs.exists(wal_dir);
  if (Status st = fs.create_dirs(data_dir); !st.ok()) return st;

  // The meta store first: it checks the identity before anything in the directory is touched.
  auto meta = MetaStore::open(meta_dir, identity);
  if (!meta.ok()) return meta.status();
  auto wal = Wal::open(wal_dir, options.wal, &info->wal);
  if (!wal.ok()) return wal.status();

  auto dropped = reconcile(**meta, **wal);
  if (!dropped.ok()) return dropped.status();
  info->entries_dropped = *dropped;
  return std::unique_ptr<DurableStorage>(
      new DurableStorage(std::move(*meta), std::move(*wal)));
}

raft::Result<raft::RaftState> DurableStorage::initial_state() const {
  return raft::RaftState{meta_->hard_state(), meta_->conf_state()};
}

raft::Result<raft::EntryVec> DurableStorage::entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_size) const {
  return wal_->entries(lo, hi, max_size);
}

raft::Result<uint64_t> DurableStorage::term(uint64_t index) const {
  // The snapshot's term answers for its index even when the WAL began without knowing it. The
  // core calls this often, so it reads the cached pair rather than copying the metadata.
  uint64_t snap_index, snap_term;
  {
    std::lock_guard lock(snapshot_mu_);
    snap_index = snapshot_index_;
    snap_term = snapshot_term_;
  }
  if (index == snap_index && index + 1 == wal_->first_index()) return snap_term;
  return wal_->term(index);
}

uint64_t DurableStorage::first_index() const { return wal_->first_index(); }
uint64_t DurableStorage::last_index() const { return wal_->last_index(); }

raft::Result<raft::Snapshot> DurableStorage::snapshot(uint64_t request_index, uint64_t to) const {
  std::lock_guard lock(source_mu_);
  if (!source_) return raft::Error::kSnapshotTemporarilyUnavailable;
  return source_(request_index, to);
}

bool DurableStorage::is_new() const {
  return is_empty_hard_state(meta_->hard_state()) && is_empty_conf_state(meta_->conf_state()) &&
         meta_->snapshot().index() == 0 && wal_->last_index() == 0;
}

Status DurableStorage::apply_snapshot(const raft::Snapshot& snapshot) {
  const raft::SnapshotMetadata& m = snapshot.metadata();
  const uint64_t stored = meta_->snapshot().index();
  if (m.index() <= stored) {
    return Status(Error::kInvalidArgument,
                  raft::concat("wal: snapshot at index ", m.index(),
                               " is not newer than the stored one at ", stored));
  }
  // The snapshot's index is committed; storing the raised commit in the same batch keeps the
  // stored commit at or past the snapshot even if the Ready's HardState never gets written.
  raft::HardState hs = meta_->hard_state();
  hs.set_commit(std::max(hs.commit(), m.index()));
  MetaUpdate update;
  update.hard_state = hs;
  update.conf_state = m.conf_state();
  update.snapshot = m;
  update.force_sync = true;
  if (Status st = meta_->save(update); !st.ok()) return st;
  remember_snapshot(m);
  if (Status st = wal_->reset(m.index(), m.term()); !st.ok()) return st;
  return wal_->sync();
}

Status DurableStorage::append(const raft::EntryVec& entries) { return wal_->append(entries); }

Status DurableStorage::sync() { return wal_->sync(); }

Status DurableStorage::set_hard_state(const raft::HardState& hs) {
  MetaUpdate update;
  update.hard_state = hs;
  return meta_->save(update);
}

Status DurableStorage::set_conf_state(const raft::ConfState& cs) {
  MetaUpdate update;
  update.conf_state = cs;
  return meta_->save(update);
}

Status DurableStorage::record_snapshot(const raft::SnapshotMetadata& metadata) {
  const uint64_t stored = meta_->snapshot().index();
  if (metadata.index() <= stored) {
    return Status(Error::kInvalidArgument,
                  raft::concat("wal: snapshot at index ", metadata.index(),
                               " is not newer than the stored one at ", stored));
  }
  const raft::Result<uint64_t> t = wal_->term(metadata.index());
  if (!t.ok() || *t != metadata.term()) {
    return Status(Error::kInvalidArgument,
                  raft::concat("wal: snapshot at index ", metadata.index(), " term ",
                               metadata.term(), " does not match the log (",
                               t.ok() ? raft::concat("term ", *t) : t.error().message(), ")"));
  }
  MetaUpdate update;
  update.snapshot = metadata;
  // A restart replays the log from the snapshot, so the configuration to start from is the
  // snapshot's (the entries that built it may be compacted away).
  update.conf_state = metadata.conf_state();
  if (Status st = meta_->save(update); !st.ok()) return st;
  remember_snapshot(metadata);
  return {};
}

Status DurableStorage::compact(uint64_t compact_index) {
  const uint64_t snap = meta_->snapshot().index();
  if (compact_index > snap) {
    return Status(Error::kInvalidArgument,
                  raft::concat("wal: cannot compact to ", compact_index,
                               ": the latest snapshot is at ", snap,
                               " and lagging followers need entries after it"));
  }
  if (compact_index + 1 <= wal_->first_index()) return {};  // already compacted that far
  return wal_->compact(compact_index);
}

Status DurableStorage::persist(const raft::Ready& ready) {
  if (ready.snapshot && !raft::is_empty_snapshot(*ready.snapshot)) {
    if (Status st = apply_snapshot(*ready.snapshot); !st.ok()) return st;
  }
  if (!ready.entries.empty()) {
    if (Status st = wal_->append(ready.entries); !st.ok()) return st;
    if (Status st = wal_->sync(); !st.ok()) return st;
  }
  if (ready.hard_state) return set_hard_state(*ready.hard_state);
  return {};
}

void DurableStorage::set_snapshot_source(SnapshotSource source) {
  std::lock_guard lock(source_mu_);
  source_ = std::move(source);
}

}  // namespace wal
