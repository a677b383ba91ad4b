// Majority and joint quorum arithmetic: table tests of committed_index and vote_result, and a
// seeded cross-check against the definitions written out the slow way.
#include "raft/quorum/quorum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace raft::quorum {
namespace {

constexpr uint64_t kInf = std::numeric_limits<uint64_t>::max();

using Acks = std::map<uint64_t, uint64_t>;
using Votes = std::map<uint64_t, bool>;

TEST(QuorumTest, VoteResultNames) {
  EXPECT_STREQ(to_string(VoteResult::kPending), "VotePending");
  EXPECT_STREQ(to_string(VoteResult::kLost), "VoteLost");
  EXPECT_STREQ(to_string(VoteResult::kWon), "VoteWon");
}

TEST(QuorumTest, MapAckIndexerReturnsKnownIndexesOnly) {
  MapAckIndexer acks({{1, 7}, {2, 0}});
  EXPECT_EQ(acks.acked_index(1), std::optional<uint64_t>(7));
  // A known 0 is distinct from an unknown index.
  EXPECT_EQ(acks.acked_index(2), std::optional<uint64_t>(0));
  EXPECT_EQ(acks.acked_index(3), std::nullopt);
}

struct MajorityCommitCase {
  std::set<uint64_t> voters;
  Acks acks;
  uint64_t want;
};

TEST(QuorumTest, MajorityCommittedIndexTable) {
  const std::vector<MajorityCommitCase> cases = {
      // Empty config: no constraint at all.
      {{}, {}, kInf},
      {{}, {{1, 5}}, kInf},
      // One voter: its own index; unknown counts as 0.
      {{1}, {}, 0},
      {{1}, {{1, 5}}, 5},
      {{1}, {{2, 9}}, 0},
      // Two voters: both are needed, so the smaller.
      {{1, 2}, {{1, 5}, {2, 3}}, 3},
      {{1, 2}, {{1, 5}}, 0},
      {{1, 2}, {{1, 5}, {2, 5}}, 5},
      // Three voters: the middle one.
      {{1, 2, 3}, {{1, 5}, {2, 3}, {3, 4}}, 4},
      {{1, 2, 3}, {{1, 5}, {2, 5}}, 5},
      {{1, 2, 3}, {{1, 5}}, 0},
      {{1, 2, 3}, {{1, 0}, {2, 0}, {3, 0}}, 0},
      {{1, 2, 3}, {{1, 100}, {2, 1}, {3, 1}}, 1},
      // Acks of non-voters do not count.
      {{1, 2, 3}, {{1, 2}, {4, 100}, {5, 100}}, 0},
      {{1, 2, 3}, {{1, 2}, {2, 2}, {4, 100}, {5, 100}}, 2},
      // Four voters: three are needed.
      {{1, 2, 3, 4}, {{1, 1}, {2, 2}, {3, 3}, {4, 4}}, 2},
      {{1, 2, 3, 4}, {{1, 9}, {2, 9}, {3, 9}}, 9},
      {{1, 2, 3, 4}, {{1, 9}, {2, 9}}, 0},
      // Five voters: three are needed.
      {{1, 2, 3, 4, 5}, {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}}, 3},
      {{1, 2, 3, 4, 5}, {{1, 7}, {2, 8}, {3, 9}}, 7},
      {{1, 2, 3, 4, 5}, {{1, 7}, {2, 8}}, 0},
      // Large indexes survive.
      {{1, 2, 3}, {{1, kInf - 1}, {2, kInf - 1}, {3, 1}}, kInf - 1},
  };
  for (const auto& c : cases) {
    MajorityConfig cfg(c.voters);
    EXPECT_EQ(cfg.committed_index(MapAckIndexer(c.acks)), c.want)
        << "voters=" << cfg.describe() << "\n"
        << cfg.describe(MapAckIndexer(c.acks));
  }
}

struct JointCommitCase {
  std::set<uint64_t> incoming;
  std::set<uint64_t> outgoing;
  Acks acks;
  uint64_t want;
};

TEST(QuorumTest, JointCommittedIndexTable) {
  const std::vector<JointCommitCase> cases = {
      // Both halves empty.
      {{}, {}, {}, kInf},
      // An empty outgoing half defers to the incoming one, and vice versa.
      {{1, 2, 3}, {}, {{1, 5}, {2, 4}, {3, 3}}, 4},
      {{}, {1, 2, 3}, {{1, 5}, {2, 4}, {3, 3}}, 4},
      {{1}, {}, {}, 0},
      // Identical halves behave like one.
      {{1, 2, 3}, {1, 2, 3}, {{1, 5}, {2, 4}, {3, 3}}, 4},
      // Disjoint halves: the smaller of the two.
      {{1, 2, 3}, {4, 5, 6}, {{1, 10}, {2, 10}, {3, 10}, {4, 4}, {5, 4}, {6, 4}}, 4},
      {{1, 2, 3}, {4, 5, 6}, {{1, 3}, {2, 3}, {3, 3}, {4, 8}, {5, 8}, {6, 8}}, 3},
      // Overlapping halves: the new voters 4 and 5 hold the incoming half back.
      {{1, 2, 4, 5}, {1, 2, 3}, {{1, 10}, {2, 10}, {3, 10}, {4, 1}, {5, 2}}, 2},
      // Overlapping halves: the removed voter 3 holds nothing back once 1 and 2 have it.
      {{1, 2}, {1, 2, 3}, {{1, 10}, {2, 10}}, 10},
      // Missing acks in the outgoing half.
      {{1, 2, 3}, {3, 4, 5}, {{1, 10}, {2, 10}, {3, 10}}, 0},
      {{1, 2, 3}, {3, 4, 5}, {{1, 10}, {2, 10}, {3, 10}, {4, 6}}, 6},
      // A single voter in each half.
      {{1}, {2}, {{1, 7}, {2, 5}}, 5},
      {{1}, {2}, {{1, 7}}, 0},
  };
  for (const auto& c : cases) {
    JointConfig cfg{MajorityConfig(c.incoming), MajorityConfig(c.outgoing)};
    EXPECT_EQ(cfg.committed_index(MapAckIndexer(c.acks)), c.want) << cfg.describe();
  }
}

struct MajorityVoteCase {
  std::set<uint64_t> voters;
  Votes votes;
  VoteResult want;
};

TEST(QuorumTest, MajorityVoteResultTable) {
  const std::vector<MajorityVoteCase> cases = {
      // An empty config wins without votes.
      {{}, {}, VoteResult::kWon},
      {{}, {{1, false}}, VoteResult::kWon},
      // One voter.
      {{1}, {}, VoteResult::kPending},
      {{1}, {{1, true}}, VoteResult::kWon},
      {{1}, {{1, false}}, VoteResult::kLost},
      // Two voters: both are needed.
      {{1, 2}, {}, VoteResult::kPending},
      {{1, 2}, {{1, true}}, VoteResult::kPending},
      {{1, 2}, {{1, false}}, VoteResult::kLost},
      {{1, 2}, {{1, true}, {2, false}}, VoteResult::kLost},
      {{1, 2}, {{1, true}, {2, true}}, VoteResult::kWon},
      // Three voters.
      {{1, 2, 3}, {}, VoteResult::kPending},
      {{1, 2, 3}, {{1, true}}, VoteResult::kPending},
      {{1, 2, 3}, {{1, true}, {2, false}}, VoteResult::kPending},
      {{1, 2, 3}, {{1, true}, {2, true}}, VoteResult::kWon},
      {{1, 2, 3}, {{1, false}, {2, false}}, VoteResult::kLost},
      {{1, 2, 3}, {{1, true}, {2, false}, {3, false}}, VoteResult::kLost},
      {{1, 2, 3}, {{1, true}, {2, false}, {3, true}}, VoteResult::kWon},
      // Votes of non-voters are ignored.
      {{1, 2, 3}, {{1, true}, {4, true}, {5, true}}, VoteResult::kPending},
      {{1, 2, 3}, {{1, false}, {4, false}, {5, false}}, VoteResult::kPending},
      // Four voters: three are needed, so two no-votes lose.
      {{1, 2, 3, 4}, {{1, true}, {2, true}}, VoteResult::kPending},
      {{1, 2, 3, 4}, {{1, true}, {2, true}, {3, true}}, VoteResult::kWon},
      {{1, 2, 3, 4}, {{1, false}, {2, false}}, VoteResult::kLost},
      {{1, 2, 3, 4}, {{1, true}, {2, true}, {3, false}}, VoteResult::kPending},
      // Five voters.
      {{1, 2, 3, 4, 5}, {{1, true}, {2, true}, {3, false}, {4, false}}, VoteResult::kPending},
      {{1, 2, 3, 4, 5}, {{1, true}, {2, false}, {3, false}, {4, false}}, VoteResult::kLost},
      {{1, 2, 3, 4, 5}, {{1, true}, {2, true}, {5, true}}, VoteResult::kWon},
  };
  for (const auto& c : cases) {
    MajorityConfig cfg(c.voters);
    EXPECT_EQ(cfg.vote_result(c.votes), c.want) << cfg.describe();
  }
}

struct JointVoteCase {
  std::set<uint64_t> incoming;
  std::set<uint64_t> outgoing;
  Votes votes;
  VoteResult want;
};

TEST(QuorumTest, JointVoteResultTable) {
  const std::vector<JointVoteCase> cases = {
      // Both halves empty: won.
      {{}, {}, {}, VoteResult::kWon},
      // An empty half never stands in the way.
      {{1, 2, 3}, {}, {{1, true}, {2, true}}, VoteResult::kWon},
      {{1, 2, 3}, {}, {{1, true}}, VoteResult::kPending},
      {{1, 2, 3}, {}, {{1, false}, {2, false}}, VoteResult::kLost},
      {{}, {1, 2, 3}, {{1, true}, {2, true}}, VoteResult::kWon},
      {{}, {1, 2, 3}, {{1, false}, {3, false}}, VoteResult::kLost},
      // Overlapping halves (1 2 3)&&(3 4 5).
      {{1, 2, 3}, {3, 4, 5}, {}, VoteResult::kPending},
      // Won in incoming, pending in outgoing.
      {{1, 2, 3}, {3, 4, 5}, {{1, true}, {2, true}}, VoteResult::kPending},
      // Pending in incoming, won in outgoing.
      {{1, 2, 3}, {3, 4, 5}, {{4, true}, {5, true}}, VoteResult::kPending},
      // Won in both (3 counts in both halves).
      {{1, 2, 3}, {3, 4, 5}, {{1, true}, {3, true}, {4, true}}, VoteResult::kWon},
      // Lost in outgoing while the incoming half is still pending: lost.
      {{1, 2, 3}, {3, 4, 5}, {{4, false}, {5, false}}, VoteResult::kLost},
      // Lost in incoming while the outgoing half is still pending: lost.
      {{1, 2, 3}, {3, 4, 5}, {{1, false}, {2, false}}, VoteResult::kLost},
      // Won in incoming, lost in outgoing: lost.
      {{1, 2, 3}, {3, 4, 5}, {{1, true}, {2, true}, {4, false}, {5, false}}, VoteResult::kLost},
      // Lost in incoming, won in outgoing: lost.
      {{1, 2, 3}, {3, 4, 5}, {{1, false}, {2, false}, {4, true}, {5, true}}, VoteResult::kLost},
      // Lost in both.
      {{1, 2, 3}, {3, 4, 5}, {{1, false}, {3, false}, {4, false}}, VoteResult::kLost},
      // One shared no-vote is not yet decisive in either half.
      {{1, 2, 3}, {3, 4, 5}, {{3, false}}, VoteResult::kPending},
      // Identical halves agree.
      {{1, 2, 3}, {1, 2, 3}, {{1, true}, {2, true}}, VoteResult::kWon},
      {{1, 2, 3}, {1, 2, 3}, {{1, false}, {2, false}}, VoteResult::kLost},
      {{1, 2, 3}, {1, 2, 3}, {{1, true}}, VoteResult::kPending},
      // Single voter halves.
      {{1}, {2}, {{1, true}}, VoteResult::kPending},
      {{1}, {2}, {{1, true}, {2, true}}, VoteResult::kWon},
      {{1}, {2}, {{1, true}, {2, false}}, VoteResult::kLost},
  };
  for (const auto& c : cases) {
    JointConfig cfg{MajorityConfig(c.incoming), MajorityConfig(c.outgoing)};
    EXPECT_EQ(cfg.vote_result(c.votes), c.want) << cfg.describe();
  }
}

// The definitions, written out the slow way: the largest index that at least a majority of
// voters have reached; won when a majority said yes, lost when a majority can no longer say yes.
uint64_t naive_committed(const std::set<uint64_t>& voters, const Acks& acks) {
  if (voters.empty()) return kInf;
  const size_t quorum = voters.size() / 2 + 1;
  uint64_t best = 0;
  for (const auto& [unused, candidate] : acks) {
    size_t reached = 0;
    for (uint64_t v : voters) {
      auto it = acks.find(v);
      if (it != acks.end() && it->second >= candidate) ++reached;
    }
    if (reached >= quorum) best = std::max(best, candidate);
  }
  return best;
}

VoteResult naive_vote(const std::set<uint64_t>& voters, const Votes& votes) {
  if (voters.empty()) return VoteResult::kWon;
  const size_t quorum = voters.size() / 2 + 1;
  size_t yes = 0;
  size_t no = 0;
  for (uint64_t v : voters) {
    auto it = votes.find(v);
    if (it == votes.end()) continue;
    (it->second ? yes : no)++;
  }
  if (yes >= quorum) return VoteResult::kWon;
  if (voters.size() - no < quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

std::set<uint64_t> random_ids(std::mt19937_64& rng, size_t max_size) {
  std::set<uint64_t> ids;
  const size_t n = rng() % (max_size + 1);
  while (ids.size() < n) ids.insert(1 + rng() % 9);
  return ids;
}

TEST(QuorumTest, RandomConfigsAgreeWithDefinitions) {
  std::mt19937_64 rng(20240611);
  for (int round = 0; round < 5000; ++round) {
    const std::set<uint64_t> incoming = random_ids(rng, 7);
    const std::set<uint64_t> outgoing = random_ids(rng, 7);
    Acks acks;
    Votes votes;
    for (uint64_t id = 1; id <= 9; ++id) {
      if (rng() % 4 != 0) acks[id] = rng() % 20;
      switch (rng() % 3) {
        case 0: votes[id] = true; break;
        case 1: votes[id] = false; break;
        default: break;
      }
    }
    const MajorityConfig in(incoming);
    const MajorityConfig out(outgoing);
    const JointConfig joint(in, out);
    const MapAckIndexer indexer(acks);

    const uint64_t want_in = naive_committed(incoming, acks);
    const uint64_t want_out = naive_committed(outgoing, acks);
    ASSERT_EQ(in.committed_index(indexer), want_in) << in.describe(indexer);
    ASSERT_EQ(joint.committed_index(indexer), std::min(want_in, want_out)) << joint.describe();

    const VoteResult vin = naive_vote(incoming, votes);
    const VoteResult vout = naive_vote(outgoing, votes);
    ASSERT_EQ(in.vote_result(votes), vin) << in.describe();
    VoteResult want_joint = VoteResult::kPending;
    if (vin == VoteResult::kLost || vout == VoteResult::kLost) {
      want_joint = VoteResult::kLost;
    } else if (vin == VoteResult::kWon && vout == VoteResult::kWon) {
      want_joint = VoteResult::kWon;
    }
    ASSERT_EQ(joint.vote_result(votes), want_joint) << joint.describe();
  }
}

TEST(QuorumTest, JointConfigMembership) {
  JointConfig joint{MajorityConfig({1, 2, 3}), MajorityConfig({3, 4})};
  EXPECT_TRUE(joint.is_joint());
  EXPECT_EQ(joint.ids(), (std::set<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(joint.contains(1));
  EXPECT_TRUE(joint.contains(4));
  EXPECT_FALSE(joint.contains(5));

  JointConfig simple{MajorityConfig({1, 2}), MajorityConfig()};
  EXPECT_FALSE(simple.is_joint());
  EXPECT_EQ(simple.ids(), (std::set<uint64_t>{1, 2}));

  // Equality compares both halves.
  EXPECT_EQ(joint, (JointConfig{MajorityConfig({1, 2, 3}), MajorityConfig({3, 4})}));
  EXPECT_NE(joint, (JointConfig{MajorityConfig({3, 4}), MajorityConfig({1, 2, 3})}));
}

TEST(QuorumTest, MajorityConfigAccessors) {
  MajorityConfig cfg;
  EXPECT_TRUE(cfg.empty());
  EXPECT_EQ(cfg.size(), 0u);
  cfg.ids().insert(3);
  cfg.ids().insert(1);
  EXPECT_FALSE(cfg.empty());
  EXPECT_EQ(cfg.size(), 2u);
  EXPECT_TRUE(cfg.contains(3));
  EXPECT_FALSE(cfg.contains(2));
  EXPECT_EQ(cfg, MajorityConfig({1, 3}));
}

TEST(QuorumTest, Describe) {
  EXPECT_EQ(MajorityConfig().describe(), "()");
  EXPECT_EQ(MajorityConfig({3, 1, 2}).describe(), "(1 2 3)");
  EXPECT_EQ(JointConfig(MajorityConfig({1, 2, 3}), MajorityConfig()).describe(), "(1 2 3)");
  EXPECT_EQ(JointConfig(MajorityConfig({1, 2}), MajorityConfig({1, 2, 3})).describe(),
            "(1 2)&&(1 2 3)");
  EXPECT_EQ(JointConfig().describe(), "()");

  EXPECT_EQ(MajorityConfig({1, 2, 3}).describe(MapAckIndexer({{1, 5}, {3, 7}})),
            "id=1 acked=5\nid=2 acked=?\nid=3 acked=7\ncommitted=5\n");
  EXPECT_EQ(MajorityConfig().describe(MapAckIndexer({})), "committed=inf\n");
}

}  // namespace
}  // namespace raft::quorum
