// Leader election (Raft §5.2, §5.4.1) on the deterministic Cluster: the properties that need many
// seeds or exact counts. The step-by-step stories are the scripts tests/raft/testdata/election_*.txt.
#include <gtest/gtest.h>

#include <set>

#include "tests/raft/support/cluster.h"

namespace raft::testing {
namespace {

constexpr int kElectionTick = 10;

ClusterOptions options(std::vector<uint64_t> voters, uint64_t seed,
                       std::function<void(Config&)> configure = {}) {
  ClusterOptions o;
  o.voters = std::move(voters);
  o.seed = seed;
  o.record_events = false;
  o.configure = [configure](Config& c) {
    c.election_tick = kElectionTick;
    c.heartbeat_tick = 1;
    if (configure) configure(c);
  };
  return o;
}

// The leaders of the live nodes (every node that believes it leads).
std::vector<uint64_t> leaders(Cluster& c) {
  std::vector<uint64_t> out;
  for (uint64_t id : c.ids()) {
    if (c.alive(id) && c.node(id).raft().state() == StateRole::kLeader) out.push_back(id);
  }
  return out;
}

// Ticks every node in lockstep (delivering everything after each tick) until some node leads;
// returns the number of ticks, or -1 if none led within max_ticks.
int ticks_until_leader(Cluster& c, int max_ticks) {
  for (int t = 1; t <= max_ticks; ++t) {
    c.tick_all(1);
    if (!leaders(c).empty()) return t;
  }
  return -1;
}

// §5.2: timeouts drawn at random from [election, 2 * election) make one node time out first;
// it wins before anybody else's timer fires. Over many seeds: always exactly one leader that
// every node follows, elected within the first timeout window, and not always the same node.
TEST(ElectionTest, RandomizedTimeoutsElectExactlyOneLeader) {
  std::set<uint64_t> winners;
  int first_term_wins = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Cluster c(options({1, 2, 3, 4, 5}, seed));
    const int ticks = ticks_until_leader(c, 4 * kElectionTick);
    ASSERT_NE(ticks, -1) << "no leader after 4 election timeouts";
    EXPECT_GE(ticks, kElectionTick) << "a timer fired before the minimum timeout";
    const auto lead = leaders(c);
    ASSERT_EQ(lead.size(), 1u);
    const uint64_t term = c.node(lead[0]).raft().term();
    for (uint64_t id : c.ids()) {
      EXPECT_EQ(c.node(id).raft().leader_id(), lead[0]) << "node " << id;
      EXPECT_EQ(c.node(id).raft().term(), term) << "node " << id;
    }
    if (term == 1) ++first_term_wins;
    winners.insert(lead[0]);
  }
  // Collisions (two timers firing on the same tick) are possible but rare; most elections
  // finish in their first term.
  EXPECT_GE(first_term_wins, 30);
  // The winner is whoever drew the shortest timeout, which depends on the seed.
  EXPECT_GE(winners.size(), 3u);
}

// Without randomization every node times out on the same tick, votes for itself, and refuses
// everyone else: split votes forever. This is why §5.2 randomizes.
TEST(ElectionTest, IdenticalTimeoutsSplitTheVoteForever) {
  Cluster c(options({1, 2, 3}, 1, [](Config& cfg) {
    cfg.min_election_tick = kElectionTick;
    cfg.max_election_tick = kElectionTick + 1;  // every timeout is exactly election_tick
  }));
  EXPECT_EQ(ticks_until_leader(c, 10 * kElectionTick), -1);
  // They did try: every node is at the same term, several elections in.
  const uint64_t term = c.node(1).raft().term();
  EXPECT_GE(term, 9u);
  for (uint64_t id : c.ids()) EXPECT_EQ(c.node(id).raft().term(), term);
}

// A leader's heartbeats reset its followers' election timers: once elected, nobody campaigns
// again while the leader is up (terms stay put for many timeouts).
TEST(ElectionTest, HeartbeatsKeepFollowersFromCampaigning) {
  Cluster c(options({1, 2, 3}, 7));
  ASSERT_NE(ticks_until_leader(c, 4 * kElectionTick), -1);
  const uint64_t lead = leaders(c).at(0);
  const uint64_t term = c.node(lead).raft().term();
  c.tick_all(20 * kElectionTick);
  EXPECT_EQ(leaders(c), std::vector<uint64_t>{lead});
  for (uint64_t id : c.ids()) EXPECT_EQ(c.node(id).raft().term(), term);
}

// §5.2: at most one vote per term. A node grants the first candidate of a term, refuses a
// second one in that term, and grants the same candidate again if it asks twice (a retried
// request must not turn a vote into a refusal).
TEST(ElectionTest, VotesOncePerTermButRepeatsTheSameGrant) {
  Cluster c(options({1, 2, 3}, 1));
  auto vote_request = [](uint64_t from, uint64_t term) {
    Message m;
    m.set_msg_type(eraftpb::MsgRequestVote);
    m.set_from(from);
    m.set_to(3);
    m.set_term(term);
    return m;
  };
  // The response node 3 sent to `to` (and clears the network).
  auto response_to = [&](uint64_t to) -> std::optional<Message> {
    while (c.handle_ready(3)) {
    }
    std::optional<Message> out;
    for (const auto& m : c.in_flight()) {
      if (m.from() == 3 && m.to() == to && m.msg_type() == eraftpb::MsgRequestVoteResponse) out = m;
    }
    c.drop_in_flight(1);
    c.drop_in_flight(2);
    return out;
  };

  ASSERT_FALSE(c.step(3, vote_request(1, 1)));
  auto r = response_to(1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject());
  EXPECT_EQ(c.node(3).raft().vote(), 1u);

  ASSERT_FALSE(c.step(3, vote_request(2, 1)));
  r = response_to(2);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->reject()) << "a second vote in term 1";
  EXPECT_EQ(c.node(3).raft().vote(), 1u);

  ASSERT_FALSE(c.step(3, vote_request(1, 1)));
  r = response_to(1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject()) << "the same candidate asking again";

  // A new term is a new vote.
  ASSERT_FALSE(c.step(3, vote_request(2, 2)));
  r = response_to(2);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject());
  EXPECT_EQ(c.node(3).raft().vote(), 2u);
  EXPECT_EQ(c.storage(3).initial_state()->hard_state.vote(), 2u) << "the vote is durable";
}

// §5.4.1, both comparisons, on one voter whose last entry is 2/3 (term 2, index 3):
// a candidate with a lower last term is refused however long its log; with the same last term
// a shorter log is refused and an equal or longer one granted; a higher last term wins even
// with a shorter log.
TEST(ElectionTest, ElectionRestrictionComparesLastTermThenLength) {
  struct Case {
    uint64_t last_term, last_index;
    bool granted;
  };
  const Case cases[] = {
      {1, 10, false},  // lower last term, longer log
      {2, 2, false},   // same last term, shorter
      {2, 3, true},    // identical
      {2, 4, true},    // same last term, longer
      {3, 1, true},    // higher last term, shorter
  };
  for (const Case& k : cases) {
    SCOPED_TRACE("candidate log " + std::to_string(k.last_term) + "/" +
                 std::to_string(k.last_index));
    // Node 3's log: 1/1 (from leader 1 of term 1), then 2/2 and 2/3 from leader 2 of term 2.
    Cluster c(options({1, 2, 3}, 1));
    ASSERT_FALSE(c.campaign(1));
    c.stabilize();
    ASSERT_FALSE(c.campaign(2));
    c.stabilize();
    ASSERT_FALSE(c.propose(2, "x"));
    c.stabilize();
    ASSERT_EQ(c.node(3).raft().log().last_index(), 3u);
    ASSERT_EQ(c.node(3).raft().log().last_term(), 2u);

    Message m;
    m.set_msg_type(eraftpb::MsgRequestVote);
    m.set_from(1);
    m.set_to(3);
    m.set_term(5);
    m.set_log_term(k.last_term);
    m.set_index(k.last_index);
    ASSERT_FALSE(c.step(3, m));
    while (c.handle_ready(3)) {
    }
    bool found = false;
    for (const auto& out : c.in_flight()) {
      if (out.msg_type() != eraftpb::MsgRequestVoteResponse) continue;
      found = true;
      EXPECT_EQ(!out.reject(), k.granted);
      EXPECT_EQ(out.term(), 5u);
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(c.node(3).raft().vote(), k.granted ? 1u : 0u);
    EXPECT_EQ(c.node(3).raft().term(), 5u) << "the higher term is adopted either way";
  }
}

}  // namespace
}  // namespace raft::testing
