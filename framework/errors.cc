#include "framework/errors.h"

#include <string>

namespace framework {
namespace {

class NodeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "node"; }
  std::string message(int ev) const override {
    switch (static_cast<NodeError>(ev)) {
      case NodeError::kOk: return "ok";
      case NodeError::kNotLeader: return "not the leader";
      case NodeError::kDropped: return "dropped by the consensus core";
      case NodeError::kTimeout: return "timed out; the outcome is unknown";
      case NodeError::kStopped: return "the node is stopped";
      case NodeError::kTooManyPending: return "too many pending requests";
      case NodeError::kInvalidArgument: return "invalid argument";
      case NodeError::kStorageFailed: return "storage failed; the node stopped";
      case NodeError::kRemoved: return "this node was removed from the cluster";
    }
    return "unknown node error";
  }
};

}  // namespace

const std::error_category& node_category() noexcept {
  static const NodeCategory category;
  return category;
}

bool may_have_taken_effect(std::error_code ec) noexcept {
  if (!ec) return true;
  if (ec.category() != node_category()) return true;
  switch (static_cast<NodeError>(ec.value())) {
    case NodeError::kNotLeader:
    case NodeError::kDropped:
    case NodeError::kTooManyPending:
    case NodeError::kInvalidArgument:
      return false;
    default:
      return true;
  }
}

}  // namespace framework
