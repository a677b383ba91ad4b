// Expected failures of the consensus core, as a std::error_code category.
//
// These are outcomes a caller handles (a compacted index, a dropped proposal); a broken
// invariant is not one of them: that is a fatal log carrying the node id and term.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace raft {

enum class Error {
  kOk = 0,
  kCompacted,                       // the index is below the first one still in the log
  kUnavailable,                     // the index is past the last entry in the log
  kSnapOutOfDate,                   // a snapshot older than the one already stored
  kSnapshotTemporarilyUnavailable,  // storage is building a snapshot; ask again later
  kProposalDropped,                 // no leader, a transfer in progress, a full queue, ...
  kNotLeader,                       // the operation needs the leader
  kConfChangePending,               // a configuration change is not yet applied
  kStepLocalMsg,                    // a local message type (MsgHup, MsgBeat, ...) from the network
  kStepPeerNotFound,                // a response from a node outside the configuration
  kInvalidMessage,                  // malformed or misaddressed message
  kInvalidConfig,                   // a Config or ConfChange that cannot be used
  kRequestSnapshotDropped,          // request_snapshot was not possible in this state
};

const std::error_category& raft_category() noexcept;

inline std::error_code make_error_code(Error e) noexcept {
  return {static_cast<int>(e), raft_category()};
}

// A value or an error, for storage reads and other fallible queries of the core.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(make_error_code(e)) {}  // NOLINT
  Result(std::error_code ec) : v_(ec) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  std::error_code error() const noexcept {
    return ok() ? std::error_code{} : std::get<1>(v_);
  }

 private:
  std::variant<T, std::error_code> v_;
};

}  // namespace raft

template <>
struct std::is_error_code_enum<raft::Error> : std::true_type {};
