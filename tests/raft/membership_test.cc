// Membership changes (Raft paper §6, thesis chapter 4) checks that need exact numbers or many
// steps; the narrated scenarios are tests/raft/testdata/{learner,membership,joint}_*.txt.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

ClusterOptions options(std::vector<uint64_t> voters, bool auto_apply = true) {
  ClusterOptions o;
  o.voters = std::move(voters);
  o.auto_apply = auto_apply;
  return o;
}

void elect(Cluster& c, uint64_t id) {
  ASSERT_FALSE(c.campaign(id));
  c.stabilize();
  ASSERT_EQ(c.leader(), id);
}

ConfChangeSingle change(ConfChangeType type, uint64_t id) {
  ConfChangeSingle s;
  s.set_change_type(type);
  s.set_node_id(id);
  return s;
}

ConfChangeV2 v2(std::vector<ConfChangeSingle> changes,
                ConfChangeTransition t = eraftpb::Auto) {
  ConfChangeV2 cc;
  cc.set_transition(t);
  for (auto& s : changes) *cc.add_changes() = s;
  return cc;
}

std::vector<uint64_t> voters_of(const ConfState& cs) {
  return {cs.voters().begin(), cs.voters().end()};
}

void apply_everything(Cluster& c) {
  for (uint64_t id : c.ids()) {
    while (c.alive(id) && c.apply_one(id)) {
    }
  }
}

// The original single-step ConfChange (EntryConfChange) works like its V2 form.
TEST(MembershipTest, V1ConfChangeAddsAndRemovesAVoter) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  c.add_node(4);
  ConfChange add;
  add.set_change_type(eraftpb::AddNode);
  add.set_node_id(4);
  ASSERT_FALSE(c.propose_conf_change(1, add));
  c.stabilize();
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_EQ(voters_of(c.conf_state(id)), (std::vector<uint64_t>{1, 2, 3, 4})) << id;
  }
  EXPECT_EQ(c.node(1).raft().tracker().progress.at(4).match,
            c.node(1).raft().log().last_index());

  ConfChange remove;
  remove.set_change_type(eraftpb::RemoveNode);
  remove.set_node_id(2);
  ASSERT_FALSE(c.propose_conf_change(1, remove));
  c.stabilize();
  EXPECT_EQ(voters_of(c.conf_state(1)), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_FALSE(c.node(1).raft().tracker().progress.contains(2));
}

// When a change shrinks the quorum, entries already replicated to the smaller majority commit
// the moment the leader applies the change, without waiting for another acknowledgement.
TEST(MembershipTest, ShrinkingTheQuorumCommitsPendingEntriesOnApply) {
  Cluster c(options({1, 2, 3, 4}, /*auto_apply=*/false));
  ASSERT_FALSE(c.campaign(1));
  c.stabilize();
  apply_everything(c);
  ASSERT_EQ(c.leader(), 1u);

  c.isolate(4);
  ASSERT_FALSE(c.propose_conf_change(1, v2({change(eraftpb::RemoveNode, 4)})));
  c.stabilize();
  const uint64_t removal = c.node(1).raft().log().committed();
  ASSERT_EQ(c.pending_applies(1), 1u);  // committed (1, 2, 3 of 4), not yet applied

  // "x" reaches node 2 only: 2 of 4 voters.
  c.isolate(3);
  ASSERT_FALSE(c.propose(1, "x"));
  c.stabilize();
  ASSERT_EQ(c.node(1).raft().log().committed(), removal);

  // Applying the removal makes the voters (1 2 3): "x" is on 2 of 3, committed at once.
  ASSERT_TRUE(c.apply_one(1));
  EXPECT_EQ(voters_of(c.conf_state(1)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(c.node(1).raft().log().committed(), removal + 1);
}

void remove_leader_1(Cluster& c) {
  elect(c, 1);
  ASSERT_FALSE(c.propose_conf_change(1, v2({change(eraftpb::RemoveNode, 1)})));
  c.stabilize();
  ASSERT_EQ(voters_of(c.conf_state(1)), (std::vector<uint64_t>{2, 3}));
}

// A removed leader takes no more proposals, stops leading and never campaigns again; the
// remaining voters elect a leader at a higher term.
TEST(MembershipTest, RemovedLeaderStepsDownAndNeverCampaigns) {
  Cluster c(options({1, 2, 3}));
  ASSERT_NO_FATAL_FAILURE(remove_leader_1(c));
  EXPECT_EQ(c.propose(1, "x"), make_error_code(Error::kProposalDropped));
  EXPECT_EQ(c.campaign(1), make_error_code(Error::kProposalDropped));

  const uint64_t term = c.node(1).raft().term();
  for (int i = 0; i < 5 * c.node(1).raft().config().election_tick; ++i) c.tick_all();
  EXPECT_EQ(c.node(1).raft().term(), term) << "node 1 campaigned";
  EXPECT_EQ(c.node(1).raft().state(), StateRole::kFollower);
  EXPECT_NE(c.node(1).raft().leader_id(), 1u);
  ASSERT_NE(c.leader(), kNone);
  EXPECT_NE(c.leader(), 1u);
  EXPECT_GT(c.node(c.leader()).raft().term(), term);
  const uint64_t leader = c.leader();
  ASSERT_FALSE(c.propose(leader, "y"));
  c.stabilize();
  EXPECT_EQ(c.applied_data(2), std::vector<std::string>{"y"});
  EXPECT_EQ(c.applied_data(3), std::vector<std::string>{"y"});
}

// KNOWN ISSUE (reported to the lead): the removed leader hands leadership over with
// MsgTimeoutNow right after applying its removal, i.e. right after the append that tells the
// transferee the change is committed. The transferee almost always receives it before it has
// applied that change, and a node with a committed but unapplied configuration change refuses
// to campaign; the MsgTimeoutNow is lost and the cluster has no leader until an election
// timeout passes, which the hand-off was meant to avoid.
TEST(MembershipTest, RemovedLeaderHandOffElectsWithoutATimeout) {
  Cluster c(options({1, 2, 3}));
  ASSERT_NO_FATAL_FAILURE(remove_leader_1(c));
  c.stabilize();
  EXPECT_NE(c.leader(), kNone) << "no leader until an election timeout";
  EXPECT_NE(c.leader(), 1u);
}

// A joint configuration with auto_leave is left even if the leader that entered it is gone: the
// next leader proposes the leave once it has applied the entry that entered it.
TEST(MembershipTest, NewLeaderLeavesAnAutoLeaveJointConfiguration) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  c.add_node(4);
  ASSERT_FALSE(c.propose_conf_change(
      1, v2({change(eraftpb::AddNode, 4), change(eraftpb::RemoveNode, 3)})));
  // The enter-joint entry commits and every old member applies it. The leader, on applying
  // it, proposes the leave, but crashes before that proposal leaves its Ready.
  c.handle_ready(1);
  c.stabilize_only(std::set<uint64_t>{2, 3});
  c.deliver(1);
  c.handle_ready(1);  // commits and applies the joint configuration, proposes the leave
  ASSERT_EQ(c.conf_state(1).voters_outgoing_size(), 3);
  ASSERT_TRUE(c.node(1).has_ready());
  c.stabilize_only(std::set<uint64_t>{2, 3});  // they learn commit=2 and apply it
  c.crash(1);
  ASSERT_TRUE(c.conf_state(2).auto_leave());
  ASSERT_EQ(c.conf_state(2).voters_outgoing_size(), 3);

  // Node 2 wins with votes of 3 (outgoing half: 2, 3 of 1 2 3) and 4 (incoming: 2, 4 of 1 2 4).
  elect(c, 2);
  for (uint64_t id : {2, 3, 4}) {
    const ConfState cs = c.conf_state(id);
    EXPECT_EQ(voters_of(cs), (std::vector<uint64_t>{1, 2, 4})) << id;
    EXPECT_EQ(cs.voters_outgoing_size(), 0) << id;
    EXPECT_FALSE(cs.auto_leave()) << id;
  }
}

// A node that applied its own removal is no voter: it never campaigns, whatever its timer does.
TEST(MembershipTest, RemovedFollowerNeverCampaigns) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  ASSERT_FALSE(c.propose_conf_change(1, v2({change(eraftpb::RemoveNode, 3)})));
  c.stabilize();
  ASSERT_EQ(voters_of(c.conf_state(3)), (std::vector<uint64_t>{1, 2}));
  c.isolate(3);
  const uint64_t term = c.node(3).raft().term();
  for (int i = 0; i < 10 * c.node(3).raft().config().election_tick; ++i) c.tick(3);
  c.stabilize();
  EXPECT_EQ(c.node(3).raft().term(), term);
  EXPECT_EQ(c.node(3).raft().state(), StateRole::kFollower);
  EXPECT_EQ(c.campaign(3), make_error_code(Error::kProposalDropped));
}

// Every refusal of the leader, and what it leaves in the log: nothing for a local proposal, an
// empty entry with the proposer's context for a forwarded one.
TEST(MembershipTest, RefusedChangesLeaveNoConfigurationEntry) {
  Cluster c(options({1, 2, 3}));
  elect(c, 1);
  const uint64_t last = c.node(1).raft().log().last_index();
  // Leave while not joint.
  EXPECT_EQ(c.propose_conf_change(1, ConfChangeV2()),
            make_error_code(Error::kConfChangePending));
  EXPECT_EQ(c.node(1).raft().log().last_index(), last);

  c.add_node(4);
  ASSERT_FALSE(c.propose_conf_change(1, v2({change(eraftpb::AddNode, 4)}, eraftpb::Explicit)));
  c.stabilize();
  ASSERT_EQ(c.conf_state(1).voters_outgoing_size(), 3);
  // A change while joint, locally...
  EXPECT_EQ(c.propose_conf_change(1, v2({change(eraftpb::RemoveNode, 2)})),
            make_error_code(Error::kConfChangePending));
  // ...and forwarded.
  ConfChangeV2 fwd = v2({change(eraftpb::RemoveNode, 2)});
  fwd.set_context("from-3");
  ASSERT_FALSE(c.propose_conf_change(3, fwd));
  c.stabilize();
  const Entry e = c.storage(1).entries(c.storage(1).last_index(), c.storage(1).last_index() + 1,
                                       kNoLimit).value()[0];
  EXPECT_EQ(e.entry_type(), eraftpb::EntryNormal);
  EXPECT_TRUE(e.data().empty());
  EXPECT_EQ(e.context(), "from-3");
  EXPECT_EQ(voters_of(c.conf_state(1)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(c.conf_state(1).voters_outgoing_size(), 3);
}

}  // namespace
}  // namespace raft::testing
