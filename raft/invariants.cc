#include "raft/invariants.h"

#include <algorithm>
#include <sstream>

namespace raft {
namespace {

template <typename... Parts>
[[noreturn]] void violated(const Raft& r, const Parts&... parts) {
  std::ostringstream os;
  os << "invariant violated: ";
  (os << ... << parts);
  r.logger().fatal(os.str());
}

}  // namespace

void InvariantChecker::check(const Raft& r) {
  const RaftLog& log = r.log();
  // checkBasic: positions in the log are ordered.
  if (log.applied() > log.applying()) violated(r, "applied ", log.applied(), " > applying ", log.applying());
  if (log.applying() > log.committed()) {
    violated(r, "applying ", log.applying(), " > committed ", log.committed());
  }
  if (log.committed() > log.last_index()) {
    violated(r, "committed ", log.committed(), " > last index ", log.last_index());
  }
  if (log.first_index() == 0) violated(r, "first index is 0");
  if (log.first_index() - 1 > log.committed()) {
    violated(r, "snapshot index ", log.first_index() - 1, " > committed ", log.committed());
  }
  if (log.last_term() > r.term()) violated(r, "last log term ", log.last_term(), " > term");
  // Terms in the log never fall. Only the tail is scanned, where entries change, so a check
  // after every step stays cheap on a long log.
  constexpr uint64_t kTail = 64;
  const uint64_t from = std::max(log.first_index(), log.last_index() > kTail ? log.last_index() - kTail : 1);
  uint64_t prev = log.zero_term_on_err_compacted(from - 1);
  auto ents = log.slice(from, log.last_index() + 1, kNoLimit);
  if (!ents) violated(r, "cannot read own log: ", ents.error().message());
  uint64_t want = from;
  for (const Entry& e : *ents) {
    if (e.index() != want) violated(r, "log gap: entry ", e.index(), " where ", want, " was due");
    if (e.term() < prev) violated(r, "term falls at index ", e.index());
    prev = e.term();
    ++want;
  }
  switch (r.state()) {
    case StateRole::kLeader: {
      if (r.leader_id() != r.id()) violated(r, "leader with leader_id ", r.leader_id());
      if (r.vote() != r.id()) violated(r, "leader that did not vote for itself");
      for (const auto& [id, pr] : r.tracker().progress) {
        if (pr.match >= pr.next) {
          violated(r, "progress of ", id, ": match ", pr.match, " >= next ", pr.next);
        }
        if (pr.match > log.last_index()) {
          violated(r, "progress of ", id, ": match ", pr.match, " > last index ",
                   log.last_index());
        }
      }
      break;
    }
    case StateRole::kCandidate:
      if (r.vote() != r.id()) violated(r, "candidate that did not vote for itself");
      [[fallthrough]];
    case StateRole::kPreCandidate:
      if (r.leader_id() != kNone) violated(r, "candidate that knows leader ", r.leader_id());
      break;
    case StateRole::kFollower:
      if (r.leader_id() == r.id()) violated(r, "follower that names itself leader");
      break;
  }

  // checkDelta: what only rises.
  if (has_prev_) {
    if (r.term() < prev_term_) violated(r, "term fell from ", prev_term_);
    if (r.term() == prev_term_ && prev_vote_ != kNone && r.vote() != prev_vote_) {
      violated(r, "vote changed from ", prev_vote_, " to ", r.vote(), " within a term");
    }
    if (log.committed() < prev_commit_) {
      violated(r, "commit fell from ", prev_commit_, " to ", log.committed());
    }
    if (log.applied() < prev_applied_) {
      violated(r, "applied fell from ", prev_applied_, " to ", log.applied());
    }
  }
  has_prev_ = true;
  prev_term_ = r.term();
  prev_vote_ = r.vote();
  prev_commit_ = log.committed();
  prev_applied_ = log.applied();
}

}  // namespace raft
