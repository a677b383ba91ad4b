// Pending linearizable reads on the leader (ReadIndex, thesis §6.4).
//
// A read is registered with the commit index at the time it arrived. In the safe mode the leader
// then sends a heartbeat round carrying the read's context; once a quorum acknowledges a
// heartbeat carrying that context (or a later one: reads are answered in order), the leader
// knows it was still the leader when the read arrived, and the read may be served once the state
// machine has applied up to the recorded index.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "raft/types.h"

namespace raft {

// A read that may now be served: when applied >= index, the read with this context is
// linearizable.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
  bool operator==(const ReadState&) const = default;
};

struct ReadIndexStatus {
  Message req;                      // the MsgReadIndex (local, or forwarded by a follower)
  uint64_t index = 0;               // the leader's commit index when it arrived
  std::map<uint64_t, bool> acks;    // heartbeat acknowledgements, by voter id
};

class ReadOnly {
 public:
  // Adds a read; ignored if a read with the same context is already pending.
  void add_request(uint64_t index, const Message& m);
  // Records that `id` acknowledged the heartbeat carrying `ctx`; returns the acks for that read
  // (nullptr if no such read is pending).
  const std::map<uint64_t, bool>* recv_ack(uint64_t id, const std::string& ctx);
  // Removes and returns every read up to and including the one with `ctx`, oldest first.
  std::vector<ReadIndexStatus> advance(const std::string& ctx);
  // The context of the newest pending read, or "" if none (sent with heartbeats).
  std::string last_pending_request_ctx() const;
  size_t pending() const { return queue_.size(); }

 private:
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace raft
