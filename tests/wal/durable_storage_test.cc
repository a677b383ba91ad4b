// DurableStorage: raft::Storage over the WAL and the meta store. What is durable comes back after
// a restart, the two stores are reconciled after a crash between their writes, and a cluster of
// RawNodes restarted from disk keeps every committed entry.
#include "tests/wal/support/temp_dir.h"
#include "wal/durable_storage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "raft/raw_node.h"

namespace wal {
namespace {

namespace fs = std::filesystem;
using raft::ConfState;
using raft::Entry;
using raft::EntryVec;
using raft::HardState;

using testing::TempDir;

constexpr NodeIdentity kIdentity{.cluster_id = 7, .node_id = 1};

Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data.empty() ? "entry-" + std::to_string(index) + "-" + std::to_string(term) : data);
  return e;
}

EntryVec make_entries(uint64_t lo, uint64_t hi, uint64_t term) {
  EntryVec out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(make_entry(i, term));
  return out;
}

HardState make_hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

ConfState voters(std::initializer_list<uint64_t> ids) {
  ConfState cs;
  for (uint64_t id : ids) cs.add_voters(id);
  return cs;
}

raft::Snapshot make_snapshot(uint64_t index, uint64_t term, const ConfState& cs) {
  raft::Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  *s.mutable_metadata()->mutable_conf_state() = cs;
  s.set_data("state machine at " + std::to_string(index));
  return s;
}

WalOptions small_segments(uint64_t segment_size) {
  WalOptions options;
  options.segment_size = segment_size;
  return options;
}

std::unique_ptr<DurableStorage> open_storage(const std::string& dir,
                                             DurableOpenInfo* info = nullptr,
                                             NodeIdentity identity = kIdentity) {
  DurableStorageOptions options;
  options.wal.segment_size = 4096;  // small, so segments roll and compaction removes some
  auto storage = DurableStorage::open(dir, identity, options, info);
  EXPECT_TRUE(storage.ok()) << storage.status().message();
  return storage.ok() ? std::move(*storage) : nullptr;
}

void expect_same_entries(const raft::Storage& s, uint64_t lo, uint64_t hi, const EntryVec& want) {
  auto got = s.entries(lo, hi, raft::kNoLimit);
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].SerializeAsString(), want[i].SerializeAsString()) << "entry " << lo + i;
  }
}

TEST(DurableStorage, NewDirectoryIsEmptyAndNew) {
  TempDir dir;
  DurableOpenInfo info;
  auto s = open_storage(dir.path() + "/node", &info);
  ASSERT_TRUE(s);
  EXPECT_TRUE(info.created);
  EXPECT_TRUE(s->is_new());
  EXPECT_EQ(s->first_index(), 1u);
  EXPECT_EQ(s->last_index(), 0u);
  EXPECT_EQ(*s->term(0), 0u);
  auto state = s->initial_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->hard_state.term(), 0u);
  EXPECT_EQ(state->conf_state.voters_size(), 0);
  EXPECT_EQ(s->snapshot(0, 2).error(), raft::Error::kSnapshotTemporarilyUnavailable);

  s.reset();
  s = open_storage(dir.path() + "/node", &info);
  EXPECT_FALSE(info.created);
  EXPECT_TRUE(s->is_new());
}

TEST(DurableStorage, EverythingWrittenComesBackAfterReopen) {
  TempDir dir;
  const EntryVec entries = make_entries(1, 50, 2);
  {
    auto s = open_storage(dir.path());
    ASSERT_TRUE(s->set_conf_state(voters({1, 2, 3})).ok());
    ASSERT_TRUE(s->append(entries).ok());
    ASSERT_TRUE(s->sync().ok());
    ASSERT_TRUE(s->set_hard_state(make_hard_state(2, 1, 40)).ok());
    EXPECT_FALSE(s->is_new());
  }
  auto s = open_storage(dir.path());
  EXPECT_FALSE(s->is_new());
  auto state = s->initial_state();
  EXPECT_EQ(state->hard_state.SerializeAsString(), make_hard_state(2, 1, 40).SerializeAsString());
  EXPECT_EQ(state->conf_state.SerializeAsString(), voters({1, 2, 3}).SerializeAsString());
  EXPECT_EQ(s->first_index(), 1u);
  EXPECT_EQ(s->last_index(), 50u);
  expect_same_entries(*s, 1, 51, entries);
  EXPECT_EQ(*s->term(50), 2u);
  EXPECT_EQ(s->term(51).error(), raft::Error::kUnavailable);
}

TEST(DurableStorage, TermOrVoteChangesAreSyncedCommitOnlyChangesAreNot) {
  TempDir dir;
  auto s = open_storage(dir.path());
  const uint64_t synced = s->meta().synced_writes();
  const uint64_t unsynced = s->meta().unsynced_writes();
  ASSERT_TRUE(s->set_hard_state(make_hard_state(1, 0, 0)).ok());  // term
  ASSERT_TRUE(s->set_hard_state(make_hard_state(1, 2, 0)).ok());  // vote
  EXPECT_EQ(s->meta().synced_writes(), synced + 2);
  ASSERT_TRUE(s->append(make_entries(1, 3, 1)).ok());
  ASSERT_TRUE(s->sync().ok());
  ASSERT_TRUE(s->set_hard_state(make_hard_state(1, 2, 3)).ok());  // commit only
  EXPECT_EQ(s->meta().synced_writes(), synced + 2);
  EXPECT_EQ(s->meta().unsynced_writes(), unsynced + 1);
}

TEST(DurableStorage, AnotherNodesDirectoryIsRefused) {
  TempDir dir;
  open_storage(dir.path()).reset();
  auto other_node = DurableStorage::open(dir.path(), NodeIdentity{.cluster_id = 7, .node_id = 2},
                                         DurableStorageOptions{});
  ASSERT_FALSE(other_node.ok());
  EXPECT_EQ(other_node.status().code(), Error::kWrongNode);
  auto other_cluster = DurableStorage::open(dir.path(), NodeIdentity{.cluster_id = 8, .node_id = 1},
                                            DurableStorageOptions{});
  ASSERT_FALSE(other_cluster.ok());
  EXPECT_EQ(other_cluster.status().code(), Error::kWrongCluster);
}

TEST(DurableStorage, AppliedSnapshotReplacesTheLogAndSurvivesReopen) {
  TempDir dir;
  const raft::Snapshot snap = make_snapshot(100, 5, voters({1, 2, 3, 4}));
  {
    auto s = open_storage(dir.path());
    ASSERT_TRUE(s->append(make_entries(1, 20, 1)).ok());
    ASSERT_TRUE(s->sync().ok());
    ASSERT_TRUE(s->set_hard_state(make_hard_state(1, 1, 20)).ok());
    ASSERT_TRUE(s->apply_snapshot(snap).ok());
    EXPECT_EQ(s->first_index(), 101u);
    EXPECT_EQ(s->last_index(), 100u);
    EXPECT_EQ(*s->term(100), 5u);
    EXPECT_EQ(s->entries(20, 21, raft::kNoLimit).error(), raft::Error::kCompacted);
    // Not newer than the stored one: refused, nothing changes.
    EXPECT_EQ(s->apply_snapshot(make_snapshot(100, 5, voters({1}))).code(),
              Error::kInvalidArgument);
    ASSERT_TRUE(s->append(make_entries(101, 110, 5)).ok());
    ASSERT_TRUE(s->sync().ok());
  }
  auto s = open_storage(dir.path());
  EXPECT_EQ(s->first_index(), 101u);
  EXPECT_EQ(s->last_index(), 110u);
  EXPECT_EQ(*s->term(100), 5u);
  auto state = s->initial_state();
  EXPECT_EQ(state->conf_state.SerializeAsString(), voters({1, 2, 3, 4}).SerializeAsString());
  // The snapshot's index is committed, even though no later HardState was written.
  EXPECT_EQ(state->hard_state.commit(), 100u);
  EXPECT_EQ(state->hard_state.term(), 1u);
  EXPECT_EQ(s->meta().snapshot().index(), 100u);
  expect_same_entries(*s, 101, 111, make_entries(101, 110, 5));
}

// The crash windows of apply_snapshot: the meta store has the snapshot, the WAL not yet.
TEST(DurableStorage, ReconcilesAWalThatMissedTheSnapshotsReset) {
  struct Case {
    const char* name;
    EntryVec wal_entries;  // what the WAL holds when the crash happened
    uint64_t want_first, want_last, want_dropped;
  };
  const std::vector<Case> cases = {
      // The WAL has the snapshot's entry with the snapshot's term: its later entries stay.
      {"matching term", make_entries(1, 30, 3), 21, 30, 0},
      // The WAL's entry at the snapshot index has another term: everything after it goes.
      {"conflicting term", make_entries(1, 30, 2), 21, 20, 10},
      // The WAL ends before the snapshot: the log restarts after it.
      {"short log", make_entries(1, 10, 3), 21, 20, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    {
      auto meta = MetaStore::open(dir.path() + "/meta", kIdentity);
      ASSERT_TRUE(meta.ok()) << meta.status().message();
      MetaUpdate update;
      raft::SnapshotMetadata m;
      m.set_index(20);
      m.set_term(3);
      *m.mutable_conf_state() = voters({1, 2});
      update.snapshot = m;
      update.conf_state = m.conf_state();
      ASSERT_TRUE((*meta)->save(update).ok());
      auto log = Wal::open(dir.path() + "/wal", small_segments(4096));
      ASSERT_TRUE(log.ok()) << log.status().message();
      ASSERT_TRUE((*log)->append(c.wal_entries).ok());
      ASSERT_TRUE((*log)->sync().ok());
    }
    DurableOpenInfo info;
    auto s = open_storage(dir.path(), &info);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->first_index(), c.want_first);
    EXPECT_EQ(s->last_index(), c.want_last);
    EXPECT_EQ(info.entries_dropped, c.want_dropped);
    EXPECT_EQ(*s->term(20), 3u);
    EXPECT_EQ(s->initial_state()->hard_state.commit(), 20u);
    // A new entry after the snapshot can be appended, and the result survives reopen.
    ASSERT_TRUE(s->append({make_entry(c.want_last + 1, 4)}).ok());
    ASSERT_TRUE(s->sync().ok());
    s.reset();
    s = open_storage(dir.path(), &info);
    EXPECT_EQ(info.entries_dropped, 0u);
    EXPECT_EQ(s->last_index(), c.want_last + 1);
    EXPECT_EQ(*s->term(c.want_last + 1), 4u);
  }
}

TEST(DurableStorage, AWalThatStartsAfterTheSnapshotIsCorruption) {
  TempDir dir;
  {
    auto meta = MetaStore::open(dir.path() + "/meta", kIdentity);
    ASSERT_TRUE(meta.ok());
    raft::SnapshotMetadata m;
    m.set_index(5);
    m.set_term(1);
    MetaUpdate update;
    update.snapshot = m;
    ASSERT_TRUE((*meta)->save(update).ok());
    auto log = Wal::open(dir.path() + "/wal", WalOptions{});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->reset(10, 2).ok());  // entries 6..10 are nowhere
    ASSERT_TRUE((*log)->sync().ok());
  }
  auto s = DurableStorage::open(dir.path(), kIdentity, DurableStorageOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Error::kCorruption);
  EXPECT_NE(s.status().message().find("6..10 are missing"), std::string::npos)
      << s.status().message();
}

TEST(DurableStorage, ACommitPastTheLogIsCorruption) {
  TempDir dir;
  {
    auto s = open_storage(dir.path());
    ASSERT_TRUE(s->append(make_entries(1, 5, 1)).ok());
    ASSERT_TRUE(s->sync().ok());
    ASSERT_TRUE(s->set_hard_state(make_hard_state(1, 1, 9)).ok());
  }
  auto s = DurableStorage::open(dir.path(), kIdentity, DurableStorageOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Error::kCorruption);
  EXPECT_NE(s.status().message().find("commit index 9"), std::string::npos) << s.status().message();
}

TEST(DurableStorage, RecordSnapshotThenCompactDropsOldEntries) {
  TempDir dir;
  const EntryVec entries = make_entries(1, 400, 2);  // many 4 KiB segments
  {
    auto s = open_storage(dir.path());
    ASSERT_TRUE(s->append(entries).ok());
    ASSERT_TRUE(s->sync().ok());
    ASSERT_TRUE(s->set_hard_state(make_hard_state(2, 1, 400)).ok());
    // Compaction needs a snapshot at or past the compaction point.
    EXPECT_EQ(s->compact(300).code(), Error::kInvalidArgument);
    raft::SnapshotMetadata m;
    m.set_index(300);
    m.set_term(1);  // wrong term: refused
    EXPECT_EQ(s->record_snapshot(m).code(), Error::kInvalidArgument);
    m.set_term(2);
    m.mutable_conf_state()->add_voters(1);
    m.mutable_conf_state()->add_learners(4);
    ASSERT_TRUE(s->record_snapshot(m).ok());
    const uint64_t segments_before = s->wal().stats().segments;
    ASSERT_TRUE(s->compact(300).ok());
    EXPECT_LT(s->wal().stats().segments, segments_before);
    EXPECT_EQ(s->first_index(), 301u);
    EXPECT_EQ(*s->term(300), 2u);
    EXPECT_EQ(s->entries(300, 301, raft::kNoLimit).error(), raft::Error::kCompacted);
    expect_same_entries(*s, 301, 401, EntryVec(entries.begin() + 300, entries.end()));
    EXPECT_TRUE(s->compact(200).ok());  // already past it: nothing to do
  }
  auto s = open_storage(dir.path());
  EXPECT_EQ(s->first_index(), 301u);
  EXPECT_EQ(s->last_index(), 400u);
  EXPECT_EQ(*s->term(300), 2u);
  // A restart replays from the snapshot, so it starts from the snapshot's configuration: the
  // entries that built it are gone.
  const raft::ConfState cs = s->initial_state()->conf_state;
  EXPECT_EQ(std::vector<uint64_t>(cs.voters().begin(), cs.voters().end()), std::vector<uint64_t>{1});
  EXPECT_EQ(std::vector<uint64_t>(cs.learners().begin(), cs.learners().end()),
            std::vector<uint64_t>{4});
  expect_same_entries(*s, 301, 401, EntryVec(entries.begin() + 300, entries.end()));
}

TEST(DurableStorage, SnapshotComesFromTheSource) {
  TempDir dir;
  auto s = open_storage(dir.path());
  s->set_snapshot_source([](uint64_t request_index, uint64_t to) -> raft::Result<raft::Snapshot> {
    if (to == 9) return raft::Error::kSnapshotTemporarilyUnavailable;
    return make_snapshot(request_index + 1, 1, voters({1, to}));
  });
  auto snap = s->snapshot(10, 3);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().index(), 11u);
  EXPECT_EQ(snap->metadata().conf_state().voters(1), 3u);
  EXPECT_EQ(s->snapshot(10, 9).error(), raft::Error::kSnapshotTemporarilyUnavailable);
}

// ---------------------------------------------------------------------------------------------
// Three RawNodes on DurableStorage, with an in-memory network, restarted from disk at random
// (seeded) points. A restarted node keeps nothing but its data directory; its state machine is
// in memory, so it replays the log from the start up to the stored commit (Config::applied 0).

class DiskCluster {
 public:
  DiskCluster(const std::string& root, uint64_t seed) : root_(root), rng_(seed) {
    for (uint64_t id = 1; id <= 3; ++id) {
      Node& n = nodes_[id];
      n.dir = root_ + "/node" + std::to_string(id);
      n.storage = open(id);
      EXPECT_TRUE(n.storage->is_new());
      EXPECT_TRUE(n.storage->set_conf_state(voters({1, 2, 3})).ok());
      start(id);
    }
  }

  std::unique_ptr<DurableStorage> open(uint64_t id) {
    auto s = DurableStorage::open(nodes_[id].dir, NodeIdentity{.cluster_id = 1, .node_id = id},
                                  DurableStorageOptions{small_segments(8192)});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(*s);
  }

  void start(uint64_t id) {
    raft::Config c;
    c.id = id;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.seed = rng_();
    nodes_[id].raft = std::make_unique<raft::RawNode>(c, *nodes_[id].storage);
  }

  // Drops the node's process state (messages in flight to it too) and starts it from disk.
  void restart(uint64_t id) {
    Node& n = nodes_[id];
    n.raft.reset();
    n.storage.reset();
    n.applied.clear();
    std::erase_if(network_, [&](const raft::Message& m) { return m.to() == id; });
    n.storage = open(id);
    start(id);
  }

  // One round: every node ticks, handles its Ready, and the network delivers what is queued.
  void step() {
    for (auto& [id, n] : nodes_) {
      n.raft->tick();
      handle_ready(id);
    }
    std::deque<raft::Message> in_flight;
    in_flight.swap(network_);
    for (const raft::Message& m : in_flight) {
      (void)nodes_[m.to()].raft->step(m);
      handle_ready(m.to());
    }
  }

  void handle_ready(uint64_t id) {
    Node& n = nodes_[id];
    while (n.raft->has_ready()) {
      raft::Ready rd = n.raft->ready();
      for (auto& m : rd.messages) network_.push_back(m);
      const Status st = n.storage->persist(rd);
      ASSERT_TRUE(st.ok()) << st.message();
      for (auto& m : rd.persisted_messages) network_.push_back(m);
      for (const Entry& e : rd.committed_entries) {
        if (e.entry_type() == eraftpb::EntryNormal && !e.data().empty()) {
          n.applied.push_back(e.data());
          ever_applied_.insert(e.data());
        }
      }
      n.raft->advance(rd);
    }
  }

  uint64_t leader() const {
    for (const auto& [id, n] : nodes_) {
      if (n.raft->status().soft_state.role == raft::StateRole::kLeader) return id;
    }
    return 0;
  }

  raft::RawNode& raft(uint64_t id) { return *nodes_[id].raft; }
  const std::vector<std::string>& applied(uint64_t id) { return nodes_[id].applied; }
  std::mt19937_64& rng() { return rng_; }
  // Every value any node ever applied, before or after a restart.
  const std::set<std::string>& ever_applied() const { return ever_applied_; }

 private:
  struct Node {
    std::string dir;
    std::unique_ptr<DurableStorage> storage;
    std::unique_ptr<raft::RawNode> raft;
    std::vector<std::string> applied;
  };
  std::string root_;
  std::mt19937_64 rng_;
  std::map<uint64_t, Node> nodes_;
  std::deque<raft::Message> network_;
  std::set<std::string> ever_applied_;
};

TEST(DurableStorage, ClusterRestartedFromDiskKeepsEveryCommittedEntry) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    DiskCluster cluster(dir.path(), seed);
    std::vector<std::string> proposed;
    int next = 0;
    for (int round = 0; round < 400; ++round) {
      cluster.step();
      if (const uint64_t leader = cluster.leader(); leader != 0 && round % 2 == 0) {
        const std::string data = "value-" + std::to_string(next);
        if (!cluster.raft(leader).propose(data)) {
          proposed.push_back(data);
          ++next;
        }
      }
      if (round % 37 == 36) cluster.restart(1 + cluster.rng()() % 3);
    }
    // Quiesce: no more restarts, let everything commit and apply.
    for (int round = 0; round < 100; ++round) cluster.step();

    ASSERT_NE(cluster.leader(), 0u);
    const auto& reference = cluster.applied(cluster.leader());
    for (uint64_t id = 1; id <= 3; ++id) {
      EXPECT_EQ(cluster.applied(id), reference) << "node " << id;
    }
    // Every applied value is one that was proposed, in the order proposed (a proposal accepted
    // by a leader that lost its office may be lost; none may appear twice or out of order).
    size_t pos = 0;
    for (const std::string& v : reference) {
      while (pos < proposed.size() && proposed[pos] != v) ++pos;
      ASSERT_LT(pos, proposed.size()) << v << " applied out of order or never proposed";
      ++pos;
    }
    EXPECT_GT(reference.size(), proposed.size() / 2);
    // Nothing a node applied, at any time, was lost by a restart.
    const std::set<std::string> final_values(reference.begin(), reference.end());
    for (const std::string& v : cluster.ever_applied()) {
      EXPECT_TRUE(final_values.count(v)) << v << " was applied once and then lost";
    }
  }
}

}  // namespace
}  // namespace wal
