// Expected failures of a Node's requests, as a std::error_code category.
//
// Each error says whether the operation may still have taken effect, because a client that
// retries must know (see executed()).
#pragma once

#include <system_error>

namespace framework {

enum class NodeError {
  kOk = 0,
  kNotLeader,           // no leader is known, or the operation needs this node to be leader
  kDropped,             // the core refused the proposal (a transfer in progress, a full
                        // uncommitted budget, a configuration change still pending, ...)
  kTimeout,             // no outcome within the request timeout: it may or may not take effect
  kStopped,             // the node is stopping or stopped
  kTooManyPending,      // the node already holds max_pending_requests requests
  kInvalidArgument,     // the request itself is bad (too large, unknown member, ...)
  kStorageFailed,       // the node's disk failed; the node stopped
  kRemoved,             // this node was removed from the cluster and stopped
};

const std::error_category& node_category() noexcept;

inline std::error_code make_error_code(NodeError e) noexcept {
  return {static_cast<int>(e), node_category()};
}

// Whether a request that failed with `ec` certainly did not take effect (false) or might have
// (true): a timeout, a stop or a storage failure after the entry was proposed leaves the outcome
// unknown, while a refusal before proposing does not.
bool may_have_taken_effect(std::error_code ec) noexcept;

}  // namespace framework

template <>
struct std::is_error_code_enum<framework::NodeError> : std::true_type {};
