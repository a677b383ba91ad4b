// Names the whole core uses: the protobuf types, the "no node" id, and small helpers on
// messages and entries.
#pragma once

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "raft/eraftpb.pb.h"

namespace raft {

using eraftpb::ConfChange;
using eraftpb::ConfChangeSingle;
using eraftpb::ConfChangeTransition;
using eraftpb::ConfChangeType;
using eraftpb::ConfChangeV2;
using eraftpb::ConfState;
using eraftpb::Entry;
using eraftpb::EntryType;
using eraftpb::HardState;
using eraftpb::Message;
using eraftpb::MessageType;
using eraftpb::Snapshot;
using eraftpb::SnapshotMetadata;

using EntryVec = std::vector<Entry>;

// Node id 0 means "nobody": no leader, no vote.
inline constexpr uint64_t kNone = 0;
// A size limit that does not limit.
inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The role a node plays in its current term.
enum class StateRole { kFollower, kCandidate, kLeader, kPreCandidate };
const char* to_string(StateRole role) noexcept;

// Local messages are produced on this node (MsgHup, MsgBeat, MsgUnreachable, MsgSnapStatus,
// MsgCheckQuorum); they never arrive over the network.
bool is_local_msg(MessageType t) noexcept;
// Responses carry the outcome of a request to the peer that sent it.
bool is_response_msg(MessageType t) noexcept;
// The response type of a (pre-)vote request.
MessageType vote_resp_msg_type(MessageType t) noexcept;

// The size an entry counts for against byte limits (its encoded size).
uint64_t entry_size(const Entry& e) noexcept;
// The size an entry counts for against the uncommitted-size limit: its payload only, so an empty
// entry (a new leader's, or a configuration leave) is never refused.
uint64_t payload_size(const Entry& e) noexcept;
// Drops entries from the end until the total encoded size is at most max_size; always keeps the
// first entry.
void limit_size(EntryVec& entries, uint64_t max_size);

// "MsgAppend 1->2 term=3 log=2/10 commit=9 entries=3" and similar, for logs and transcripts.
std::string describe(const Message& m);
std::string describe(const Entry& e);
std::string describe(const HardState& hs);
std::string describe(const ConfState& cs);

// Joins the parts as an ostream would print them: log and error messages.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// An entry of type EntryConfChange or EntryConfChangeV2.
bool is_conf_change_entry(const Entry& e) noexcept;

// A snapshot at index 0 stands for "no snapshot".
bool is_empty_snapshot(const Snapshot& s) noexcept;

}  // namespace raft
