// The apply thread: log order, results for this node's own commands only, hooks in log order,
// skipping what a durable state machine already holds, and a throwing state machine.
#include "framework/apply_worker.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "framework/command_codec.h"

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
      out.push_back("result " + std::to_string(c.index));
    }
    return out;
  }
  uint64_t durable_applied_index() const override { return durable_; }
  std::unique_ptr<StateSnapshot> snapshot() override { return nullptr; }
  void restore(std::istream&) override { calls.push_back("restore"); }
  void on_leader_change(uint64_t leader, uint64_t term) override {
    calls.push_back("leader " + std::to_string(leader) + " " + std::to_string(term));
  }
  void on_membership_change(uint64_t index, const raft::ConfState& cs) override {
    calls.push_back("membership " + std::to_string(index) + " voters " +
                    std::to_string(cs.voters_size()));
  }

  std::vector<std::string> calls;  // read by the test only after the worker stopped

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

struct Collected {
  std::mutex mu;
  std::vector<ApplyOutcome> outcomes;
  std::vector<std::string> failures;
};

TEST(ApplyWorkerTest, AppliesInOrderAndReturnsOwnResults) {
  RecordingStateMachine sm;
  Collected got;
  {
    ApplyWorker worker(
        sm, /*self_id=*/1,
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
  Collected got;
  {
    ApplyWorker worker(
        sm, 1,
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
  Collected got;
  {
    ApplyWorker worker(
        sm, 1,
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

}  // namespace
}  // namespace framework
