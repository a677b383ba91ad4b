#include "raft/read_only.h"

namespace raft {

void ReadOnly::add_request(uint64_t index, const Message& m) {
  const std::string& ctx = m.entries(0).data();
  if (pending_.contains(ctx)) return;
  pending_.emplace(ctx, ReadIndexStatus{m, index, {}});
  queue_.push_back(ctx);
}

const std::map<uint64_t, bool>* ReadOnly::recv_ack(uint64_t id, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::advance(const std::string& ctx) {
  // Reads are acknowledged in order: a quorum that saw the heartbeat for `ctx` also confirms
  // every read queued before it, because those heartbeats were sent earlier by the same leader.
  size_t found = queue_.size();
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i] == ctx) {
      found = i;
      break;
    }
  }
  std::vector<ReadIndexStatus> out;
  if (found == queue_.size()) return out;
  for (size_t i = 0; i <= found; ++i) {
    auto it = pending_.find(queue_.front());
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::last_pending_request_ctx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace raft
