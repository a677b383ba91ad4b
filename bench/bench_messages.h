// Shared by the benchmarks: the MsgAppend they encode, decode or step, and the peak RSS they
// report.
#pragma once

#include <sys/resource.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "raft/types.h"

namespace bench {

// A MsgAppend from 1 to 2 at `term`, carrying `entries` entries of `payload_size` bytes each,
// the first at `first_index` (the message's index/log_term point just before it, and its commit
// a little behind).
inline raft::Message make_msg_append(uint64_t term, uint64_t first_index, int entries,
                                     size_t payload_size) {
  raft::Message m;
  m.set_msg_type(eraftpb::MsgAppend);
  m.set_from(1);
  m.set_to(2);
  m.set_term(term);
  m.set_log_term(term);
  m.set_index(first_index - 1);
  m.set_commit(first_index - 1);
  for (int i = 0; i < entries; ++i) {
    raft::Entry* e = m.add_entries();
    e->set_term(term);
    e->set_index(first_index + static_cast<uint64_t>(i));
    e->set_data(std::string(payload_size, static_cast<char>('a' + i % 26)));
  }
  return m;
}

// The process's peak resident set so far, in MiB.
inline double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace bench
