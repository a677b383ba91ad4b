// LockStateMachine on its own: the lock rules, fencing tokens, malformed commands, snapshots.
#include "examples/lock-service/lock_state_machine.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

namespace lock_service {
namespace {

using O = LockResult::Outcome;

// Applies one command at `index` and returns its decoded result.
LockResult apply_one(LockStateMachine& sm, uint64_t index, const std::string& command) {
  const framework::Command c{index, 1, command};
  const std::vector<std::string> results = sm.apply(std::span(&c, 1));
  EXPECT_EQ(results.size(), 1u);
  std::optional<LockResult> r = decode_result(results.at(0));
  EXPECT_TRUE(r.has_value()) << results.at(0);
  return r.value_or(LockResult{});
}

std::string acquire(const std::string& name, const std::string& owner) {
  return encode_command(LockCommand{LockCommand::Op::kAcquire, name, owner});
}
std::string release(const std::string& name, const std::string& owner) {
  return encode_command(LockCommand{LockCommand::Op::kRelease, name, owner});
}

std::string serialized(LockStateMachine& sm) {
  std::ostringstream out;
  sm.snapshot()->write(out);
  return out.str();
}

TEST(LockStateMachineTest, AcquireOfAFreeLockGrantsItWithTheIndexAsToken) {
  LockStateMachine sm;
  const LockResult r = apply_one(sm, 7, acquire("db", "alice"));
  EXPECT_EQ(r.outcome, O::kAcquired);
  EXPECT_EQ(r.token, 7u);
  EXPECT_EQ(sm.holder("db"), (LockHolder{"alice", 7}));
  EXPECT_EQ(sm.holder("other"), std::nullopt);
}

TEST(LockStateMachineTest, AcquireOfAHeldLockFailsWithTheHolder) {
  LockStateMachine sm;
  apply_one(sm, 1, acquire("db", "alice"));
  const LockResult r = apply_one(sm, 2, acquire("db", "bob"));
  EXPECT_EQ(r.outcome, O::kHeld);
  EXPECT_EQ(r.holder, "alice");
  EXPECT_EQ(sm.holder("db"), (LockHolder{"alice", 1}));
}

TEST(LockStateMachineTest, AcquireByTheHolderKeepsItsToken) {
  LockStateMachine sm;
  apply_one(sm, 3, acquire("db", "alice"));
  const LockResult again = apply_one(sm, 9, acquire("db", "alice"));
  EXPECT_EQ(again.outcome, O::kAcquired);
  EXPECT_EQ(again.token, 3u);  // the same tenure
  EXPECT_EQ(sm.holder("db"), (LockHolder{"alice", 3}));
}

TEST(LockStateMachineTest, OnlyTheHolderReleases) {
  LockStateMachine sm;
  EXPECT_EQ(apply_one(sm, 1, release("db", "alice")).outcome, O::kNotHeld);
  apply_one(sm, 2, acquire("db", "alice"));
  const LockResult not_holder = apply_one(sm, 3, release("db", "bob"));
  EXPECT_EQ(not_holder.outcome, O::kNotHolder);
  EXPECT_EQ(not_holder.holder, "alice");
  EXPECT_EQ(sm.holder("db"), (LockHolder{"alice", 2}));
  EXPECT_EQ(apply_one(sm, 4, release("db", "alice")).outcome, O::kReleased);
  EXPECT_EQ(sm.holder("db"), std::nullopt);
  EXPECT_EQ(apply_one(sm, 5, release("db", "alice")).outcome, O::kNotHeld);
}

TEST(LockStateMachineTest, FencingTokensIncreaseWithEveryGrant) {
  LockStateMachine sm;
  uint64_t last = 0;
  uint64_t index = 0;
  for (int round = 0; round < 5; ++round) {
    for (const char* owner : {"alice", "bob", "carol"}) {
      const LockResult got = apply_one(sm, ++index, acquire("db", owner));
      ASSERT_EQ(got.outcome, O::kAcquired);
      EXPECT_GT(got.token, last);
      last = got.token;
      // Another lock granted in between also gets a larger token.
      ++index;
      const LockResult other =
          apply_one(sm, index, acquire("queue-" + std::to_string(index), owner));
      ASSERT_EQ(other.outcome, O::kAcquired);
      EXPECT_GT(other.token, last);
      last = other.token;
      ASSERT_EQ(apply_one(sm, ++index, release("db", owner)).outcome, O::kReleased);
    }
  }
}

TEST(LockStateMachineTest, ABatchGetsOneResultPerCommandInOrder) {
  LockStateMachine sm;
  const std::string a = acquire("db", "alice");
  const std::string b = acquire("db", "bob");
  const std::string r = release("db", "alice");
  const std::string c = acquire("db", "bob");
  const std::vector<framework::Command> batch = {{10, 2, a}, {11, 2, b}, {12, 2, r}, {13, 2, c}};
  const std::vector<std::string> results = sm.apply(batch);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0], "acquired 10");
  EXPECT_EQ(results[1], "held alice");
  EXPECT_EQ(results[2], "released");
  EXPECT_EQ(results[3], "acquired 13");
}

TEST(LockStateMachineTest, MalformedCommandsChangeNothing) {
  LockStateMachine sm;
  apply_one(sm, 1, acquire("db", "alice"));
  const std::string before = serialized(sm);
  const std::vector<std::string> bad = {
      "",                         // empty
      "acquire",                  // no fields
      "acquire db",               // no owner
      "acquire db bob extra",     // too many fields
      "acquire  db bob",          // empty field
      "grab db bob",              // unknown operation
      "release db alice ",        // trailing space
      std::string("acquire d\0b bob", 15),                      // control byte in the name
      std::string("acquire db b\x7f"),                          // DEL in the owner
      "acquire " + std::string(kMaxNameBytes + 1, 'n') + " bob",  // name too long
      "ACQUIRE db bob",
  };
  uint64_t index = 2;
  for (const std::string& command : bad) {
    const LockResult r = apply_one(sm, index++, command);
    EXPECT_EQ(r.outcome, O::kInvalid) << command;
    EXPECT_FALSE(r.reason.empty()) << command;
  }
  EXPECT_EQ(serialized(sm), before);
  // Still working afterwards.
  EXPECT_EQ(apply_one(sm, index++, release("db", "alice")).outcome, O::kReleased);
}

TEST(LockStateMachineTest, SnapshotIsAConsistentViewAndRestores) {
  LockStateMachine sm;
  apply_one(sm, 1, acquire("db", "alice"));
  apply_one(sm, 2, acquire("queue", "bob"));
  apply_one(sm, 3, acquire("cache", "carol"));
  apply_one(sm, 4, release("cache", "carol"));
  const LockTable at_snapshot = sm.locks();
  std::unique_ptr<framework::StateSnapshot> view = sm.snapshot();
  // Applies after snapshot() must not show up in the view written later.
  apply_one(sm, 5, release("db", "alice"));
  apply_one(sm, 6, acquire("db", "dave"));
  std::stringstream bytes;
  view->write(bytes);

  LockStateMachine restored;
  apply_one(restored, 1, acquire("stale", "zed"));  // replaced, not merged
  restored.restore(bytes);
  EXPECT_EQ(restored.locks(), at_snapshot);
  EXPECT_EQ(restored.holder("db"), (LockHolder{"alice", 1}));
  EXPECT_EQ(restored.holder("queue"), (LockHolder{"bob", 2}));
  EXPECT_EQ(restored.holder("stale"), std::nullopt);
  // It goes on from there like the original did.
  EXPECT_EQ(apply_one(restored, 5, release("db", "alice")).outcome, O::kReleased);
  EXPECT_EQ(apply_one(restored, 6, acquire("db", "dave")).token, 6u);
  EXPECT_EQ(restored.locks(), sm.locks());
}

TEST(LockStateMachineTest, EmptyTableRoundTrips) {
  LockStateMachine sm;
  std::stringstream bytes(serialized(sm));
  LockStateMachine restored;
  apply_one(restored, 1, acquire("db", "alice"));
  restored.restore(bytes);
  EXPECT_TRUE(restored.locks().empty());
}

TEST(LockStateMachineTest, RestoreRejectsBadInputAndKeepsTheState) {
  LockStateMachine sm;
  apply_one(sm, 1, acquire("db", "alice"));
  const std::string before = serialized(sm);
  const std::string header = "lock-service snapshot 1\n";
  const std::vector<std::string> bad = {
      "",
      "garbage",
      "lock-service snapshot 2\n0\n",                      // unknown version
      header,                                              // no count
      header + "1",                                        // count without newline
      header + "x\n",                                      // count not a number
      header + "-1\n",
      header + "01\ndb alice 1\n",                         // leading zero
      header + "2\ndb alice 1\n",                          // fewer lines than the count
      header + "1\ndb alice 1",                            // last line truncated
      header + "1\ndb alice 12",                           // ... even where digits would parse
      header + "1\ndb alice\n",                            // missing token
      header + "1\ndb alice 0\n",                          // token 0
      header + "1\ndb alice 1x\n",
      header + "1\ndb alice 99999999999999999999999\n",   // token overflows
      header + "1\ndb  alice 1\n",                         // empty field
      header + "1\ndb alice bob 1\n",                      // extra field
      header + "2\ndb alice 1\ndb bob 2\n",                // duplicate name
      header + "2\nzz alice 1\naa bob 2\n",                // out of order
      header + "1\ndb alice 1\nextra\n",                   // bytes after the last lock
      header + "0\n\n",
  };
  for (const std::string& input : bad) {
    std::istringstream in(input);
    EXPECT_THROW(sm.restore(in), std::runtime_error) << '"' << input << '"';
    EXPECT_EQ(serialized(sm), before) << '"' << input << '"';
  }
}

TEST(LockStateMachineTest, SerializedFormIsReadable) {
  LockTable locks;
  locks["db"] = LockHolder{"alice", 4};
  locks["cache"] = LockHolder{"bob", 12};
  std::ostringstream out;
  write_locks(out, locks);
  EXPECT_EQ(out.str(), "lock-service snapshot 1\n2\ncache bob 12\ndb alice 4\n");
  std::istringstream in(out.str());
  EXPECT_EQ(read_locks(in), locks);
}

}  // namespace
}  // namespace lock_service
