// Quorum arithmetic as pure functions: which index a majority (or a joint pair of majorities) has
// acknowledged, and how an election stands. No state, no I/O; the tracker feeds it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace raft::quorum {

enum class VoteResult {
  kPending,  // neither won nor lost yet: outstanding votes could decide it
  kLost,     // a quorum voted no (or cannot vote yes any more)
  kWon,      // a quorum voted yes
};
const char* to_string(VoteResult r) noexcept;

// Returns the index a voter has acknowledged, or nothing if unknown.
class AckedIndexer {
 public:
  virtual ~AckedIndexer() = default;
  virtual std::optional<uint64_t> acked_index(uint64_t voter_id) const = 0;
};

// An AckedIndexer over a plain map (tests, and callers that already have one).
class MapAckIndexer final : public AckedIndexer {
 public:
  explicit MapAckIndexer(std::map<uint64_t, uint64_t> m) : m_(std::move(m)) {}
  std::optional<uint64_t> acked_index(uint64_t id) const override;

 private:
  std::map<uint64_t, uint64_t> m_;
};

// A set of voters decided by simple majority.
class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<uint64_t> ids) : ids_(std::move(ids)) {}

  // The largest index acknowledged by a majority. An empty config returns UINT64_MAX, so that
  // the joint min() with an empty outgoing half is the incoming half's answer. A voter without a
  // known index counts as having acknowledged 0.
  uint64_t committed_index(const AckedIndexer& acked) const;
  // The election outcome given votes (id -> granted); ids not in `votes` are outstanding. An
  // empty config wins (it has nothing to object).
  VoteResult vote_result(const std::map<uint64_t, bool>& votes) const;

  // "(1 2 3)" ("()" when empty). With an indexer, for debugging: one "id=1 acked=5" line per
  // voter ("acked=?" when unknown) and a last "committed=N" line ("committed=inf" when empty).
  std::string describe() const;
  std::string describe(const AckedIndexer& acked) const;

  const std::set<uint64_t>& ids() const { return ids_; }
  std::set<uint64_t>& ids() { return ids_; }
  bool contains(uint64_t id) const { return ids_.contains(id); }
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  bool operator==(const MajorityConfig&) const = default;

 private:
  std::set<uint64_t> ids_;
};

// Two majority configs; decisions need both (joint consensus, thesis §4.3). The outgoing half is
// empty outside a joint configuration.
class JointConfig {
 public:
  JointConfig() = default;
  JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
      : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {}

  // The smaller of the two halves' answers (UINT64_MAX only if both halves are empty).
  uint64_t committed_index(const AckedIndexer& acked) const;
  // Lost if either half lost, won if both won, otherwise pending.
  VoteResult vote_result(const std::map<uint64_t, bool>& votes) const;
  // The union of both halves.
  std::set<uint64_t> ids() const;
  bool contains(uint64_t id) const { return incoming_.contains(id) || outgoing_.contains(id); }
  bool is_joint() const { return !outgoing_.empty(); }
  // "(1 2 3)&&(1 2)" when joint, else just the incoming half: "(1 2 3)".
  std::string describe() const;

  MajorityConfig& incoming() { return incoming_; }
  const MajorityConfig& incoming() const { return incoming_; }
  MajorityConfig& outgoing() { return outgoing_; }
  const MajorityConfig& outgoing() const { return outgoing_; }
  bool operator==(const JointConfig&) const = default;

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
};

}  // namespace raft::quorum
