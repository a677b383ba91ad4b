// raft-kv's replicated state: a map of string keys to string values.
//
// The map is split into shards, each held by a shared pointer. snapshot() copies the shard
// pointers only (constant time, while apply() waits); a later write to a shard that a snapshot
// still shares copies that one shard first (copy-on-write), so taking a snapshot never stops the
// node for longer than copying kShards pointers, and writing it out (on the snapshot thread)
// reads a frozen view while applies go on.
//
// Threads: apply/snapshot/restore run on the node's apply thread (framework/state_machine.h);
// get() and size() may be called from any thread at the same time (HTTP handlers), guarded by a
// shared mutex that apply() holds exclusively for one batch.
//
// Snapshot format: "RKV1" | u64 entry count | per entry: u32 key length | key | u32 value length
// | value. restore() checks every length against what remains and throws std::runtime_error on a
// malformed stream, leaving the current state unchanged.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "framework/state_machine.h"

namespace raftkv {

class KvStateMachine final : public framework::StateMachine {
 public:
  static constexpr size_t kShards = 64;
  using Shard = std::map<std::string, std::string, std::less<>>;

  KvStateMachine();

  std::vector<std::string> apply(std::span<const framework::Command> commands) override;
  std::unique_ptr<framework::StateSnapshot> snapshot() override;
  void restore(std::istream& in) override;

  // This replica's current value of `key` (as of the last applied command).
  std::optional<std::string> get(std::string_view key) const;
  // Number of keys.
  size_t size() const;

 private:
  using Shards = std::array<std::shared_ptr<Shard>, kShards>;
  static size_t shard_of(std::string_view key);
  // The shard of `key`, made private to this map first if a snapshot shares it.
  Shard& writable(std::string_view key);
  std::string apply_one(std::string_view data);

  mutable std::shared_mutex mutex_;
  Shards shards_;
  size_t size_ = 0;
  // Apply thread only. frozen_[i]: shards_[i] was handed to a snapshot and not copied since, so
  // it is copied before a write unless no snapshot is alive any more (live_snapshots_, counted
  // down with release ordering by each snapshot as it is destroyed on the snapshot thread).
  std::array<bool, kShards> frozen_{};
  std::shared_ptr<std::atomic<size_t>> live_snapshots_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace raftkv
