// Reading a WAL directory back: list its segments, check each one's header against its name
// and against the segment before it, replay every record into a LogIndex, and find the first
// damage (wal/wal.h, "Damage"); then the two ways damage is cut away, moving the bytes aside.
//
// Replay rules beyond wal/wal.h: the first segment read may not be the log's first (compact()
// removes old ones), so until a reset record fixes the log's start, an entry or a truncation
// below the log's first index starts the log again there (the entries below it were in removed
// segments, all at or below a compaction point). After a reset record that is corruption.
//
// Thread-safety: the functions are thread-safe; the directory must not change while they run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wal/file.h"
#include "wal/log_index.h"
#include "wal/status.h"

namespace wal::replay {

struct SegmentInfo {
  uint64_t sequence = 0;
  uint64_t first_index = 0;
  std::string path;
  uint32_t header_chain = 0;
  uint64_t file_size = 0;
};

// The first damage found; replay stops there.
struct Damage {
  size_t segment = 0;  // position in Result::segments
  // Where a cut starts: a bad record, an end marker followed by non-zero bytes, or 0 when the
  // whole segment is bad (its header, or its place among the others).
  uint64_t offset = 0;
  // One past the last non-zero byte of the segment after `offset` (the file size for a whole
  // segment): a cut copies aside and zeroes [offset, end).
  uint64_t end = 0;
  // A record that failed its checks, in the last segment, followed only by zeros.
  bool torn = false;
  // kCorruption, naming the file and the offset.
  Status status;
};

struct Result {
  std::vector<SegmentInfo> segments;  // every segment file, in sequence order
  LogIndex index;                     // the log as replayed up to the damage, if any
  uint32_t chain = 0;                 // payload CRC of the last good record (or header chain)
  uint64_t data_end = 0;              // where the last segment's good records end
  uint64_t records = 0;
  uint64_t bytes = 0;  // of good records and segment headers
  uint64_t segments_replayed = 0;
  std::optional<Damage> damage;
};

// Replays every segment in `dir` (ignoring files that are not segments). Changes nothing. I/O
// errors are returned; damage is reported in the result.
StatusOr<Result> replay(FileSystem& fs, const std::string& dir);

// Copies [from, to) of the file at `path` to `copy_path` (created or replaced, synced, and the
// directory synced), then overwrites that range of the file with zeros and syncs it.
Status cut_range(FileSystem& fs, const std::string& dir, const std::string& path, uint64_t from,
                 uint64_t to, const std::string& copy_path);

}  // namespace wal::replay
