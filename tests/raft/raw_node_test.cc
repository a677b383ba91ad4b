// The Ready contract of RawNode: what may leave before persistence, what must wait, and how
// asynchronous persistence reports back.
#include "raft/raw_node.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "raft/memory_storage.h"

namespace raft {
namespace {

ConfState voters(std::initializer_list<uint64_t> ids) {
  ConfState cs;
  for (uint64_t id : ids) cs.add_voters(id);
  return cs;
}

Config config(uint64_t id) {
  Config c;
  c.id = id;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  return c;
}

// Writes a Ready's content to storage, as a driver does before sending persisted messages.
void persist(MemoryStorage& s, const Ready& rd) {
  if (rd.snapshot) {
    ASSERT_FALSE(s.apply_snapshot(*rd.snapshot));
  }
  if (!rd.entries.empty()) {
    ASSERT_FALSE(s.append(rd.entries));
  }
  if (rd.hard_state) s.set_hard_state(*rd.hard_state);
}

bool has_type(const std::vector<Message>& msgs, MessageType t) {
  for (const auto& m : msgs) {
    if (m.msg_type() == t) return true;
  }
  return false;
}

Message append_response(uint64_t from, uint64_t to, uint64_t term, uint64_t index) {
  Message m;
  m.set_msg_type(eraftpb::MsgAppendResponse);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  m.set_index(index);
  return m;
}

Message vote_response(uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_msg_type(eraftpb::MsgRequestVoteResponse);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

void drain(RawNode& n, MemoryStorage& s) {
  while (n.has_ready()) {
    Ready r = n.ready();
    persist(s, r);
    n.advance(r);
  }
}

// Makes node 1 of {1,2,3} leader at term 1, its empty entry committed (node 2 acknowledged it),
// everything persisted and applied.
void elect(RawNode& n, MemoryStorage& s) {
  ASSERT_FALSE(n.campaign());
  drain(n, s);
  ASSERT_FALSE(n.step(vote_response(2, 1, 1)));
  ASSERT_EQ(n.raft().state(), StateRole::kLeader);
  drain(n, s);
  ASSERT_FALSE(n.step(append_response(2, 1, 1, n.raft().log().last_index())));
  drain(n, s);
}

TEST(RawNodeTest, InvalidConfigIsAClearError) {
  MemoryStorage s(voters({1}));
  Config c = config(0);
  try {
    RawNode n(c, s);
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("id must not be 0"), std::string::npos);
  }
  c = config(1);
  c.election_tick = 1;
  EXPECT_THROW(RawNode(c, s), std::invalid_argument);
  c = config(1);
  c.max_inflight_msgs = 0;
  EXPECT_THROW(RawNode(c, s), std::invalid_argument);
  c = config(1);
  c.read_only_option = ReadOnlyOption::kLeaseBased;
  EXPECT_THROW(RawNode(c, s), std::invalid_argument);
  c.check_quorum = true;
  EXPECT_NO_THROW(RawNode(c, s));
}

TEST(RawNodeTest, NoReadyAtStart) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(1), s);
  EXPECT_FALSE(n.has_ready());
}

// The vote and term must be durable before the vote request leaves (otherwise a node that
// crashes could vote twice in one term): every message of that Ready waits.
TEST(RawNodeTest, TermChangeHoldsAllMessagesUntilPersisted) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(1), s);
  ASSERT_FALSE(n.campaign());
  ASSERT_TRUE(n.has_ready());
  Ready rd = n.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), 1u);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  EXPECT_TRUE(rd.must_sync);
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_EQ(rd.persisted_messages.size(), 2u);
  EXPECT_TRUE(has_type(rd.persisted_messages, eraftpb::MsgRequestVote));
}

// Thesis §10.2.1: a leader sends appends to followers while its own write is in flight, but
// counts itself towards commit only once the write is durable.
TEST(RawNodeTest, LeaderSendsBeforeItsOwnWriteIsDurable) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(1), s);
  elect(n, s);
  const uint64_t last = n.raft().log().last_index();
  const uint64_t committed = n.raft().log().committed();
  ASSERT_EQ(committed, last);

  ASSERT_FALSE(n.propose("x"));
  Ready rd = n.ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.must_sync);
  EXPECT_FALSE(rd.hard_state.has_value());
  // The append to 2 leaves without waiting for the disk (3 never answered its probe, so it is
  // paused until a heartbeat response).
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].msg_type(), eraftpb::MsgAppend);
  EXPECT_EQ(rd.messages[0].to(), 2u);
  EXPECT_TRUE(rd.persisted_messages.empty());
  n.advance_append_async(rd);

  // One follower acknowledges: with the leader's own write still in flight that is 1 of 3.
  ASSERT_FALSE(n.step(append_response(2, 1, 1, last + 1)));
  EXPECT_EQ(n.raft().log().committed(), committed);

  // The write becomes durable: now 2 of 3 hold the entry, and it commits.
  persist(s, rd);
  n.on_persist_ready(rd.number);
  EXPECT_EQ(n.raft().log().committed(), last + 1);
  ASSERT_TRUE(n.has_ready());
  Ready rd2 = n.ready();
  ASSERT_EQ(rd2.committed_entries.size(), 1u);
  EXPECT_EQ(rd2.committed_entries[0].data(), "x");
  EXPECT_FALSE(rd2.must_sync);  // a commit-only HardState need not be synced
  ASSERT_TRUE(rd2.hard_state.has_value());
  EXPECT_EQ(rd2.hard_state->commit(), last + 1);
}

// A batch of proposals becomes one MsgAppend per follower, not one per proposal.
TEST(RawNodeTest, ProposeBatchSendsOneAppendPerFollower) {
  MemoryStorage s(voters({1, 2}));
  RawNode n(config(1), s);
  elect(n, s);
  const uint64_t last = n.raft().log().last_index();
  ASSERT_FALSE(n.propose_batch({"a", "b", "c"}));
  Ready rd = n.ready();
  ASSERT_EQ(rd.entries.size(), 3u);
  EXPECT_EQ(rd.entries[0].index(), last + 1);
  EXPECT_EQ(rd.entries[2].data(), "c");
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].msg_type(), eraftpb::MsgAppend);
  EXPECT_EQ(rd.messages[0].entries_size(), 3);
  EXPECT_EQ(n.propose_batch({}), make_error_code(Error::kInvalidMessage));
}

// A follower forwards the whole batch to the leader in one MsgPropose.
TEST(RawNodeTest, FollowerForwardsABatchInOneMessage) {
  MemoryStorage s(voters({1, 2}));
  RawNode n(config(2), s);
  Message hb;
  hb.set_msg_type(eraftpb::MsgHeartbeat);
  hb.set_from(1);
  hb.set_to(2);
  hb.set_term(1);
  ASSERT_FALSE(n.step(hb));
  n.advance(n.ready());
  ASSERT_FALSE(n.propose_batch({"a", "b"}));
  Ready rd = n.ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].msg_type(), eraftpb::MsgPropose);
  EXPECT_EQ(rd.messages[0].to(), 1u);
  EXPECT_EQ(rd.messages[0].entries_size(), 2);
}

// A follower acknowledges entries only after they are durable.
TEST(RawNodeTest, FollowerAcknowledgesOnlyAfterPersisting) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(2), s);
  Message app;
  app.set_msg_type(eraftpb::MsgAppend);
  app.set_from(1);
  app.set_to(2);
  app.set_term(1);
  app.set_index(0);
  app.set_log_term(0);
  Entry* e = app.add_entries();
  e->set_term(1);
  e->set_index(1);
  e->set_data("a");
  ASSERT_FALSE(n.step(app));
  Ready rd = n.ready();
  EXPECT_TRUE(rd.messages.empty());
  ASSERT_EQ(rd.persisted_messages.size(), 1u);
  EXPECT_EQ(rd.persisted_messages[0].msg_type(), eraftpb::MsgAppendResponse);
  EXPECT_EQ(rd.persisted_messages[0].index(), 1u);
  ASSERT_EQ(rd.entries.size(), 1u);
}

// Entries handed out in one Ready are not handed out again while their write is in flight.
TEST(RawNodeTest, AsyncReadiesDoNotRepeatEntries) {
  MemoryStorage s(voters({1}));
  RawNode n(config(1), s);
  ASSERT_FALSE(n.campaign());
  Ready r1 = n.ready();  // term, vote, the leader's empty entry
  EXPECT_EQ(n.raft().state(), StateRole::kLeader);
  ASSERT_EQ(r1.entries.size(), 1u);
  n.advance_append_async(r1);
  ASSERT_FALSE(n.propose("a"));
  Ready r2 = n.ready();
  ASSERT_EQ(r2.entries.size(), 1u);
  EXPECT_EQ(r2.entries[0].data(), "a");
  EXPECT_EQ(r2.number, r1.number + 1);
  // Nothing is committed before the single node's own writes are durable.
  EXPECT_EQ(n.raft().log().committed(), 0u);
  EXPECT_FALSE(n.has_ready());

  persist(s, r1);
  persist(s, r2);
  n.on_persist_ready(r2.number);  // covers r1 as well: writes are durable in order
  EXPECT_EQ(n.raft().log().committed(), 2u);
  Ready r3 = n.ready();
  ASSERT_EQ(r3.committed_entries.size(), 2u);
  EXPECT_EQ(r3.committed_entries[1].data(), "a");
  n.advance(r3);
  EXPECT_EQ(n.raft().log().applied(), 2u);
}

// While an earlier Ready that changed term or vote is still being written, later Readies hold
// their messages too.
TEST(RawNodeTest, UnpersistedVoteHoldsLaterMessages) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(2), s);
  Message vote;
  vote.set_msg_type(eraftpb::MsgRequestVote);
  vote.set_from(1);
  vote.set_to(2);
  vote.set_term(1);
  ASSERT_FALSE(n.step(vote));
  Ready r1 = n.ready();
  ASSERT_TRUE(r1.hard_state.has_value());
  EXPECT_EQ(r1.hard_state->vote(), 1u);
  n.advance_append_async(r1);
  // Before r1 is durable, a heartbeat response must not leave either.
  Message hb;
  hb.set_msg_type(eraftpb::MsgHeartbeat);
  hb.set_from(1);
  hb.set_to(2);
  hb.set_term(1);
  ASSERT_FALSE(n.step(hb));
  Ready r2 = n.ready();
  EXPECT_TRUE(r2.messages.empty());
  EXPECT_TRUE(has_type(r2.persisted_messages, eraftpb::MsgHeartbeatResponse));
  n.on_persist_ready(r2.number);
  // Once durable, messages flow freely again.
  ASSERT_FALSE(n.step(hb));
  Ready r3 = n.ready();
  EXPECT_TRUE(has_type(r3.messages, eraftpb::MsgHeartbeatResponse));
}

TEST(RawNodeTest, StepRejectsLocalAndUnknownResponses) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(1), s);
  Message hup;
  hup.set_msg_type(eraftpb::MsgHup);
  hup.set_from(2);
  EXPECT_EQ(n.step(hup), make_error_code(Error::kStepLocalMsg));
  Message resp = append_response(9, 1, 0, 0);
  EXPECT_EQ(n.step(resp), make_error_code(Error::kStepPeerNotFound));
  Message bogus;
  bogus.set_msg_type(static_cast<MessageType>(99));
  bogus.set_from(2);
  bogus.set_to(1);
  EXPECT_EQ(n.step(bogus), make_error_code(Error::kInvalidMessage));
}

TEST(RawNodeTest, ProposalWithoutLeaderIsDropped) {
  MemoryStorage s(voters({1, 2, 3}));
  RawNode n(config(1), s);
  EXPECT_EQ(n.propose("x"), make_error_code(Error::kProposalDropped));
}

TEST(RawNodeTest, SecondConfChangeWhilePendingIsRefused) {
  MemoryStorage s(voters({1}));
  RawNode n(config(1), s);
  ASSERT_FALSE(n.campaign());
  Ready rd = n.ready();
  persist(s, rd);
  n.advance(rd);
  while (n.has_ready()) {
    Ready r = n.ready();
    persist(s, r);
    n.advance(r);
  }
  ConfChange cc;
  cc.set_change_type(eraftpb::AddNode);
  cc.set_node_id(2);
  ASSERT_FALSE(n.propose_conf_change(cc));
  cc.set_node_id(3);
  EXPECT_EQ(n.propose_conf_change(cc), make_error_code(Error::kConfChangePending));
}

TEST(RawNodeTest, SingleNodeReadIndexAnswersAtOnce) {
  MemoryStorage s(voters({1}));
  RawNode n(config(1), s);
  ASSERT_FALSE(n.campaign());
  while (n.has_ready()) {
    Ready r = n.ready();
    persist(s, r);
    n.advance(r);
  }
  ASSERT_FALSE(n.read_index("r1"));
  Ready rd = n.ready();
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0].request_ctx, "r1");
  EXPECT_EQ(rd.read_states[0].index, n.raft().log().committed());
}

}  // namespace
}  // namespace raft
