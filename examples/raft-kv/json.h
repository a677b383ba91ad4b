// The JSON that raft-kv's HTTP API writes and reads: error objects, /status, configurations, and
// the body of POST /cluster/members.
//
// Writing is plain string building (the shapes are small and fixed); reading uses Boost.JSON,
// which json.cc alone includes, so no other file pays for its headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace framework {
struct NodeStatus;
}
namespace eraftpb {
class ConfState;
}

namespace raftkv::json {

// `text` as a JSON string literal, quotes included. Bytes that are not valid UTF-8 become
// U+FFFD, so the output is always valid JSON whatever the key or message holds.
std::string quote(std::string_view text);

// {"error": message, "executed": false|null, "leader": N|null}. `executed` is false when
// `may_have_executed` is false (the operation certainly did not take effect), null otherwise;
// `leader` 0 is null (no leader known).
std::string error_body(std::string_view message, bool may_have_executed, uint64_t leader);

// GET /status: id, role, term, leader (null if none), commit, applied, last_index, first_index,
// snapshot_index, voters, outgoing_voters, learners, pending_requests, stopped, and progress (on
// the leader: {"<peer id>": {"match", "next", "state", "recent_active"}}). Roles are lowercase:
// "follower", "candidate", "precandidate", "leader".
std::string status_body(const framework::NodeStatus& status);

// A configuration: {"voters": [...], "outgoing_voters": [...], "learners": [...]}.
std::string conf_state_body(const eraftpb::ConfState& conf);

// The body of POST /cluster/members.
struct MemberRequest {
  enum class Op { kAdd, kRemove, kPromote };
  Op op = Op::kAdd;
  uint64_t id = 0;       // > 0
  std::string address;   // kAdd only: "HOST:PORT", not yet checked beyond being a string
  bool learner = false;  // kAdd only: add as a learner rather than a voter
};

// Parses {"op": "add"|"remove"|"promote", "id": N, "address": "HOST:PORT", "learner": bool}.
// "address" is required for "add" and refused otherwise, as is "learner"; unknown fields are
// refused (a misspelt "learner" must not silently add a voter). On failure returns false and
// sets `error` to one line naming the field and what is wrong with it.
bool parse_member_request(std::string_view body, MemberRequest& out, std::string& error);

}  // namespace raftkv::json
