#include "kv_state_machine.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "kv_command.h"
#include "raft/little_endian.h"

namespace raftkv {
namespace {

constexpr std::string_view kMagic = "RKV1";

// The frozen view a snapshot writes: the shard pointers as of snapshot(), plus the count of
// snapshots still alive, which the state machine reads to know when no view shares a shard.
class KvSnapshot final : public framework::StateSnapshot {
 public:
  using Shards = std::array<std::shared_ptr<KvStateMachine::Shard>, KvStateMachine::kShards>;

  KvSnapshot(Shards shards, uint64_t count, std::shared_ptr<std::atomic<size_t>> live)
      : shards_(std::move(shards)), count_(count), live_(std::move(live)) {}

  ~KvSnapshot() override {
    // Drop the shards before announcing it: once the count is zero the state machine writes
    // shards in place, and nothing of this view may touch them after that.
    for (auto& shard : shards_) shard.reset();
    live_->fetch_sub(1, std::memory_order_release);
  }

  void write(std::ostream& out) override {
    out.write(kMagic.data(), kMagic.size());
    char u64[8];
    raft::le::put_u64(u64, count_);
    out.write(u64, sizeof u64);
    for (const auto& shard : shards_) {
      for (const auto& [key, value] : *shard) {
        write_bytes(out, key);
        write_bytes(out, value);
      }
    }
    out.flush();
    if (!out) throw std::runtime_error("raft-kv snapshot: write failed");
  }

 private:
  static void write_bytes(std::ostream& out, std::string_view bytes) {
    char u32[4];
    raft::le::put_u32(u32, static_cast<uint32_t>(bytes.size()));
    out.write(u32, sizeof u32);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  Shards shards_;
  uint64_t count_;
  std::shared_ptr<std::atomic<size_t>> live_;
};

[[noreturn]] void malformed(const std::string& what) {
  throw std::runtime_error("raft-kv snapshot: " + what);
}

// Reads exactly `size` bytes or fails. Grows the buffer as bytes arrive rather than reserving the
// claimed size, so a corrupt length cannot make restore() allocate gigabytes up front.
void read_exact(std::istream& in, std::string& out, uint64_t size, const char* what) {
  constexpr uint64_t kChunk = 64 * 1024;
  out.clear();
  while (out.size() < size) {
    const uint64_t n = std::min(kChunk, size - out.size());
    const size_t old = out.size();
    out.resize(old + n);
    in.read(out.data() + old, static_cast<std::streamsize>(n));
    if (static_cast<uint64_t>(in.gcount()) != n) {
      malformed(std::string("truncated ") + what + " (" + std::to_string(size) + " bytes claimed)");
    }
  }
}

uint64_t read_u64(std::istream& in, const char* what) {
  std::string buf;
  read_exact(in, buf, 8, what);
  return raft::le::get_u64(buf.data());
}

uint32_t read_u32(std::istream& in, const char* what) {
  std::string buf;
  read_exact(in, buf, 4, what);
  return raft::le::get_u32(buf.data());
}

}  // namespace

KvStateMachine::KvStateMachine() {
  for (auto& shard : shards_) shard = std::make_shared<Shard>();
}

size_t KvStateMachine::shard_of(std::string_view key) {
  // FNV-1a: stable across builds and processes, so every replica writes its snapshot in the same
  // order (std::hash makes no such promise).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h % kShards);
}

KvStateMachine::Shard& KvStateMachine::writable(std::string_view key) {
  const size_t i = shard_of(key);
  if (frozen_[i]) {
    // The acquire pairs with each snapshot's release as it dies: at zero, every view's reads of
    // the shards happened before this write, so no copy is needed any more.
    if (live_snapshots_->load(std::memory_order_acquire) == 0) {
      frozen_.fill(false);
    } else {
      shards_[i] = std::make_shared<Shard>(*shards_[i]);
      frozen_[i] = false;
    }
  }
  return *shards_[i];
}

std::vector<std::string> KvStateMachine::apply(std::span<const framework::Command> commands) {
  std::vector<std::string> results;
  results.reserve(commands.size());
  // One exclusive hold per batch: readers see a batch entirely or not at all and the lock is
  // taken once, not per command.
  std::unique_lock lock(mutex_);
  for (const auto& command : commands) results.push_back(apply_one(command.data));
  return results;
}

std::string KvStateMachine::apply_one(std::string_view data) {
  auto command = decode_command(data);
  KvResult result;
  if (!command) {
    result.outcome = Outcome::kMalformed;
    return encode_result(result);
  }
  const Shard& shard = *shards_[shard_of(command->key)];
  const auto it = shard.find(command->key);
  const bool present = it != shard.end();
  switch (command->op) {
    case Op::kPut: break;
    case Op::kPutIf:
      if (!present || it->second != command->expected) {
        // Read-only: a failed compare-and-swap must not copy a shard a snapshot shares.
        result.outcome = Outcome::kConflict;
        result.present = present;
        if (present) result.current = it->second;
        return encode_result(result);
      }
      break;
    case Op::kDelete:
      result.present = present;
      if (present) {
        writable(command->key).erase(command->key);
        --size_;
      }
      return encode_result(result);
  }
  // kPut, or a kPutIf whose expectation held. `it` may point into a shard writable() replaces,
  // so look the key up again in the writable one.
  Shard& target = writable(command->key);
  auto [slot, inserted] = target.try_emplace(std::move(command->key));
  slot->second = std::move(command->value);
  if (inserted) ++size_;
  return encode_result(result);
}

std::unique_ptr<framework::StateSnapshot> KvStateMachine::snapshot() {
  // apply() and restore() run on this same thread, so the shards cannot change under this copy;
  // the shared lock is only for symmetry with readers and costs nothing contended.
  std::shared_lock lock(mutex_);
  live_snapshots_->fetch_add(1, std::memory_order_relaxed);
  frozen_.fill(true);
  return std::make_unique<KvSnapshot>(shards_, size_, live_snapshots_);
}

void KvStateMachine::restore(std::istream& in) {
  // Parse into a fresh map first: a malformed stream throws before anything here changes.
  std::string magic;
  read_exact(in, magic, kMagic.size(), "header");
  if (magic != kMagic) malformed("bad magic (not a raft-kv snapshot)");
  const uint64_t count = read_u64(in, "entry count");

  Shards fresh;
  for (auto& shard : fresh) shard = std::make_shared<Shard>();
  std::string key;
  std::string value;
  for (uint64_t n = 0; n < count; ++n) {
    read_exact(in, key, read_u32(in, "key length"), "key");
    read_exact(in, value, read_u32(in, "value length"), "value");
    auto [slot, inserted] = fresh[shard_of(key)]->try_emplace(std::move(key), std::move(value));
    if (!inserted) malformed("duplicate key in entry " + std::to_string(n));
    key.clear();
    value.clear();
  }
  if (in.peek() != std::istream::traits_type::eof()) {
    malformed("bytes after the " + std::to_string(count) + " entries the header announced");
  }

  std::unique_lock lock(mutex_);
  shards_ = std::move(fresh);
  size_ = count;
  // The new shards are this map's alone; views of the old ones keep theirs alive.
  frozen_.fill(false);
}

std::optional<std::string> KvStateMachine::get(std::string_view key) const {
  std::shared_lock lock(mutex_);
  const Shard& shard = *shards_[shard_of(key)];
  const auto it = shard.find(key);
  if (it == shard.end()) return std::nullopt;
  return it->second;
}

size_t KvStateMachine::size() const {
  std::shared_lock lock(mutex_);
  return size_;
}

}  // namespace raftkv
