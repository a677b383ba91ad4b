#include "bench/snapshot_state.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "raft/crc32c.h"
#include "raft/little_endian.h"

namespace bench {
namespace {

constexpr char kMagic[] = "GENSTATE";
constexpr char kEndMagic[] = "GENEND01";

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Reads exactly n bytes or throws, naming where the body ended.
void read_exactly(std::istream& in, char* out, size_t n, uint64_t offset) {
  in.read(out, static_cast<std::streamsize>(n));
  if (static_cast<size_t>(in.gcount()) != n) {
    throw std::runtime_error("generated state: the snapshot ends at byte " +
                             std::to_string(offset + static_cast<uint64_t>(in.gcount())) +
                             ", expected " + std::to_string(n) + " more bytes from " +
                             std::to_string(offset));
  }
}

class GeneratedView final : public framework::StateSnapshot {
 public:
  GeneratedView(uint64_t size, uint64_t key, uint64_t commands,
                std::shared_ptr<GeneratedStateMachine::Record> record)
      : size_(size), key_(key), commands_(commands), record_(std::move(record)) {}

  void write(std::ostream& out) override {
    const int64_t start = now_ns();
    char header[kGeneratedHeaderBytes];
    std::memcpy(header, kMagic, 8);
    raft::le::put_u64(header + 8, size_);
    raft::le::put_u64(header + 16, key_);
    raft::le::put_u64(header + 24, commands_);
    out.write(header, sizeof(header));
    GeneratedContent::write(key_, size_, out);
    out.write(kEndMagic, 8);
    if (!out) throw std::runtime_error("generated state: writing the snapshot failed");
    record_->add(&GeneratedStateMachine::Record::writes, {start, now_ns()});
  }

 private:
  const uint64_t size_;
  const uint64_t key_;
  const uint64_t commands_;
  std::shared_ptr<GeneratedStateMachine::Record> record_;
};

}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             GeneratedStateMachine::Clock::now().time_since_epoch())
      .count();
}

void GeneratedContent::fill(uint64_t key, uint64_t block, char* out, size_t n) {
  uint64_t state = key ^ (block * 0xD1B54A32D192ED03ull);
  // Two rounds first, so neighbouring blocks (and keys) start far apart.
  splitmix64(state);
  splitmix64(state);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = splitmix64(state);
    std::memcpy(out + i, &v, 8);
  }
  if (i < n) {
    const uint64_t v = splitmix64(state);
    std::memcpy(out + i, &v, n - i);
  }
}

void GeneratedContent::write(uint64_t key, uint64_t size, std::ostream& out) {
  const auto buf = std::make_unique<char[]>(kBlockBytes);
  for (uint64_t block = 0, done = 0; done < size; ++block) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockBytes, size - done));
    fill(key, block, buf.get(), n);
    out.write(buf.get(), static_cast<std::streamsize>(n));
    done += n;
  }
}

GeneratedStateMachine::GeneratedStateMachine(uint64_t size, uint64_t seed)
    : size_(size), key_(seed) {}

std::vector<std::string> GeneratedStateMachine::apply(
    std::span<const framework::Command> commands) {
  uint64_t key = key_.load();
  for (const framework::Command& c : commands) {
    uint64_t mixed = key ^ raft::crc32c::value(c.data) ^ (uint64_t{c.index} << 32);
    key = splitmix64(mixed);
  }
  key_.store(key);
  commands_.fetch_add(commands.size());
  return std::vector<std::string>(commands.size());
}

std::unique_ptr<framework::StateSnapshot> GeneratedStateMachine::snapshot() {
  return std::make_unique<GeneratedView>(size_.load(), key_.load(), commands_.load(), record_);
}

void GeneratedStateMachine::restore(std::istream& in) {
  const int64_t start = now_ns();
  char header[kGeneratedHeaderBytes];
  read_exactly(in, header, sizeof(header), 0);
  if (std::memcmp(header, kMagic, 8) != 0) {
    throw std::runtime_error("generated state: the snapshot does not start with " +
                             std::string(kMagic));
  }
  const uint64_t size = raft::le::get_u64(header + 8);
  const uint64_t key = raft::le::get_u64(header + 16);
  const uint64_t commands = raft::le::get_u64(header + 24);
  const auto got = std::make_unique<char[]>(GeneratedContent::kBlockBytes);
  const auto want = std::make_unique<char[]>(GeneratedContent::kBlockBytes);
  for (uint64_t block = 0, done = 0; done < size; ++block) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(GeneratedContent::kBlockBytes, size - done));
    read_exactly(in, got.get(), n, kGeneratedHeaderBytes + done);
    GeneratedContent::fill(key, block, want.get(), n);
    if (std::memcmp(got.get(), want.get(), n) != 0) {
      throw std::runtime_error("generated state: block " + std::to_string(block) + " (byte " +
                               std::to_string(kGeneratedHeaderBytes + done) +
                               ") differs from the content of its key");
    }
    done += n;
  }
  char end[kGeneratedTrailerBytes];
  read_exactly(in, end, sizeof(end), kGeneratedHeaderBytes + size);
  if (std::memcmp(end, kEndMagic, 8) != 0 || in.peek() != std::istream::traits_type::eof()) {
    throw std::runtime_error("generated state: bad end of the snapshot after " +
                             std::to_string(size) + " bytes of content");
  }
  size_.store(size);
  key_.store(key);
  commands_.store(commands);
  record_->add(&Record::restores, {start, now_ns()});
}

std::vector<GeneratedStateMachine::Interval> GeneratedStateMachine::writes() const {
  std::lock_guard lock(record_->mu);
  return record_->writes;
}

std::vector<GeneratedStateMachine::Interval> GeneratedStateMachine::restores() const {
  std::lock_guard lock(record_->mu);
  return record_->restores;
}

}  // namespace bench
