// The in-memory index of the WAL: where each live entry's record is, each entry's term, and the
// term before the first entry, in about 8 bytes per entry (wal/wal.h, "Memory"):
//
//   - one packed (offset, payload length) per live entry, in index order;
//   - one element per run of consecutive entries with the same term;
//   - one element per run of consecutive entries in the same segment.
//
// The live entries are [first(), last()]; their records lie in non-decreasing segment order (a
// later record replaces an earlier one, so whatever is live in a segment comes after whatever
// is live in an earlier one). A pure data structure: no I/O, no locking (the WAL guards it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace wal {

struct EntryLocation {
  uint64_t sequence = 0;  // of the segment
  uint32_t offset = 0;    // of the record header in the segment
  uint32_t length = 0;    // of the record's payload
};

class LogIndex {
 public:
  // An empty log that continues after index 0, term 0: first() == 1.
  LogIndex() = default;

  uint64_t first() const { return first_; }
  uint64_t last() const { return first_ + locations_.size() - 1; }
  bool empty() const { return locations_.empty(); }

  // Drops every entry; the log continues after (index, term).
  void reset(uint64_t index, uint64_t term);
  // Drops every entry; the log starts again at `first`, the term before it unknown (0).
  void restart(uint64_t first);

  // Adds entry `index` == last() + 1 with `term`, its record at `offset` in segment `sequence`
  // (no lower than the segment of the entry before it).
  void append(uint64_t index, uint64_t term, uint64_t sequence, uint32_t offset, uint32_t length);
  // Drops the entries from `from` on; first() <= from <= last() + 1.
  void truncate(uint64_t from);
  // Forgets the entries up to `index`; first() - 1 <= index <= last(). first() becomes
  // index + 1 and the term before it term(index).
  void compact(uint64_t index);

  // The term of `index` in [first() - 1, last()]: for first() - 1 the term before the log (0
  // when unknown).
  uint64_t term(uint64_t index) const;
  // Where entry `index` in [first(), last()] is.
  EntryLocation location(uint64_t index) const;
  // The segment holding entry `index` in [first(), last()].
  uint64_t sequence(uint64_t index) const;

  // Memory the index uses, approximately (its elements, not the containers' slack).
  uint64_t memory_bytes() const;

  // A cursor for reading the terms of consecutive entries without a search per entry.
  class TermCursor {
   public:
    // The term of the next index (starting at `index`, in [first(), last()]).
    uint64_t next();

   private:
    friend class LogIndex;
    TermCursor(const LogIndex& log, uint64_t index);
    const LogIndex& log_;
    uint64_t index_;
    size_t run_;
  };
  TermCursor terms_from(uint64_t index) const { return TermCursor(*this, index); }

 private:
  struct Run {
    uint64_t first;  // the first index the run covers
    uint64_t value;  // a term, or a segment sequence
  };
  // The run covering `index` in [first(), last()].
  static size_t find_run(const std::deque<Run>& runs, uint64_t index);
  // Drops the runs that start at or after `from`.
  static void truncate_runs(std::deque<Run>& runs, uint64_t from);
  // Drops the runs wholly before `index`; the run holding `index` now starts there.
  static void compact_runs(std::deque<Run>& runs, uint64_t index);

  uint64_t first_ = 1;
  uint64_t prev_term_ = 0;
  // (offset << 32 | length) of entries first_, first_ + 1, ...
  std::deque<uint64_t> locations_;
  std::deque<Run> terms_;
  std::deque<Run> segments_;
};

}  // namespace wal
