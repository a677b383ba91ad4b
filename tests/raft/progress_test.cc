// One follower's Progress: state transitions, acknowledgement and rejection handling, pausing.
#include "raft/tracker/progress.h"

#include <gtest/gtest.h>

#include <vector>

#include "raft/logger.h"

namespace raft {
namespace {

Progress make(ProgressState state, uint64_t match, uint64_t next, size_t max_inflight = 10,
              uint64_t max_bytes = kNoLimit) {
  Progress pr(next, max_inflight, max_bytes);
  pr.match = match;
  pr.state = state;
  return pr;
}

TEST(ProgressTest, StateNames) {
  EXPECT_STREQ(to_string(ProgressState::kProbe), "StateProbe");
  EXPECT_STREQ(to_string(ProgressState::kReplicate), "StateReplicate");
  EXPECT_STREQ(to_string(ProgressState::kSnapshot), "StateSnapshot");
}

TEST(ProgressTest, ConstructorSetsNextAndWindow) {
  Progress pr(7, 4, 100);
  EXPECT_EQ(pr.next, 7u);
  EXPECT_EQ(pr.match, 0u);
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.inflights.capacity(), 4u);
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_FALSE(pr.recent_active);
  EXPECT_FALSE(pr.is_learner);
  EXPECT_EQ(pr.pending_snapshot, 0u);
}

TEST(ProgressTest, BecomeProbeFromReplicateRestartsAfterMatch) {
  Progress pr = make(ProgressState::kReplicate, 1, 5);
  pr.inflights.add(3, 10);
  pr.inflights.add(4, 10);
  pr.become_probe();
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.match, 1u);
  EXPECT_EQ(pr.next, 2u);
  EXPECT_EQ(pr.inflights.count(), 0u);
  EXPECT_EQ(pr.inflights.bytes(), 0u);
}

TEST(ProgressTest, BecomeProbeFromSnapshotStartsAfterTheSnapshot) {
  struct Case {
    uint64_t match;
    uint64_t pending_snapshot;
    uint64_t want_next;
  };
  const std::vector<Case> cases = {
      {1, 10, 11},  // the snapshot got there: probe after it
      {1, 0, 2},    // the caller cleared pending_snapshot (snapshot failed): probe after match
      {12, 10, 13}, // match already past the snapshot
      {10, 10, 11},
  };
  for (const auto& c : cases) {
    Progress pr = make(ProgressState::kProbe, c.match, c.match + 1);
    pr.become_snapshot(c.pending_snapshot);
    EXPECT_EQ(pr.pending_snapshot, c.pending_snapshot);
    pr.become_probe();
    EXPECT_EQ(pr.state, ProgressState::kProbe);
    EXPECT_EQ(pr.next, c.want_next) << "match=" << c.match << " pending=" << c.pending_snapshot;
    EXPECT_EQ(pr.pending_snapshot, 0u);
  }
}

TEST(ProgressTest, BecomeProbeFromProbeResetsNextAndProbeSent) {
  Progress pr = make(ProgressState::kProbe, 3, 9);
  pr.probe_sent = true;
  pr.become_probe();
  EXPECT_EQ(pr.next, 4u);
  EXPECT_FALSE(pr.probe_sent);
}

TEST(ProgressTest, BecomeReplicateRestartsAfterMatch) {
  Progress pr = make(ProgressState::kProbe, 1, 5);
  pr.probe_sent = true;
  pr.become_replicate();
  EXPECT_EQ(pr.state, ProgressState::kReplicate);
  EXPECT_EQ(pr.match, 1u);
  EXPECT_EQ(pr.next, 2u);
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, BecomeSnapshotRecordsTheSnapshotAndClearsTheRest) {
  Progress pr = make(ProgressState::kReplicate, 1, 5);
  pr.inflights.add(4, 1);
  pr.become_snapshot(10);
  EXPECT_EQ(pr.state, ProgressState::kSnapshot);
  EXPECT_EQ(pr.match, 1u);
  EXPECT_EQ(pr.next, 5u) << "next is left alone";
  EXPECT_EQ(pr.pending_snapshot, 10u);
  EXPECT_EQ(pr.inflights.count(), 0u);
  EXPECT_TRUE(pr.is_paused());
}

TEST(ProgressTest, TransitionsClearPendingSnapshot) {
  Progress pr = make(ProgressState::kProbe, 1, 2);
  pr.become_snapshot(10);
  pr.become_replicate();
  EXPECT_EQ(pr.pending_snapshot, 0u);
  EXPECT_EQ(pr.next, 2u);
}

TEST(ProgressTest, MaybeUpdateTable) {
  struct Case {
    uint64_t update;
    bool want_updated;
    uint64_t want_match;
    uint64_t want_next;
  };
  // Starting from match=3, next=5.
  const std::vector<Case> cases = {
      {2, false, 3, 5},  // older than match
      {3, false, 3, 5},  // equal to match
      {4, true, 4, 5},   // raises match, next already beyond
      {5, true, 5, 6},   // raises match and next
      {9, true, 9, 10},  // raises both far
  };
  for (const auto& c : cases) {
    Progress pr = make(ProgressState::kReplicate, 3, 5);
    EXPECT_EQ(pr.maybe_update(c.update), c.want_updated) << c.update;
    EXPECT_EQ(pr.match, c.want_match) << c.update;
    EXPECT_EQ(pr.next, c.want_next) << c.update;
  }
}

TEST(ProgressTest, MaybeUpdateClearsProbeSentOnlyWhenItAdvances) {
  Progress pr = make(ProgressState::kProbe, 3, 4);
  pr.probe_sent = true;
  EXPECT_FALSE(pr.maybe_update(3));
  EXPECT_TRUE(pr.probe_sent) << "an outdated acknowledgement does not answer the probe";
  EXPECT_TRUE(pr.is_paused());
  EXPECT_TRUE(pr.maybe_update(4));
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, MaybeDecrToTable) {
  struct Case {
    ProgressState state;
    uint64_t match;
    uint64_t next;
    uint64_t rejected;
    uint64_t hint;
    bool want_ok;
    uint64_t want_next;
  };
  const std::vector<Case> cases = {
      // Replicate: a rejection at or below match is stale.
      {ProgressState::kReplicate, 5, 10, 5, 5, false, 10},
      {ProgressState::kReplicate, 5, 10, 4, 4, false, 10},
      // Replicate: otherwise restart right after match, whatever the hint.
      {ProgressState::kReplicate, 5, 10, 9, 9, true, 6},
      {ProgressState::kReplicate, 5, 10, 6, 2, true, 6},
      {ProgressState::kReplicate, 0, 10, 9, 100, true, 1},
      // Probe: only a rejection of next - 1 counts.
      {ProgressState::kProbe, 0, 10, 5, 5, false, 10},
      {ProgressState::kProbe, 0, 10, 10, 5, false, 10},
      // Probe: the hint lowers next, but not below match + 1 and not above rejected.
      {ProgressState::kProbe, 0, 10, 9, 9, true, 9},
      {ProgressState::kProbe, 0, 10, 9, 100, true, 9},
      {ProgressState::kProbe, 0, 10, 9, 2, true, 3},
      {ProgressState::kProbe, 0, 10, 9, 0, true, 1},
      {ProgressState::kProbe, 0, 2, 1, 1, true, 1},
      {ProgressState::kProbe, 3, 10, 9, 0, true, 4},
      {ProgressState::kProbe, 3, 10, 9, 5, true, 6},
      // Snapshot follows the Probe rules.
      {ProgressState::kSnapshot, 0, 10, 9, 3, true, 4},
      {ProgressState::kSnapshot, 0, 10, 8, 3, false, 10},
  };
  for (const auto& c : cases) {
    Progress pr = make(c.state, c.match, c.next);
    if (c.state == ProgressState::kSnapshot) pr.pending_snapshot = 20;
    EXPECT_EQ(pr.maybe_decr_to(c.rejected, c.hint), c.want_ok)
        << pr.describe() << " rejected=" << c.rejected << " hint=" << c.hint;
    EXPECT_EQ(pr.next, c.want_next)
        << pr.describe() << " rejected=" << c.rejected << " hint=" << c.hint;
    EXPECT_EQ(pr.match, c.match) << "a rejection never moves match";
    EXPECT_EQ(pr.state, c.state) << "the caller decides state changes";
  }
}

TEST(ProgressTest, MaybeDecrToClearsProbeSentOnlyWhenAccepted) {
  Progress pr = make(ProgressState::kProbe, 0, 5);
  pr.probe_sent = true;
  EXPECT_FALSE(pr.maybe_decr_to(3, 3));  // stale
  EXPECT_TRUE(pr.probe_sent);
  EXPECT_TRUE(pr.maybe_decr_to(4, 2));
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_EQ(pr.next, 3u);
}

TEST(ProgressTest, IsPausedPerState) {
  Progress probe = make(ProgressState::kProbe, 0, 1);
  EXPECT_FALSE(probe.is_paused());
  probe.probe_sent = true;
  EXPECT_TRUE(probe.is_paused());

  Progress replicate = make(ProgressState::kReplicate, 0, 1, /*max_inflight=*/2);
  EXPECT_FALSE(replicate.is_paused());
  replicate.probe_sent = true;
  EXPECT_FALSE(replicate.is_paused()) << "probe_sent means nothing in Replicate";
  replicate.sent_entries(1, 1, 1);
  EXPECT_FALSE(replicate.is_paused());
  replicate.sent_entries(1, 1, 2);
  EXPECT_TRUE(replicate.is_paused()) << "the window is full";
  replicate.inflights.free_le(1);
  EXPECT_FALSE(replicate.is_paused());

  Progress snapshot = make(ProgressState::kSnapshot, 0, 1);
  EXPECT_TRUE(snapshot.is_paused());
}

TEST(ProgressTest, ReplicateIsPausedByBytesToo) {
  Progress pr = make(ProgressState::kReplicate, 0, 1, /*max_inflight=*/10, /*max_bytes=*/100);
  pr.sent_entries(3, 99, 3);
  EXPECT_FALSE(pr.is_paused());
  pr.sent_entries(1, 1, 4);
  EXPECT_TRUE(pr.is_paused());
}

TEST(ProgressTest, SentEntriesInReplicateAdvancesNextAndFillsTheWindow) {
  Progress pr = make(ProgressState::kReplicate, 5, 6);
  pr.sent_entries(3, 300, 8);
  EXPECT_EQ(pr.next, 9u);
  EXPECT_EQ(pr.inflights.count(), 1u);
  EXPECT_EQ(pr.inflights.bytes(), 300u);
  pr.sent_entries(2, 50, 10);
  EXPECT_EQ(pr.next, 11u);
  EXPECT_EQ(pr.inflights.count(), 2u);
  EXPECT_EQ(pr.inflights.bytes(), 350u);

  // An empty append (a heartbeat-like commit update) changes nothing.
  pr.sent_entries(0, 0, 10);
  EXPECT_EQ(pr.next, 11u);
  EXPECT_EQ(pr.inflights.count(), 2u);
  EXPECT_FALSE(pr.probe_sent);

  // The acknowledgement frees the window.
  EXPECT_TRUE(pr.maybe_update(8));
  pr.inflights.free_le(8);
  EXPECT_EQ(pr.inflights.count(), 1u);
  EXPECT_EQ(pr.inflights.bytes(), 50u);
  EXPECT_EQ(pr.next, 11u);
}

TEST(ProgressTest, SentEntriesBelowNextInReplicateIsACallerBug) {
  Progress pr = make(ProgressState::kReplicate, 5, 9);
  EXPECT_THROW(pr.sent_entries(1, 1, 7), InvariantViolation);
  EXPECT_EQ(pr.next, 9u);
  EXPECT_EQ(pr.inflights.count(), 0u);
}

TEST(ProgressTest, SentEntriesInProbePausesOnAnyAppend) {
  Progress with_entries = make(ProgressState::kProbe, 2, 3);
  with_entries.sent_entries(4, 40, 6);
  EXPECT_TRUE(with_entries.probe_sent);
  EXPECT_TRUE(with_entries.is_paused());
  EXPECT_EQ(with_entries.next, 3u) << "probing does not advance next";
  EXPECT_EQ(with_entries.inflights.count(), 0u) << "probes are not tracked as inflight";

  Progress empty = make(ProgressState::kProbe, 2, 3);
  empty.sent_entries(0, 0, 2);
  EXPECT_TRUE(empty.probe_sent);
  EXPECT_TRUE(empty.is_paused());
}

TEST(ProgressTest, SentEntriesInSnapshotIsACallerBug) {
  Progress pr = make(ProgressState::kSnapshot, 2, 3);
  EXPECT_THROW(pr.sent_entries(1, 1, 3), InvariantViolation);
}

TEST(ProgressTest, ProbeResumesOnRejectionOrAcknowledgement) {
  Progress pr = make(ProgressState::kProbe, 0, 2);
  pr.sent_entries(1, 1, 2);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_TRUE(pr.maybe_decr_to(1, 1));
  EXPECT_FALSE(pr.is_paused());

  pr.sent_entries(1, 1, 1);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_TRUE(pr.maybe_update(2));
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, MatchStaysBelowNextThroughASession) {
  // A typical follower life: probe, replicate, fall behind into a snapshot, back to replicate.
  Progress pr(10, 4, kNoLimit);
  pr.sent_entries(1, 1, 10);
  EXPECT_TRUE(pr.maybe_decr_to(9, 4));  // the follower has up to 4
  EXPECT_EQ(pr.next, 5u);
  pr.sent_entries(1, 1, 10);
  EXPECT_TRUE(pr.maybe_update(10));
  pr.become_replicate();
  EXPECT_EQ(pr.next, 11u);
  pr.sent_entries(5, 5, 15);
  EXPECT_TRUE(pr.maybe_decr_to(12, 11));  // the follower lost entries
  EXPECT_EQ(pr.next, 11u);
  pr.become_snapshot(20);
  EXPECT_TRUE(pr.maybe_update(20));  // the snapshot was applied
  EXPECT_EQ(pr.next, 21u);
  pr.become_probe();
  EXPECT_EQ(pr.next, 21u);
  pr.become_replicate();
  EXPECT_LT(pr.match, pr.next);
  EXPECT_EQ(pr.match, 20u);
}

TEST(ProgressTest, Describe) {
  Progress pr = make(ProgressState::kReplicate, 5, 8, /*max_inflight=*/2);
  pr.recent_active = true;
  EXPECT_EQ(pr.describe(), "StateReplicate match=5 next=8");
  pr.sent_entries(1, 1, 8);
  EXPECT_EQ(pr.describe(), "StateReplicate match=5 next=9 inflight=1");
  pr.sent_entries(1, 1, 9);
  EXPECT_EQ(pr.describe(), "StateReplicate match=5 next=10 paused inflight=2[full]");

  Progress learner = make(ProgressState::kSnapshot, 1, 2);
  learner.is_learner = true;
  learner.pending_snapshot = 9;
  EXPECT_EQ(learner.describe(), "StateSnapshot match=1 next=2 learner paused pending_snapshot=9 inactive");

  ProgressMap map;
  map.emplace(2, make(ProgressState::kProbe, 0, 1));
  map.emplace(1, make(ProgressState::kProbe, 3, 4));
  map.at(1).recent_active = true;
  map.at(2).recent_active = true;
  EXPECT_EQ(describe(map), "1: StateProbe match=3 next=4\n2: StateProbe match=0 next=1\n");
  EXPECT_EQ(describe(ProgressMap{}), "");
}

}  // namespace
}  // namespace raft
