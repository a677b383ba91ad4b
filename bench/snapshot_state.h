// The snapshot benchmark's synthetic state: as large as asked (a gibibyte by default) yet never
// held in memory. The state is a size, a key and a command count; its bytes are generated from
// the key, block by block, so a snapshot streams them out and a restore checks them as they come
// in, each through one block's buffer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "framework/state_machine.h"

namespace bench {

// The content of a state: `size` bytes determined by `key`, in blocks of kBlockBytes (the last
// one shorter). Block b is a splitmix64 sequence seeded from key and b, so any block can be made
// on its own and two keys give unrelated bytes. About 6 GB/s on one core here: far faster than
// the disk, so generating and checking costs little next to what is measured.
struct GeneratedContent {
  static constexpr size_t kBlockBytes = 256 << 10;
  // Fills out[0, n) with the first n (<= kBlockBytes) bytes of block `block` of `key`'s content.
  static void fill(uint64_t key, uint64_t block, char* out, size_t n);
  // Writes the whole content of `size` bytes to `out`, one block at a time.
  static void write(uint64_t key, uint64_t size, std::ostream& out);
};

// What a StateSnapshot::write of GeneratedStateMachine produces:
//
//     "GENSTATE" | u64 size | u64 key | u64 commands | content (size bytes) | "GENEND01"
//
// (integers little-endian). restore() reads it back through one block's buffer and compares
// every block with the content it must be, so a state restored is the state written, byte for
// byte, without ever buffering more than a block.
inline constexpr size_t kGeneratedHeaderBytes = 32;
inline constexpr size_t kGeneratedTrailerBytes = 8;

// A state machine whose state is GeneratedContent of a fixed size. apply() mixes each command
// into the key (so the state after the same commands is the same on every node), and returns
// empty results. snapshot() hands over (size, key, commands): a consistent view in three words.
class GeneratedStateMachine final : public framework::StateMachine {
 public:
  using Clock = std::chrono::steady_clock;

  // A state of `size` bytes with key `seed` (a joining node starts with size 0: no state yet).
  GeneratedStateMachine(uint64_t size, uint64_t seed);

  std::vector<std::string> apply(std::span<const framework::Command> commands) override;
  std::unique_ptr<framework::StateSnapshot> snapshot() override;
  // Throws std::runtime_error, naming the offset, when the bytes are not a GENSTATE body or the
  // content differs from the one its header's key gives.
  void restore(std::istream& in) override;

  // Read from other threads: the current state.
  uint64_t size() const { return size_.load(); }
  uint64_t key() const { return key_.load(); }
  uint64_t commands() const { return commands_.load(); }

  // When each StateSnapshot::write of this state machine's views and each restore() started and
  // ended (time_since_epoch of Clock, in ns), in order, for splitting a catch-up into phases.
  struct Interval {
    int64_t start_ns = 0;
    int64_t end_ns = 0;
  };
  std::vector<Interval> writes() const;
  std::vector<Interval> restores() const;

  // The intervals, shared with the views (which may be written after the node let go of this
  // state machine).
  struct Record {
    mutable std::mutex mu;
    std::vector<Interval> writes;
    std::vector<Interval> restores;
    void add(std::vector<Interval> Record::*list, Interval i) {
      std::lock_guard lock(mu);
      (this->*list).push_back(i);
    }
  };

 private:
  std::atomic<uint64_t> size_;
  std::atomic<uint64_t> key_;
  std::atomic<uint64_t> commands_{0};
  std::shared_ptr<Record> record_ = std::make_shared<Record>();
};

// The time_since_epoch of GeneratedStateMachine::Clock now, in ns (the unit of Interval).
int64_t now_ns();

}  // namespace bench
