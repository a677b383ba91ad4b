// Entries whose every byte follows from their (index, term), so a checker that knows only which
// term an index should have can tell whether the entry read back is intact; and reading a whole
// WAL back through its public interface.
#pragma once

#include <cstdint>
#include <string>

#include "raft/types.h"
#include "wal/status.h"

namespace wal {
class Wal;
}

namespace wal::testing {

// The entry at (index, term): its type, context and data are derived from the pair. Most carry
// up to ~300 bytes of data; about one in 16 has a context, one in 32 is empty, one in 16 is a
// configuration change, and with `allow_large`, one in 64 is larger than `large_size` (so it
// needs a segment of its own when large_size is the segment size).
raft::Entry derived_entry(uint64_t index, uint64_t term, bool allow_large = false,
                          uint64_t large_size = 4096);
// Entries [first, first + n) of one term.
raft::EntryVec derived_entries(uint64_t first, uint64_t n, uint64_t term,
                               bool allow_large = false, uint64_t large_size = 4096);

// Whether two entries agree in every field the WAL stores.
bool same_entry(const raft::Entry& a, const raft::Entry& b);
// "index 7 term 3 type 0 context 0 B data 120 B crc 1a2b3c4d", for failure messages.
std::string describe_entry(const raft::Entry& e);

// Every entry of the WAL, [first_index(), last_index()], read with entries() in one call.
// Throws std::runtime_error when the read fails (it never should on an open WAL).
raft::EntryVec read_all(const Wal& wal);

// The message of a failed Status with its code ("[wal:1] ..."), for assertions' output.
std::string describe_status(const Status& s);

}  // namespace wal::testing
