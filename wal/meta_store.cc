#include "wal/meta_store.h"

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace wal {
namespace {

constexpr char kIdentityKey[] = "identity";
constexpr char kHardStateKey[] = "hard_state";
constexpr char kConfStateKey[] = "conf_state";
constexpr char kSnapshotKey[] = "snapshot";
constexpr char kFormatKey[] = "format";
constexpr char kFormatVersion[] = "1";

constexpr size_t kIdentitySize = 16;

void put_u64_le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64_le(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string encode_identity(const NodeIdentity& id) {
  std::string out;
  out.reserve(kIdentitySize);
  put_u64_le(out, id.cluster_id);
  put_u64_le(out, id.node_id);
  return out;
}

std::string describe(const NodeIdentity& id) {
  return raft::concat("cluster ", id.cluster_id, " node ", id.node_id);
}

Status leveldb_error(const std::string& dir, std::string_view what, const leveldb::Status& s) {
  return Status(Error::kMetaStore,
                raft::concat("meta store ", dir, ": ", what, ": ", s.ToString()));
}

Status corruption(const std::string& dir, std::string_view key, std::string_view why) {
  return Status(Error::kCorruption, raft::concat("meta store ", dir, ": key \"", key, "\": ", why));
}

// Reads `key`; *found is false when it is absent (which means "the default" for every key).
Status read_key(leveldb::DB& db, const std::string& dir, const char* key, std::string* value,
                bool* found) {
  leveldb::ReadOptions options;
  // Checksums on every block read: damage shows up as an error at open, not as a wrong value.
  options.verify_checksums = true;
  const leveldb::Status s = db.Get(options, key, value);
  *found = s.ok();
  if (s.ok() || s.IsNotFound()) return Status();
  return leveldb_error(dir, raft::concat("read \"", key, "\""), s);
}

template <typename Message>
Status load_message(leveldb::DB& db, const std::string& dir, const char* key, Message* out) {
  std::string value;
  bool found = false;
  if (Status s = read_key(db, dir, key, &value, &found); !s.ok()) return s;
  if (!found) return Status();
  Message parsed;
  if (!parsed.ParseFromString(value)) {
    return corruption(dir, key,
                      raft::concat("value of ", value.size(), " bytes is not a valid ",
                                   Message::descriptor()->full_name()));
  }
  *out = std::move(parsed);
  return Status();
}

// Serialized forms are compared rather than fields so a field added to the message later is
// covered without touching this file; these messages have no maps, so equal content serializes
// to equal bytes.
bool same(const google::protobuf::MessageLite& a, const google::protobuf::MessageLite& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

// True when the database holds no key at all (a directory LevelDB has just created).
Status is_empty(leveldb::DB& db, const std::string& dir, bool* empty) {
  std::unique_ptr<leveldb::Iterator> it(db.NewIterator(leveldb::ReadOptions()));
  it->SeekToFirst();
  *empty = !it->Valid();
  if (!it->status().ok()) return leveldb_error(dir, "scan", it->status());
  return Status();
}

}  // namespace

StatusOr<std::unique_ptr<MetaStore>> MetaStore::open(const std::string& dir,
                                                     const NodeIdentity& identity) {
  // Checked before anything touches the disk, so a bad call leaves no directory behind.
  if (identity.cluster_id == 0 || identity.node_id == 0) {
    return Status(Error::kInvalidArgument,
                  raft::concat("meta store ", dir, ": cluster and node ids must be non-zero, got ",
                               describe(identity)));
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::from_errno(ec.value(), raft::concat("create meta store directory ", dir));

  leveldb::Options options;
  options.create_if_missing = true;
  // Report damage (a bad log record, a bad table) instead of skipping past it: a silently dropped
  // vote is a safety violation.
  options.paranoid_checks = true;
  // The values are a few dozen bytes; the default 4 MiB memtable would only be wasted memory.
  options.write_buffer_size = 64 << 10;
  leveldb::DB* raw = nullptr;
  const leveldb::Status opened = leveldb::DB::Open(options, dir, &raw);
  if (!opened.ok()) return leveldb_error(dir, "open", opened);

  std::unique_ptr<MetaStore> store(new MetaStore());
  store->db_.reset(raw);
  leveldb::DB& db = *store->db_;

  std::string stored_identity;
  bool has_identity = false;
  if (Status s = read_key(db, dir, kIdentityKey, &stored_identity, &has_identity); !s.ok()) {
    return s;
  }

  if (!has_identity) {
    // Only a database with nothing in it is new; data without an identity could belong to
    // anyone, so it is not claimed.
    bool empty = false;
    if (Status s = is_empty(db, dir, &empty); !s.ok()) return s;
    if (!empty) return corruption(dir, kIdentityKey, "absent from a database that holds data");
    leveldb::WriteBatch batch;
    batch.Put(kFormatKey, kFormatVersion);
    batch.Put(kIdentityKey, encode_identity(identity));
    leveldb::WriteOptions write_options;
    write_options.sync = true;
    if (leveldb::Status s = db.Write(write_options, &batch); !s.ok()) {
      return leveldb_error(dir, "write identity", s);
    }
    store->identity_ = identity;
    return store;
  }

  // The format is checked first: it says how everything else, the identity included, is laid out.
  std::string format;
  bool has_format = false;
  if (Status s = read_key(db, dir, kFormatKey, &format, &has_format); !s.ok()) return s;
  if (!has_format) return corruption(dir, kFormatKey, "absent from a database that holds data");
  if (format != kFormatVersion) {
    return corruption(dir, kFormatKey,
                      raft::concat("version \"", format, "\" is not supported (this build reads \"",
                                   kFormatVersion, "\")"));
  }

  if (stored_identity.size() != kIdentitySize) {
    return corruption(
        dir, kIdentityKey,
        raft::concat("value is ", stored_identity.size(), " bytes, expected ", kIdentitySize));
  }
  const NodeIdentity found{get_u64_le(std::string_view(stored_identity).substr(0, 8)),
                           get_u64_le(std::string_view(stored_identity).substr(8, 8))};
  if (found.cluster_id != identity.cluster_id || found.node_id != identity.node_id) {
    const Error code =
        found.cluster_id != identity.cluster_id ? Error::kWrongCluster : Error::kWrongNode;
    return Status(code, raft::concat("meta store ", dir, " belongs to ", describe(found),
                                     ", not to ", describe(identity)));
  }
  store->identity_ = found;

  if (Status s = load_message(db, dir, kHardStateKey, &store->hard_state_); !s.ok()) return s;
  if (Status s = load_message(db, dir, kConfStateKey, &store->conf_state_); !s.ok()) return s;
  if (Status s = load_message(db, dir, kSnapshotKey, &store->snapshot_); !s.ok()) return s;
  return store;
}

MetaStore::~MetaStore() = default;

NodeIdentity MetaStore::identity() const {
  std::lock_guard lock(mu_);
  return identity_;
}

raft::HardState MetaStore::hard_state() const {
  std::lock_guard lock(mu_);
  return hard_state_;
}

raft::ConfState MetaStore::conf_state() const {
  std::lock_guard lock(mu_);
  return conf_state_;
}

raft::SnapshotMetadata MetaStore::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Status MetaStore::save(const MetaUpdate& update) {
  // Saves are serialized by write_mu_: whether to sync is decided against the cache, and the
  // cache must follow the database in the order the writes were accepted. The readers' lock mu_
  // is not held across the write, so the core reading the snapshot's term never waits for an
  // fsync.
  std::lock_guard writer(write_mu_);
  raft::HardState stored_hs;
  raft::ConfState stored_cs;
  raft::SnapshotMetadata stored_snap;
  {
    std::lock_guard lock(mu_);
    stored_hs = hard_state_;
    stored_cs = conf_state_;
    stored_snap = snapshot_;
  }
  leveldb::WriteBatch batch;
  bool sync = update.force_sync;
  if (update.hard_state) {
    const raft::HardState& hs = *update.hard_state;
    // Only commit may be lost in a crash: it is relearned from the leader. Term and vote must
    // not go back, or this node could vote twice in a term.
    if (hs.term() != stored_hs.term() || hs.vote() != stored_hs.vote()) sync = true;
    batch.Put(kHardStateKey, hs.SerializeAsString());
  }
  if (update.conf_state) {
    if (!same(*update.conf_state, stored_cs)) sync = true;
    batch.Put(kConfStateKey, update.conf_state->SerializeAsString());
  }
  if (update.snapshot) {
    if (!same(*update.snapshot, stored_snap)) sync = true;
    batch.Put(kSnapshotKey, update.snapshot->SerializeAsString());
  }

  leveldb::WriteOptions options;
  options.sync = sync;
  // LevelDB's messages name the file that failed, which locates the directory; the store does
  // not keep its own path.
  if (leveldb::Status s = db_->Write(options, &batch); !s.ok()) {
    return Status(Error::kMetaStore, raft::concat("meta store: write: ", s.ToString()));
  }

  std::lock_guard lock(mu_);
  if (update.hard_state) hard_state_ = *update.hard_state;
  if (update.conf_state) conf_state_ = *update.conf_state;
  if (update.snapshot) snapshot_ = *update.snapshot;
  ++(sync ? synced_writes_ : unsynced_writes_);
  return Status();
}

uint64_t MetaStore::synced_writes() const {
  std::lock_guard lock(mu_);
  return synced_writes_;
}

uint64_t MetaStore::unsynced_writes() const {
  std::lock_guard lock(mu_);
  return unsynced_writes_;
}

}  // namespace wal
