#include "raft/errors.h"

namespace raft {
namespace {

class RaftCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "raft"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::kOk: return "ok";
      case Error::kCompacted: return "requested index is unavailable due to compaction";
      case Error::kUnavailable: return "requested entry at index is unavailable";
      case Error::kSnapOutOfDate: return "requested index is older than the existing snapshot";
      case Error::kSnapshotTemporarilyUnavailable:
        return "snapshot is temporarily unavailable";
      case Error::kProposalDropped: return "raft proposal dropped";
      case Error::kNotLeader: return "not the leader";
      case Error::kConfChangePending: return "a configuration change is still pending";
      case Error::kStepLocalMsg: return "cannot step a local message from the network";
      case Error::kStepPeerNotFound: return "cannot step a response from an unknown peer";
      case Error::kInvalidMessage: return "invalid message";
      case Error::kInvalidConfig: return "invalid configuration";
      case Error::kRequestSnapshotDropped: return "request snapshot dropped";
    }
    return "unknown raft error";
  }
};

}  // namespace

const std::error_category& raft_category() noexcept {
  static const RaftCategory category;
  return category;
}

}  // namespace raft
