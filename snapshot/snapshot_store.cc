#include "snapshot/snapshot_store.h"

#include <algorithm>
#include <utility>

#include "snapshot/file_io.h"
#include "snapshot/readers.h"
#include "snapshot/snapshot_format.h"
#include "snapshot/stored_file.h"
#include "snapshot/writers.h"

namespace snapshot {
namespace {

// Newest first: by index, then term.
bool newer(const SnapshotInfo& a, const SnapshotInfo& b) {
  if (a.metadata.index() != b.metadata.index()) return a.metadata.index() > b.metadata.index();
  return a.metadata.term() > b.metadata.term();
}

bool same_id(const SnapshotInfo& a, uint64_t index, uint64_t term) {
  return a.metadata.index() == index && a.metadata.term() == term;
}

void check_index(const raft::SnapshotMetadata& m, const std::string& dir) {
  if (m.index() == 0) {
    throw SnapshotError("snapshot store " + dir + ": a snapshot at index 0 (no snapshot)");
  }
}

}  // namespace

SnapshotStore::SnapshotStore(std::string dir, size_t keep) : dir_(std::move(dir)), keep_(keep) {
  if (keep_ == 0) throw SnapshotError("snapshot store " + dir_ + ": keep must be at least 1");
  io::create_dirs(dir_);
  bool removed = false;
  for (const std::string& name : io::list_dir(dir_)) {
    if (format::is_temp_name(name)) {
      removed |= io::remove(io::join(dir_, name));
    } else if (const auto id = format::parse_name(name)) {
      snapshots_.push_back(describe_file(io::join(dir_, name), id->index, id->term));
    }
  }
  // The removals need not survive a power loss (a .tmp that comes back is removed again), but
  // syncing here keeps a later crash from finding them half gone.
  if (removed) io::sync_dir(dir_);
  std::sort(snapshots_.begin(), snapshots_.end(), newer);
}

SnapshotInfo SnapshotStore::describe_file(const std::string& path, uint64_t index, uint64_t term) {
  try {
    SnapshotInfo info = open_stored(path).info;
    // open_stored checked that the metadata agrees with the name.
    return info;
  } catch (const SnapshotError&) {
    // Damaged (or unreadable): listed all the same, by its name, so that whoever opens it
    // learns why; nothing of its content is handed out.
    SnapshotInfo info;
    info.metadata.set_index(index);
    info.metadata.set_term(term);
    info.path = path;
    info.file_bytes = io::file_size_or_zero(path);
    return info;
  }
}

std::vector<SnapshotInfo> SnapshotStore::list() const {
  std::lock_guard lock(mu_);
  return snapshots_;
}

std::optional<SnapshotInfo> SnapshotStore::latest() const {
  std::lock_guard lock(mu_);
  if (snapshots_.empty()) return std::nullopt;
  return snapshots_.front();
}

std::optional<SnapshotInfo> SnapshotStore::find(uint64_t index, uint64_t term) const {
  std::lock_guard lock(mu_);
  for (const SnapshotInfo& s : snapshots_) {
    if (same_id(s, index, term)) return s;
  }
  return std::nullopt;
}

WriteHook SnapshotStore::hook() const {
  std::lock_guard lock(mu_);
  return hook_;
}

void SnapshotStore::set_write_hook(WriteHook hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

std::unique_ptr<SnapshotWriter> SnapshotStore::create(const raft::SnapshotMetadata& metadata) {
  check_index(metadata, dir_);
  return make_snapshot_writer(*this, metadata, hook());
}

std::unique_ptr<RawWriter> SnapshotStore::receive(const raft::SnapshotMetadata& expected) {
  check_index(expected, dir_);
  return make_raw_writer(*this, expected, hook());
}

std::string SnapshotStore::path_of(const SnapshotInfo& info) const {
  if (!info.path.empty()) return info.path;
  return io::join(dir_, format::file_name(info.metadata.index(), info.metadata.term()));
}

std::unique_ptr<SnapshotReader> SnapshotStore::open(const SnapshotInfo& info) const {
  return make_snapshot_reader(open_stored(path_of(info)));
}

std::unique_ptr<RawReader> SnapshotStore::open_raw(const SnapshotInfo& info) const {
  return make_raw_reader(open_stored(path_of(info)));
}

void SnapshotStore::verify(const SnapshotInfo& info) const {
  check_checksum(open_stored(path_of(info)));
}

size_t SnapshotStore::prune() {
  std::lock_guard lock(mu_);
  size_t removed = 0;
  while (snapshots_.size() > keep_) {
    // Oldest first, each dropped from the listing once its file is gone, so a failure leaves
    // the listing true to the directory.
    io::remove(snapshots_.back().path);
    snapshots_.pop_back();
    ++removed;
  }
  if (removed > 0) io::sync_dir(dir_);
  return removed;
}

void SnapshotStore::add(const SnapshotInfo& info) {
  std::lock_guard lock(mu_);
  std::erase_if(snapshots_, [&](const SnapshotInfo& s) {
    return same_id(s, info.metadata.index(), info.metadata.term());
  });
  snapshots_.insert(std::upper_bound(snapshots_.begin(), snapshots_.end(), info, newer), info);
}

}  // namespace snapshot
