// Bad input from the network: the core must reject or ignore it, never throw, and never let it
// change what it should not. Explicit cases name the error code RawNode::step returns and check
// that term, vote, leader, log and commit are untouched where the input is to be ignored; a
// seeded randomized run throws thousands of malformed and arbitrary messages at a leader, a
// follower and a candidate, checking the node's invariants after every step.
//
// The cases under "Found by fuzzing" are inputs tests/fuzz/raft_fuzz found that the core once
// mishandled (a term-0 message bypassing the term rules, a forged sender, wrapping terms and
// indexes, a snapshot above the message's term).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "raft/errors.h"
#include "raft/invariants.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace raft {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

std::error_code code(Error e) { return make_error_code(e); }

ConfState three_voters() {
  ConfState cs;
  for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
  return cs;
}

Entry entry(uint64_t index, uint64_t term, std::string data = {}) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

Message msg(MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_msg_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

// What ignored input must leave alone.
struct Observed {
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t lead = 0;
  StateRole role = StateRole::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  EntryVec log;

  static Observed of(const Raft& r) {
    return {r.term(),
            r.vote(),
            r.leader_id(),
            r.state(),
            r.log().committed(),
            r.log().applied(),
            r.log().all_entries()};
  }
  bool operator==(const Observed& o) const {
    if (term != o.term || vote != o.vote || lead != o.lead || role != o.role ||
        commit != o.commit || applied != o.applied || log.size() != o.log.size()) {
      return false;
    }
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].SerializeAsString() != o.log[i].SerializeAsString()) return false;
    }
    return true;
  }
};

std::ostream& operator<<(std::ostream& os, const Observed& o) {
  os << "term=" << o.term << " vote=" << o.vote << " lead=" << o.lead
     << " role=" << to_string(o.role) << " commit=" << o.commit << " applied=" << o.applied
     << " log=[";
  for (const Entry& e : o.log) os << ' ' << describe(e);
  return os << " ]";
}

// One node of {1, 2, 3} over its own MemoryStorage, driven synchronously. Every node starts
// from the same durable state: entries 1/1 2/1 3/2 4/2 5/2, term 2, commit 3.
class Node {
 public:
  explicit Node(uint64_t id, bool check_quorum = false, bool pre_vote = false)
      : storage_(three_voters()) {
    storage_.append({entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 2)});
    HardState hs;
    hs.set_term(2);
    hs.set_vote(1);
    hs.set_commit(3);
    storage_.set_hard_state(hs);
    Config cfg;
    cfg.id = id;
    cfg.check_quorum = check_quorum;
    cfg.pre_vote = pre_vote;
    raw_ = std::make_unique<RawNode>(cfg, storage_);
  }

  // Node 2, following leader 1 at term 2.
  static std::unique_ptr<Node> follower(bool check_quorum = false, bool pre_vote = false) {
    auto n = std::make_unique<Node>(2, check_quorum, pre_vote);
    Message hb = msg(eraftpb::MsgHeartbeat, 1, 2, 2);
    hb.set_commit(3);
    EXPECT_FALSE(n->raw().step(hb));
    n->drain();
    EXPECT_EQ(n->raft().state(), StateRole::kFollower);
    EXPECT_EQ(n->raft().leader_id(), 1u);
    return n;
  }

  // Node 3, campaigning at term 3 (votes requested, none answered).
  static std::unique_ptr<Node> candidate(bool check_quorum = false) {
    auto n = std::make_unique<Node>(3, check_quorum, false);
    EXPECT_FALSE(n->raw().campaign());
    n->drain();
    EXPECT_EQ(n->raft().state(), StateRole::kCandidate);
    EXPECT_EQ(n->raft().term(), 3u);
    return n;
  }

  // Node 1, leader at term 3 with its empty entry 6/3 committed through node 2; node 3 has
  // not answered.
  static std::unique_ptr<Node> leader(bool check_quorum = false, bool pre_vote = false) {
    auto n = std::make_unique<Node>(1, check_quorum, pre_vote);
    EXPECT_FALSE(n->raw().campaign());
    n->drain();
    const uint64_t term = n->raft().term();
    if (pre_vote) {
      Message grant = msg(eraftpb::MsgRequestPreVoteResponse, 2, 1, term + 1);
      EXPECT_FALSE(n->raw().step(grant));
      n->drain();
    }
    EXPECT_FALSE(n->raw().step(msg(eraftpb::MsgRequestVoteResponse, 2, 1, 3)));
    n->drain();
    EXPECT_EQ(n->raft().state(), StateRole::kLeader);
    Message ack = msg(eraftpb::MsgAppendResponse, 2, 1, 3);
    ack.set_index(6);
    EXPECT_FALSE(n->raw().step(ack));
    n->drain();
    EXPECT_EQ(n->raft().log().committed(), 6u);
    return n;
  }

  RawNode& raw() { return *raw_; }
  Raft& raft() { return raw_->raft(); }
  MemoryStorage& storage() { return storage_; }
  Observed observed() const { return Observed::of(raw_->raft()); }
  void check_invariants() { checker_.check(raw_->raft()); }

  // Handles every Ready as a synchronous driver would; returns the messages sent.
  std::vector<Message> drain() {
    std::vector<Message> sent;
    while (raw_->has_ready()) {
      Ready rd = raw_->ready();
      if (rd.snapshot) {
        EXPECT_FALSE(storage_.apply_snapshot(*rd.snapshot));
      }
      EXPECT_FALSE(storage_.append(rd.entries));
      if (rd.hard_state) storage_.set_hard_state(*rd.hard_state);
      for (const Entry& e : rd.committed_entries) apply(e);
      for (auto& m : rd.messages) sent.push_back(std::move(m));
      for (auto& m : rd.persisted_messages) sent.push_back(std::move(m));
      for (auto& rs : rd.read_states) read_states_.push_back(std::move(rs));
      raw_->advance(rd);
    }
    return sent;
  }

  const std::vector<ReadState>& read_states() const { return read_states_; }

 private:
  void apply(const Entry& e) {
    if (e.entry_type() == eraftpb::EntryConfChange) {
      ConfChange cc;
      if (cc.ParseFromString(e.data())) storage_.set_conf_state(raw_->apply_conf_change(cc));
    } else if (e.entry_type() == eraftpb::EntryConfChangeV2) {
      ConfChangeV2 cc;
      if (cc.ParseFromString(e.data())) storage_.set_conf_state(raw_->apply_conf_change(cc));
    }
  }

  MemoryStorage storage_;
  std::unique_ptr<RawNode> raw_;
  InvariantChecker checker_;
  std::vector<ReadState> read_states_;
};

enum class Role { kLeader, kFollower, kCandidate };

std::unique_ptr<Node> make(Role role, bool check_quorum = false, bool pre_vote = false) {
  switch (role) {
    case Role::kLeader: return Node::leader(check_quorum, pre_vote);
    case Role::kFollower: return Node::follower(check_quorum, pre_vote);
    case Role::kCandidate: return Node::candidate(check_quorum);
  }
  return nullptr;
}

const char* name(Role role) {
  switch (role) {
    case Role::kLeader: return "leader";
    case Role::kFollower: return "follower";
    case Role::kCandidate: return "candidate";
  }
  return "?";
}

uint64_t id_of(Role role) {
  switch (role) {
    case Role::kLeader: return 1;
    case Role::kFollower: return 2;
    case Role::kCandidate: return 3;
  }
  return 0;
}

constexpr Role kRoles[] = {Role::kLeader, Role::kFollower, Role::kCandidate};

// A placeholder term that expect_rejected_everywhere replaces with the node's own.
constexpr uint64_t kOwnTerm = kMaxU64 - 1;

// Steps `m` into a node of each role and expects `want` back with nothing changed and nothing
// to hand out.
void expect_rejected_everywhere(const Message& proto, std::error_code want) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    Message m = proto;
    if (m.to() == 0) m.set_to(id_of(role));
    if (m.term() == kOwnTerm) m.set_term(n->raft().term());
    const Observed before = n->observed();
    EXPECT_EQ(n->raw().step(m), want) << describe(m);
    EXPECT_EQ(n->observed(), before);
    EXPECT_FALSE(n->raw().has_ready());
    n->check_invariants();
  }
}

// --- Rejected by validation: kInvalidMessage, nothing changes -------------------------------

TEST(BadInput, UnknownMessageTypeIsInvalid) {
  Message m = msg(static_cast<MessageType>(99), 1, 0, kOwnTerm);
  expect_rejected_everywhere(m, code(Error::kInvalidMessage));
  m.set_msg_type(static_cast<MessageType>(-1));
  expect_rejected_everywhere(m, code(Error::kInvalidMessage));
}

TEST(BadInput, SenderIdZeroIsInvalid) {
  for (MessageType t :
       {eraftpb::MsgAppend, eraftpb::MsgHeartbeat, eraftpb::MsgRequestVote, eraftpb::MsgSnapshot,
        eraftpb::MsgTimeoutNow, eraftpb::MsgReadIndexResp, eraftpb::MsgTransferLeader}) {
    SCOPED_TRACE(eraftpb::MessageType_Name(t));
    expect_rejected_everywhere(msg(t, 0, 0, kOwnTerm), code(Error::kInvalidMessage));
  }
}

TEST(BadInput, MessageToAnotherNodeIsInvalid) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const uint64_t other = id_of(role) % 3 + 1;
    for (MessageType t : {eraftpb::MsgAppend, eraftpb::MsgHeartbeat, eraftpb::MsgRequestVote}) {
      const Observed before = n->observed();
      Message m = msg(t, 1, other, n->raft().term() + 1);
      if (id_of(role) == 1) m.set_from(2);
      EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage)) << describe(m);
      m.set_to(7);  // not even a member
      EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage)) << describe(m);
      EXPECT_EQ(n->observed(), before);
      EXPECT_FALSE(n->raw().has_ready());
    }
  }
}

TEST(BadInput, AppendWithNonContiguousEntriesIsInvalid) {
  Message m = msg(eraftpb::MsgAppend, 1, 0, kOwnTerm);
  m.set_index(5);
  m.set_log_term(2);
  m.set_commit(5);
  *m.add_entries() = entry(6, 2);
  *m.add_entries() = entry(8, 2);  // gap
  expect_rejected_everywhere(m, code(Error::kInvalidMessage));
  m.mutable_entries(1)->set_index(6);  // repeated index
  expect_rejected_everywhere(m, code(Error::kInvalidMessage));
  m.mutable_entries(0)->set_index(7);  // does not start right after index
  m.mutable_entries(1)->set_index(8);
  expect_rejected_everywhere(m, code(Error::kInvalidMessage));
}

TEST(BadInput, AppendWithEntryTermsOutOfOrderIsInvalid) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const uint64_t term = n->raft().term();
    const uint64_t from = id_of(role) == 1 ? 2 : 1;
    const Observed before = n->observed();
    Message m = msg(eraftpb::MsgAppend, from, id_of(role), term);
    m.set_index(5);
    m.set_log_term(2);
    *m.add_entries() = entry(6, term + 1);  // above the message's term
    EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
    m.mutable_entries(0)->set_term(1);  // below the previous entry's term
    EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
    m.mutable_entries(0)->set_term(term);
    m.set_log_term(term + 1);  // previous term above the message's term
    EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
    m.set_log_term(2);
    m.mutable_entries(0)->set_entry_type(static_cast<EntryType>(7));  // unknown entry type
    EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
    EXPECT_EQ(n->observed(), before);
    EXPECT_FALSE(n->raw().has_ready());
  }
}

TEST(BadInput, ProposalWithoutEntriesAndReadWithoutContextAreInvalid) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const Observed before = n->observed();
    EXPECT_EQ(n->raw().step(msg(eraftpb::MsgPropose, 2, id_of(role), 0)),
              code(Error::kInvalidMessage));
    Message read = msg(eraftpb::MsgReadIndex, 2, id_of(role), 0);
    EXPECT_EQ(n->raw().step(read), code(Error::kInvalidMessage));
    read.add_entries()->set_data("a");
    read.add_entries()->set_data("b");
    EXPECT_EQ(n->raw().step(read), code(Error::kInvalidMessage));
    EXPECT_EQ(n->observed(), before);
    EXPECT_FALSE(n->raw().has_ready());
  }
}

// --- Refused by RawNode: local types and strangers ------------------------------------------

TEST(BadInput, LocalMessageTypesFromTheNetworkAreRefused) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    for (MessageType t : {eraftpb::MsgHup, eraftpb::MsgBeat, eraftpb::MsgUnreachable,
                          eraftpb::MsgSnapStatus, eraftpb::MsgCheckQuorum}) {
      SCOPED_TRACE(eraftpb::MessageType_Name(t));
      const Observed before = n->observed();
      for (uint64_t from : {0, 1, 2, 3, 9}) {
        Message m = msg(t, from, id_of(role), 0);
        EXPECT_EQ(n->raw().step(m), code(Error::kStepLocalMsg));
        m.set_term(n->raft().term() + 5);  // not even a higher term gets through
        EXPECT_EQ(n->raw().step(m), code(Error::kStepLocalMsg));
      }
      EXPECT_EQ(n->observed(), before);
      EXPECT_FALSE(n->raw().has_ready());
    }
  }
}

TEST(BadInput, ResponseFromUnknownPeerIsRefused) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const uint64_t term = n->raft().term();
    for (MessageType t : {eraftpb::MsgAppendResponse, eraftpb::MsgHeartbeatResponse,
                          eraftpb::MsgRequestVoteResponse, eraftpb::MsgRequestPreVoteResponse}) {
      SCOPED_TRACE(eraftpb::MessageType_Name(t));
      const Observed before = n->observed();
      for (uint64_t from : {4, 5, 1000}) {
        Message m = msg(t, from, id_of(role), term);
        m.set_index(6);
        EXPECT_EQ(n->raw().step(m), code(Error::kStepPeerNotFound));
        m.set_term(term + 1);  // a stranger's higher term must not move ours
        EXPECT_EQ(n->raw().step(m), code(Error::kStepPeerNotFound));
      }
      EXPECT_EQ(n->observed(), before);
      EXPECT_FALSE(n->raw().has_ready());
    }
  }
}

TEST(BadInput, VoteFromUnknownPeerDoesNotElectCandidate) {
  auto n = Node::candidate();
  for (uint64_t from : {4, 5}) {
    EXPECT_EQ(n->raw().step(msg(eraftpb::MsgRequestVoteResponse, from, 3, 3)),
              code(Error::kStepPeerNotFound));
  }
  EXPECT_EQ(n->raft().state(), StateRole::kCandidate);
}

// --- Accepted but must not be believed ------------------------------------------------------

TEST(BadInput, HeartbeatWithCommitPastLastIndexDoesNotMoveCommit) {
  auto n = Node::follower();
  const Observed before = n->observed();
  for (uint64_t commit : {uint64_t{6}, uint64_t{1000}, kMaxU64}) {
    Message hb = msg(eraftpb::MsgHeartbeat, 1, 2, 2);
    hb.set_commit(commit);
    if (commit == kMaxU64) {
      // Implausibly large values are refused outright (they could wrap around).
      EXPECT_EQ(n->raw().step(hb), make_error_code(Error::kInvalidMessage));
      EXPECT_EQ(n->observed(), before);
      EXPECT_TRUE(n->drain().empty());
      continue;
    }
    EXPECT_FALSE(n->raw().step(hb));
    EXPECT_EQ(n->observed(), before);
    const auto sent = n->drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].msg_type(), eraftpb::MsgHeartbeatResponse);
    EXPECT_EQ(sent[0].to(), 1u);
    n->check_invariants();
  }
  // A commit within the log is still taken: the check is not a blanket refusal.
  Message hb = msg(eraftpb::MsgHeartbeat, 1, 2, 2);
  hb.set_commit(5);
  EXPECT_FALSE(n->raw().step(hb));
  EXPECT_EQ(n->raft().log().committed(), 5u);
}

TEST(BadInput, AppendPastTheLogIsRejectedWithoutChange) {
  auto n = Node::follower();
  const Observed before = n->observed();
  for (uint64_t index : {uint64_t{9}, kMaxU64 - 1, kMaxU64}) {
    Message m = msg(eraftpb::MsgAppend, 1, 2, 2);
    m.set_index(index);
    m.set_log_term(2);
    m.set_commit(index);
    if (index >= kMaxU64 - 1) {
      EXPECT_EQ(n->raw().step(m), make_error_code(Error::kInvalidMessage)) << describe(m);
      EXPECT_EQ(n->observed(), before);
      EXPECT_TRUE(n->drain().empty());
      continue;
    }
    EXPECT_FALSE(n->raw().step(m)) << describe(m);
    EXPECT_EQ(n->observed(), before);
    const auto sent = n->drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].msg_type(), eraftpb::MsgAppendResponse);
    EXPECT_TRUE(sent[0].reject());
    EXPECT_LE(sent[0].reject_hint(), 5u);
    n->check_invariants();
  }
}

TEST(BadInput, AppendResponseAcknowledgingPastLastIndexIsIgnored) {
  auto n = Node::leader();
  const Observed before = n->observed();
  const uint64_t match3 = n->raft().tracker().progress.at(3).match;
  const uint64_t match2 = n->raft().tracker().progress.at(2).match;
  for (uint64_t index : {uint64_t{7}, uint64_t{1} << 40, kMaxU64}) {
    for (uint64_t from : {2, 3}) {
      Message ack = msg(eraftpb::MsgAppendResponse, from, 1, 3);
      ack.set_index(index);
      if (index == kMaxU64) {
        EXPECT_EQ(n->raw().step(ack), make_error_code(Error::kInvalidMessage));
      } else {
        EXPECT_FALSE(n->raw().step(ack));
      }
    }
  }
  EXPECT_EQ(n->observed(), before);
  EXPECT_EQ(n->raft().tracker().progress.at(2).match, match2);
  EXPECT_EQ(n->raft().tracker().progress.at(3).match, match3);
  for (const auto& [id, pr] : n->raft().tracker().progress) {
    EXPECT_LE(pr.match, n->raft().log().last_index()) << id;
    EXPECT_LT(pr.match, pr.next) << id;
  }
  n->drain();
  n->check_invariants();
}

TEST(BadInput, SnapshotThatIsEmptyIsIgnored) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message m = msg(eraftpb::MsgSnapshot, 1, 2, 2);
  EXPECT_FALSE(n->raw().step(m));                         // no snapshot field at all
  m.mutable_snapshot()->mutable_metadata()->set_term(2);  // index 0: the empty snapshot
  m.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(2);
  EXPECT_FALSE(n->raw().step(m));
  EXPECT_EQ(n->observed(), before);
  const auto sent = n->drain();
  ASSERT_EQ(sent.size(), 2u);
  for (const Message& resp : sent) {
    EXPECT_EQ(resp.msg_type(), eraftpb::MsgAppendResponse);
    EXPECT_EQ(resp.index(), 3u);  // what it has committed
    EXPECT_FALSE(resp.reject());
  }
  EXPECT_FALSE(n->raft().log().has_next_or_in_progress_snapshot());
}

TEST(BadInput, SnapshotWhoseConfStateLacksTheNodeIsIgnored) {
  auto n = Node::follower();
  const Observed before = n->observed();
  const auto confs = [] {
    std::vector<ConfState> v(4);
    v[0].add_voters(1);
    v[0].add_voters(3);
    v[1].add_learners(4);
    v[1].add_voters(1);
    // v[2]: nobody at all.
    v[3].add_voters(1);
    v[3].add_learners_next(2);  // learners_next alone is not membership
    return v;
  }();
  for (const ConfState& cs : confs) {
    SCOPED_TRACE(describe(cs));
    Message m = msg(eraftpb::MsgSnapshot, 1, 2, 2);
    auto* meta = m.mutable_snapshot()->mutable_metadata();
    meta->set_index(10);
    meta->set_term(2);
    *meta->mutable_conf_state() = cs;
    m.mutable_snapshot()->set_data("state");
    EXPECT_FALSE(n->raw().step(m));
    EXPECT_EQ(n->observed(), before);
    const auto sent = n->drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].msg_type(), eraftpb::MsgAppendResponse);
    EXPECT_EQ(sent[0].index(), 3u);
    EXPECT_FALSE(n->raft().log().has_next_or_in_progress_snapshot());
    EXPECT_EQ(n->storage().first_index(), 1u);
    n->check_invariants();
  }
}

TEST(BadInput, SnapshotWithContradictoryConfStateIsIgnored) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message m = msg(eraftpb::MsgSnapshot, 1, 2, 2);
  auto* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(10);
  meta->set_term(2);
  meta->mutable_conf_state()->add_voters(2);
  meta->mutable_conf_state()->add_learners(2);  // both voter and learner
  EXPECT_FALSE(n->raw().step(m));
  EXPECT_EQ(n->observed(), before);
  EXPECT_FALSE(n->raft().log().has_next_or_in_progress_snapshot());
  meta->mutable_conf_state()->clear_learners();
  meta->mutable_conf_state()->add_voters(0);  // node id 0
  EXPECT_FALSE(n->raw().step(m));
  EXPECT_EQ(n->observed(), before);
  EXPECT_FALSE(n->raft().log().has_next_or_in_progress_snapshot());
}

TEST(BadInput, ReadIndexResponseNeedsExactlyOneEntry) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message m = msg(eraftpb::MsgReadIndexResp, 1, 2, 2);
  m.set_index(3);
  EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
  m.add_entries()->set_data("a");
  m.add_entries()->set_data("b");
  EXPECT_EQ(n->raw().step(m), code(Error::kInvalidMessage));
  EXPECT_EQ(n->observed(), before);
  n->drain();
  EXPECT_TRUE(n->read_states().empty());

  // The well-formed one is delivered, so the refusal above is about the shape.
  Message ok = msg(eraftpb::MsgReadIndexResp, 1, 2, 2);
  ok.set_index(3);
  ok.add_entries()->set_data("ctx");
  EXPECT_FALSE(n->raw().step(ok));
  n->drain();
  ASSERT_EQ(n->read_states().size(), 1u);
  EXPECT_EQ(n->read_states()[0].index, 3u);
  EXPECT_EQ(n->read_states()[0].request_ctx, "ctx");
}

TEST(BadInput, ReadIndexResponseToLeaderOrCandidateIsIgnored) {
  for (Role role : {Role::kLeader, Role::kCandidate}) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const Observed before = n->observed();
    Message m = msg(eraftpb::MsgReadIndexResp, 2, id_of(role), n->raft().term());
    if (role == Role::kCandidate) m.set_from(1);
    m.set_index(100);
    m.add_entries()->set_data("ctx");
    EXPECT_FALSE(n->raw().step(m));
    EXPECT_EQ(n->observed(), before);
    n->drain();
    EXPECT_TRUE(n->read_states().empty());
  }
}

TEST(BadInput, StaleTermMessagesAreIgnored) {
  for (Role role : kRoles) {
    SCOPED_TRACE(name(role));
    auto n = make(role);
    const Observed before = n->observed();
    const uint64_t from = id_of(role) == 1 ? 2 : 1;
    Message app = msg(eraftpb::MsgAppend, from, id_of(role), 1);
    app.set_index(5);
    app.set_log_term(1);
    app.set_commit(5);
    Message hb = msg(eraftpb::MsgHeartbeat, from, id_of(role), 1);
    hb.set_commit(5);
    Message snap = msg(eraftpb::MsgSnapshot, from, id_of(role), 1);
    snap.mutable_snapshot()->mutable_metadata()->set_index(20);
    snap.mutable_snapshot()->mutable_metadata()->set_term(1);
    snap.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(id_of(role));
    for (const Message& m : {app, hb, snap}) {
      EXPECT_FALSE(n->raw().step(m)) << describe(m);
      EXPECT_EQ(n->observed(), before) << describe(m);
    }
    // The stale append and heartbeat are answered with our term only (§5.1), so the stale
    // leader steps down; the stale snapshot gets no answer.
    const auto sent = n->drain();
    ASSERT_EQ(sent.size(), 2u);
    for (const Message& m : sent) {
      EXPECT_EQ(m.msg_type(), eraftpb::MsgAppendResponse) << describe(m);
      EXPECT_EQ(m.to(), from);
      EXPECT_EQ(m.term(), n->raft().term());
      EXPECT_FALSE(m.reject());
      EXPECT_EQ(m.index(), 0u);
    }
  }
}

// Two leaders in one term cannot exist, so a snapshot "from the leader" of the leader's own term
// is a confused or forged peer.
TEST(BadInput, SnapshotToLeaderIsNotInstalled) {
  auto n = Node::leader();
  const Observed before = n->observed();
  Message m = msg(eraftpb::MsgSnapshot, 2, 1, 3);
  auto* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(50);
  meta->set_term(3);
  *meta->mutable_conf_state() = three_voters();
  EXPECT_FALSE(n->raw().step(m));
  EXPECT_EQ(n->observed(), before);
  n->drain();
  EXPECT_FALSE(n->raft().log().has_next_or_in_progress_snapshot());
  n->check_invariants();
}

// --- Found by fuzzing ----------------------------------------------------------------------
// Each is a message from the network alone.

// Raft::step_term takes any term-0 message for a local one; granting a vote answers with term 0
// and Raft::send() throws InvariantViolation "term should be set when sending
// MsgRequestVoteResponse".
TEST(BadInput, VoteRequestWithTermZeroIsRejected) {
  for (MessageType t : {eraftpb::MsgRequestVote, eraftpb::MsgRequestPreVote}) {
    SCOPED_TRACE(eraftpb::MessageType_Name(t));
    Node n(1);
    // A vote request at term 3 with a stale log: refused, but the node moves to term 3 with no
    // vote and no leader, free to grant the next one.
    Message stale = msg(eraftpb::MsgRequestVote, 3, 1, 3);
    stale.set_index(1);
    stale.set_log_term(1);
    EXPECT_FALSE(n.raw().step(stale));
    n.drain();
    ASSERT_EQ(n.raft().term(), 3u);
    ASSERT_EQ(n.raft().vote(), kNone);
    const Observed before = n.observed();
    Message m = msg(t, 3, 1, 0);
    m.set_index(5);
    m.set_log_term(2);
    EXPECT_NO_THROW((void)n.raw().step(m)) << describe(m);
    EXPECT_EQ(n.observed(), before);
    EXPECT_NO_THROW(n.drain());
  }
}

// A term-0 heartbeat skips the term check: the follower names the sender leader and commits up
// to its last index, entries that may never have been committed by the real leader.
TEST(BadInput, HeartbeatWithTermZeroDoesNotMoveCommit) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message hb = msg(eraftpb::MsgHeartbeat, 3, 2, 0);
  hb.set_commit(5);
  (void)n->raw().step(hb);
  EXPECT_EQ(n->observed(), before);
}

// A message that claims to come from the node itself is not rejected; a heartbeat "from" itself
// at a higher term makes a follower name itself leader (InvariantChecker: "follower that names
// itself leader").
TEST(BadInput, MessageFromItselfIsRejected) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message hb = msg(eraftpb::MsgHeartbeat, 2, 2, 3);
  (void)n->raw().step(hb);
  EXPECT_NE(n->raft().leader_id(), 2u);
  EXPECT_EQ(n->raft().term(), before.term);
  EXPECT_NO_THROW(n->check_invariants());
}

// A term of 2^64 - 1 is adopted; the next campaign wraps the term to 0 and Raft::send() throws
// InvariantViolation "term should be set when sending MsgRequestVote".
TEST(BadInput, HugeTermDoesNotWrap) {
  auto n = Node::follower();
  Message m = msg(eraftpb::MsgTimeoutNow, 1, 2, kMaxU64);
  EXPECT_NO_THROW((void)n->raw().step(m));
  EXPECT_NO_THROW((void)n->raw().campaign());
  EXPECT_NO_THROW(n->drain());
  EXPECT_NE(n->raft().term(), 0u);
}

// A snapshot whose term is above the term of the message carrying it is installed; the node's
// last log term then exceeds its term (InvariantChecker: "last log term 15 > term").
TEST(BadInput, SnapshotWithTermAboveMessageTermIsIgnored) {
  auto n = Node::follower();
  const Observed before = n->observed();
  Message m = msg(eraftpb::MsgSnapshot, 1, 2, 2);
  auto* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(10);
  meta->set_term(15);
  *meta->mutable_conf_state() = three_voters();
  EXPECT_NO_THROW((void)n->raw().step(m));
  EXPECT_NO_THROW(n->drain());
  EXPECT_LE(n->raft().log().last_term(), n->raft().term());
  EXPECT_NO_THROW(n->check_invariants());
}

// A snapshot at index 2^64 - 1 is installed and first_index() wraps to 0 (InvariantChecker:
// "first index is 0").
TEST(BadInput, SnapshotAtMaxIndexIsIgnored) {
  auto n = Node::follower();
  Message m = msg(eraftpb::MsgSnapshot, 1, 2, 2);
  auto* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(kMaxU64);
  meta->set_term(2);
  *meta->mutable_conf_state() = three_voters();
  EXPECT_NO_THROW((void)n->raw().step(m));
  EXPECT_NE(n->raft().log().first_index(), 0u);
  EXPECT_NO_THROW(n->check_invariants());
}

// --- Randomized -----------------------------------------------------------------------------

class MessageGen {
 public:
  explicit MessageGen(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool coin() { return below(2) == 1; }
  uint64_t any_u64() {
    switch (below(4)) {
      case 0: return 0;
      case 1: return kMaxU64 - below(3);
      case 2: return below(16);
      default: return rng_();
    }
  }
  uint64_t near(uint64_t base) { return below(4) == 0 ? any_u64() : base - 3 + below(7); }

  // A message that validation must refuse (kInvalidMessage), of one of several kinds.
  Message malformed(const Raft& r) {
    Message m = arbitrary(r);
    const uint64_t self = r.id();
    if (m.from() == 0 || m.from() == self) m.set_from(self % 3 + 1);
    switch (below(5)) {
      case 0: m.set_msg_type(static_cast<MessageType>(19 + below(1000))); break;
      case 1:
        m.set_msg_type(static_cast<MessageType>(2 + below(17)));
        if (is_local_msg(m.msg_type())) m.set_msg_type(eraftpb::MsgAppend);
        // Proposals and reads may come without a sender; responses from id 0 are refused
        // earlier, as from a stranger (kStepPeerNotFound).
        if (m.msg_type() == eraftpb::MsgPropose || m.msg_type() == eraftpb::MsgReadIndex ||
            is_response_msg(m.msg_type())) {
          m.set_msg_type(eraftpb::MsgHeartbeat);
        }
        m.set_from(0);
        break;
      case 2:
        m.set_to(self % 3 + 1 + 3 * below(2));
        m.set_msg_type(eraftpb::MsgAppend);
        break;
      case 3: {
        m.set_msg_type(eraftpb::MsgAppend);
        if (m.term() > kMaxU64 - 8) m.set_term(r.term() + 1);  // term + 1 below must not wrap
        m.clear_entries();
        m.set_log_term(std::min(m.log_term(), m.term()));
        const uint64_t n = 2 + below(4);
        for (uint64_t i = 0; i < n; ++i) *m.add_entries() = entry(m.index() + 1 + i, m.log_term());
        const int bad = static_cast<int>(below(n));
        if (coin()) {
          m.mutable_entries(bad)->set_index(m.entries(bad).index() + 1 + below(3));
        } else {
          m.mutable_entries(bad)->set_term(m.term() + 1 + below(3));
        }
        break;
      }
      default:
        m.set_msg_type(eraftpb::MsgReadIndex);
        m.clear_entries();
        for (uint64_t i = below(3) == 0 ? 0 : 2; i > 0; --i) m.add_entries()->set_data("x");
        break;
    }
    return m;
  }

  // Anything: any type, ids 0..5, terms and indexes near the node's or huge, entries of any
  // index, term and type, snapshots with any ConfState.
  Message arbitrary(const Raft& r) {
    Message m;
    m.set_msg_type(static_cast<MessageType>(below(20) < 19 ? below(19) : rng_() % 1000));
    m.set_from(below(6));
    m.set_to(coin() ? r.id() : below(6));
    switch (below(4)) {
      case 0: m.set_term(r.term()); break;
      case 1: m.set_term(r.term() + 1 + below(2)); break;
      case 2: m.set_term(r.term() - 1); break;
      default: m.set_term(near(r.term())); break;
    }
    m.set_index(near(coin() ? r.log().last_index() : r.log().committed()));
    m.set_log_term(coin() ? r.log().zero_term_on_err_compacted(m.index()) : near(m.term()));
    m.set_commit(near(r.log().last_index()));
    const uint64_t entries = below(5);
    const bool plausible = coin();
    uint64_t term = std::min(m.log_term(), m.term());
    for (uint64_t i = 0; i < entries; ++i) {
      Entry* e = m.add_entries();
      if (plausible) {
        e->set_index(m.index() + 1 + i);
        if (term < m.term() && coin()) ++term;
        e->set_term(term);
      } else {
        e->set_index(near(m.index() + 1 + i));
        e->set_term(near(m.term()));
      }
      const uint64_t type = below(4);
      e->set_entry_type(static_cast<EntryType>(type < 3 ? type : rng_() % 100));
      if (type == 1) {
        ConfChange cc;
        cc.set_change_type(static_cast<eraftpb::ConfChangeType>(below(3)));
        cc.set_node_id(below(6));
        e->set_data(cc.SerializeAsString());
      } else if (type == 2) {
        ConfChangeV2 cc;
        cc.set_transition(static_cast<eraftpb::ConfChangeTransition>(below(3)));
        for (uint64_t k = below(3); k > 0; --k) {
          auto* c = cc.add_changes();
          c->set_change_type(static_cast<eraftpb::ConfChangeType>(below(3)));
          c->set_node_id(below(6));
        }
        e->set_data(cc.SerializeAsString());
      } else {
        e->set_data(std::string(below(8), 'd'));
      }
    }
    m.set_reject(coin());
    m.set_reject_hint(near(r.log().last_index()));
    if (below(4) == 0) m.set_request_snapshot(near(r.log().last_index()));
    if (below(4) == 0) m.set_context(coin() ? std::string(kCampaignTransfer) : "ctx");
    if (below(3) == 0) {
      auto* meta = m.mutable_snapshot()->mutable_metadata();
      meta->set_index(near(r.log().committed() + 2));
      meta->set_term(near(m.term()));
      auto* cs = meta->mutable_conf_state();
      for (uint64_t k = below(4); k > 0; --k) cs->add_voters(below(6));
      for (uint64_t k = below(2); k > 0; --k) cs->add_learners(below(6));
      if (below(4) == 0) {
        for (uint64_t k = below(3); k > 0; --k) cs->add_voters_outgoing(below(6));
        cs->set_auto_leave(coin());
      }
    }
    return m;
  }

 private:
  std::mt19937_64 rng_;
};

// Each round builds a node in the role and throws a few messages at it, handling its Readies in
// between; malformed ones must come back kInvalidMessage with nothing changed, arbitrary ones
// must not throw or break an invariant.
void run_randomized(Role role, uint64_t seed, int rounds) {
  MessageGen gen(seed);
  int malformed = 0;
  int arbitrary = 0;
  for (int round = 0; round < rounds; ++round) {
    const bool check_quorum = gen.coin();
    const bool pre_vote = role != Role::kCandidate && gen.coin();
    auto n = make(role, check_quorum, pre_vote);
    n->check_invariants();
    // What this round stepped, printed with any failure so it can be replayed by hand.
    std::string history = "round " + std::to_string(round) +
                          " (check_quorum=" + std::to_string(check_quorum) +
                          " pre_vote=" + std::to_string(pre_vote) + "):";
    for (int step = 0; step < 8; ++step) {
      if (gen.below(3) == 0) {
        const Message m = gen.malformed(n->raft());
        history += "\n  malformed { " + m.ShortDebugString() + " }";
        const Observed before = n->observed();
        const bool had_ready = n->raw().has_ready();
        std::error_code ec;
        ASSERT_NO_THROW(ec = n->raw().step(m)) << history;
        ASSERT_EQ(ec, code(Error::kInvalidMessage)) << history;
        ASSERT_EQ(n->observed(), before) << history;
        ASSERT_EQ(n->raw().has_ready(), had_ready) << history;
        ++malformed;
      } else {
        const Message m = gen.arbitrary(n->raft());
        history += "\n  arbitrary { " + m.ShortDebugString() + " }";
        ASSERT_NO_THROW((void)n->raw().step(m)) << history;
        ++arbitrary;
      }
      if (gen.coin()) {
        history += "\n  tick";
        n->raw().tick();
      }
      ASSERT_NO_THROW(n->drain()) << history;
      ASSERT_NO_THROW(n->check_invariants()) << history;
    }
  }
  // Both kinds were really exercised.
  EXPECT_GT(malformed, rounds);
  EXPECT_GT(arbitrary, rounds * 3);
}

TEST(BadInputRandomized, Leader) { run_randomized(Role::kLeader, 0x1eade5, 1000); }
TEST(BadInputRandomized, Follower) { run_randomized(Role::kFollower, 0xf0110, 1000); }
TEST(BadInputRandomized, Candidate) { run_randomized(Role::kCandidate, 0xca4d1, 1000); }

}  // namespace
}  // namespace raft
