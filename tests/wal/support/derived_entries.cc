#include "tests/wal/support/derived_entries.h"

#include <stdexcept>

#include "raft/crc32c.h"
#include "wal/wal.h"

namespace wal::testing {
namespace {

uint64_t splitmix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string derived_bytes(uint64_t* state, uint64_t n) {
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    uint64_t r = splitmix(state);
    for (int i = 0; i < 8 && out.size() < n; ++i, r >>= 8) out.push_back(static_cast<char>(r));
  }
  return out;
}

}  // namespace

raft::Entry derived_entry(uint64_t index, uint64_t term, bool allow_large, uint64_t large_size) {
  uint64_t state = index * 0x100000001b3ull ^ (term << 40) ^ term;
  const uint64_t shape = splitmix(&state);
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_entry_type(shape % 16 == 0 ? eraftpb::EntryConfChange : eraftpb::EntryNormal);
  if ((shape >> 8) % 16 == 0) e.set_context(derived_bytes(&state, 1 + (shape >> 16) % 24));
  uint64_t data_size = (shape >> 24) % 300 + 1;
  if ((shape >> 40) % 32 == 0) data_size = 0;
  if (allow_large && (shape >> 48) % 64 == 0) data_size = large_size + (shape >> 56) * 8;
  e.set_data(derived_bytes(&state, data_size));
  return e;
}

raft::EntryVec derived_entries(uint64_t first, uint64_t n, uint64_t term, bool allow_large,
                               uint64_t large_size) {
  raft::EntryVec out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(derived_entry(first + i, term, allow_large, large_size));
  return out;
}

bool same_entry(const raft::Entry& a, const raft::Entry& b) {
  return a.index() == b.index() && a.term() == b.term() && a.entry_type() == b.entry_type() &&
         a.context() == b.context() && a.data() == b.data();
}

std::string describe_entry(const raft::Entry& e) {
  return raft::concat("index ", e.index(), " term ", e.term(), " type ",
                      static_cast<int>(e.entry_type()), " context ", e.context().size(),
                      " B data ", e.data().size(), " B crc ", raft::crc32c::value(e.data()));
}

raft::EntryVec read_all(const Wal& wal) {
  const uint64_t first = wal.first_index();
  const uint64_t last = wal.last_index();
  if (last < first) return {};
  auto r = wal.entries(first, last + 1, raft::kNoLimit);
  if (!r.ok()) {
    throw std::runtime_error(
        raft::concat("entries(", first, ", ", last + 1, "): ", r.error().message()));
  }
  return std::move(r).value();
}

std::string describe_status(const Status& s) {
  if (s.ok()) return "OK";
  return raft::concat("[", s.code().category().name(), ":", s.code().value(), "] ", s.message());
}

}  // namespace wal::testing
