// The apply thread: log order, results for this node's own commands only, hooks in log order,
// skipping what a durable state machine already holds, and a throwing state machine.
#include "framework/apply_worker.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "framework/command_codec.h"
#include "tests/wal/support/temp_dir.h"

namespace framework {
namespace {

// Records every call, in order, as text.
class RecordingStateMachine final : public StateMachine {
 public:
  explicit RecordingStateMachine(uint64_t durable = 0) : durable_(durable) {}
  std::vector<std::string> apply(std::span<const Command> commands) override {
    std::vector<std::string> out;
    for (const Command& c : commands) {
      if (c.data == "throw") throw std::runtime_error("bad command");
      calls.push_back("apply " + std::to_string(c.index) + " " + std::string(c.data));
      ++applied_count;
      out.push_back("result " + std::to_string(c.index));
    }
    return out;
  }
  uint64_t durable_applied_index() const override { return durable_; }
  // A view that writes the number of commands applied when it was taken.
  std::unique_ptr<StateSnapshot> snapshot() override {
    struct View final : StateSnapshot {
      size_t applied;
      explicit View(size_t n) : applied(n) {}
      void write(std::ostream& out) override { out << "applied=" << applied; }
    };
    return std::make_unique<View>(applied_count);
  }
  void restore(std::istream& in) override {
    std::string state((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    calls.push_back("restore " + state);
  }
  void on_leader_change(uint64_t leader, uint64_t term) override {
    calls.push_back("leader " + std::to_string(leader) + " " + std::to_string(term));
  }
  void on_membership_change(uint64_t index, const raft::ConfState& cs) override {
    calls.push_back("membership " + std::to_string(index) + " voters " +
                    std::to_string(cs.voters_size()));
  }

  std::vector<std::string> calls;  // read by the test only after the worker stopped
  size_t applied_count = 0;

 private:
  uint64_t durable_;
};

raft::Entry command(uint64_t index, uint64_t origin, uint64_t request, const std::string& data) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_data(encode_command(RequestTag{origin, request}, data));
  return e;
}

raft::Entry conf_change(uint64_t index) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_entry_type(eraftpb::EntryConfChange);
  return e;
}

// Where restores read from and taken snapshots would go.
struct Store {
  wal::testing::TempDir dir;
  snapshot::SnapshotStore store{dir.sub("snap"), 2};
};

struct Collected {
  std::mutex mu;
  std::vector<ApplyOutcome> outcomes;
  std::vector<std::string> failures;
};

TEST(ApplyWorkerTest, AppliesInOrderAndReturnsOwnResults) {
  RecordingStateMachine sm;
  Store snaps;
  Collected got;
  {
    ApplyWorker worker(
        sm, snaps.store, /*self_id=*/1, ApplyPosition{},
        [&](ApplyOutcome o) {
          std::lock_guard lock(got.mu);
          got.outcomes.push_back(std::move(o));
        },
        [&](const std::string& what) {
          std::lock_guard lock(got.mu);
          got.failures.push_back(what);
        });
    ApplyJob leader;
    leader.kind = ApplyJob::Kind::kLeaderChange;
    leader.leader = 2;
    leader.term = 3;
    worker.submit(leader);
    ApplyJob job;
    job.entries.push_back(command(1, 1, 10, "a"));
    job.entries.push_back(raft::Entry());  // the core's own empty entry
    job.entries.back().set_index(2);
    job.entries.push_back(conf_change(3));
    raft::ConfState cs;
    cs.add_voters(1);
    cs.add_voters(2);
    job.conf_states[3] = cs;
    job.entries.push_back(command(4, 2, 10, "b"));  // proposed on node 2
    job.entries.push_back(command(5, 1, 11, "c"));
    worker.submit(std::move(job));
    worker.stop();
  }
  EXPECT_TRUE(got.failures.empty());
  EXPECT_EQ(sm.calls, (std::vector<std::string>{"leader 2 3", "apply 1 a", "membership 3 voters 2",
                                                "apply 4 b", "apply 5 c"}));
  ASSERT_EQ(got.outcomes.size(), 2u);
  EXPECT_EQ(got.outcomes[0].applied_index, 0u);  // the leader change
  EXPECT_EQ(got.outcomes[1].applied_index, 5u);
  ASSERT_EQ(got.outcomes[1].commands.size(), 2u);
  EXPECT_EQ(got.outcomes[1].commands[0].request, 10u);
  EXPECT_EQ(got.outcomes[1].commands[0].index, 1u);
  EXPECT_EQ(got.outcomes[1].commands[0].result, "result 1");
  EXPECT_EQ(got.outcomes[1].commands[1].request, 11u);
  EXPECT_EQ(got.outcomes[1].commands[1].result, "result 5");
}

TEST(ApplyWorkerTest, SkipsWhatADurableStateMachineHolds) {
  RecordingStateMachine sm(/*durable=*/2);
  Store snaps;
  Collected got;
  {
    ApplyWorker worker(
        sm, snaps.store, 1, ApplyPosition{},
        [&](ApplyOutcome o) {
          std::lock_guard lock(got.mu);
          got.outcomes.push_back(std::move(o));
        },
        [&](const std::string&) {});
    ApplyJob job;
    job.entries = {command(1, 1, 1, "a"), conf_change(2), command(3, 1, 2, "c")};
    job.conf_states[2] = raft::ConfState();
    worker.submit(std::move(job));
    worker.stop();
  }
  // The configuration change at 2 still reaches the hook: membership is rebuilt from the log.
  EXPECT_EQ(sm.calls, (std::vector<std::string>{"membership 2 voters 0", "apply 3 c"}));
  ASSERT_EQ(got.outcomes.size(), 1u);
  EXPECT_EQ(got.outcomes[0].applied_index, 3u);
}

TEST(ApplyWorkerTest, AThrowingStateMachineIsReportedOnceAndStopsApplying) {
  RecordingStateMachine sm;
  Store snaps;
  Collected got;
  {
    ApplyWorker worker(
        sm, snaps.store, 1, ApplyPosition{},
        [&](ApplyOutcome o) {
          std::lock_guard lock(got.mu);
          got.outcomes.push_back(std::move(o));
        },
        [&](const std::string& what) {
          std::lock_guard lock(got.mu);
          got.failures.push_back(what);
        });
    ApplyJob bad;
    bad.entries = {command(1, 1, 1, "throw")};
    worker.submit(std::move(bad));
    ApplyJob later;
    later.entries = {command(2, 1, 2, "x")};
    worker.submit(std::move(later));
    worker.stop();
  }
  EXPECT_EQ(got.failures, (std::vector<std::string>{"bad command"}));
  EXPECT_TRUE(got.outcomes.empty());
  EXPECT_TRUE(sm.calls.empty());
}

// A snapshot is a view at the worker's position (index, term, configuration); a restore reads
// the stored file: the framework's section (member addresses) first, then the state machine's
// bytes, and moves the position to the snapshot.
TEST(ApplyWorkerTest, TakesViewsAtItsPositionAndRestoresFromTheStore) {
  RecordingStateMachine sm;
  Store snaps;
  Collected got;
  raft::ConfState start_conf;
  start_conf.add_voters(1);
  {
    ApplyWorker worker(
        sm, snaps.store, 1, ApplyPosition{0, 0, start_conf},
        [&](ApplyOutcome o) {
          std::lock_guard lock(got.mu);
          got.outcomes.push_back(std::move(o));
        },
        [&](const std::string& what) {
          std::lock_guard lock(got.mu);
          got.failures.push_back(what);
        });
    ApplyJob take;
    take.kind = ApplyJob::Kind::kTakeSnapshot;
    worker.submit(take);  // nothing applied yet: no view
    ApplyJob job;
    job.entries = {command(1, 1, 1, "a"), command(2, 2, 1, "b")};
    job.entries[1].set_term(3);
    worker.submit(std::move(job));
    take.addresses[4] = net::PeerAddress{"10.0.0.4", 7004};
    worker.submit(take);
    worker.stop();
  }
  ASSERT_TRUE(got.failures.empty()) << got.failures[0];
  ASSERT_EQ(got.outcomes.size(), 3u);
  EXPECT_EQ(got.outcomes[0].job, ApplyJob::Kind::kTakeSnapshot);
  EXPECT_FALSE(got.outcomes[0].taken);
  ASSERT_TRUE(got.outcomes[2].taken);
  TakenSnapshot taken = std::move(*got.outcomes[2].taken);
  EXPECT_EQ(taken.metadata.index(), 2u);
  EXPECT_EQ(taken.metadata.term(), 3u);
  EXPECT_EQ(taken.metadata.conf_state().voters_size(), 1);
  EXPECT_EQ(taken.addresses.at(4).port, 7004);

  // Store it as the snapshot thread would, then restore a fresh state machine from it.
  std::unique_ptr<snapshot::SnapshotWriter> w = snaps.store.create(taken.metadata);
  write_snapshot_body(w->body(), taken.addresses, *taken.view);
  w->commit();
  RecordingStateMachine fresh;
  Collected after;
  {
    ApplyWorker worker(
        fresh, snaps.store, 1, ApplyPosition{},
        [&](ApplyOutcome o) {
          std::lock_guard lock(after.mu);
          after.outcomes.push_back(std::move(o));
        },
        [&](const std::string& what) {
          std::lock_guard lock(after.mu);
          after.failures.push_back(what);
        });
    ApplyJob restore;
    restore.kind = ApplyJob::Kind::kRestore;
    restore.snapshot = taken.metadata;
    worker.submit(restore);
    ApplyJob take;
    take.kind = ApplyJob::Kind::kTakeSnapshot;
    worker.submit(take);
    worker.stop();
  }
  ASSERT_TRUE(after.failures.empty()) << after.failures[0];
  EXPECT_EQ(fresh.calls, (std::vector<std::string>{"restore applied=2", "membership 2 voters 1"}));
  ASSERT_EQ(after.outcomes.size(), 2u);
  EXPECT_EQ(after.outcomes[0].applied_index, 2u);
  ASSERT_TRUE(after.outcomes[0].restored_addresses);
  EXPECT_EQ(after.outcomes[0].restored_addresses->at(4).host, "10.0.0.4");
  ASSERT_TRUE(after.outcomes[1].taken);
  EXPECT_EQ(after.outcomes[1].taken->metadata.index(), 2u);
  EXPECT_EQ(after.outcomes[1].taken->metadata.term(), 3u);
}

// A restore of a snapshot the store does not hold is a failure of the node, not a silent skip.
TEST(ApplyWorkerTest, RestoringAMissingSnapshotFails) {
  RecordingStateMachine sm;
  Store snaps;
  Collected got;
  {
    ApplyWorker worker(
        sm, snaps.store, 1, ApplyPosition{}, [&](ApplyOutcome) {},
        [&](const std::string& what) {
          std::lock_guard lock(got.mu);
          got.failures.push_back(what);
        });
    ApplyJob restore;
    restore.kind = ApplyJob::Kind::kRestore;
    restore.snapshot.set_index(5);
    restore.snapshot.set_term(1);
    worker.submit(restore);
    worker.stop();
  }
  ASSERT_EQ(got.failures.size(), 1u);
  EXPECT_NE(got.failures[0].find("no stored snapshot at index 5"), std::string::npos);
  EXPECT_TRUE(sm.calls.empty());
}

}  // namespace
}  // namespace framework
