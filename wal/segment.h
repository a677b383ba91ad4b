// One segment file of the WAL (wal/wal.h, "On disk"): its name, its 40-byte header, reading its
// records in order with every check that needs no knowledge of other segments, and creating a
// new one so that it appears whole or not at all.
//
// Thread-safety: free functions are thread-safe; a RecordScanner belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wal/file.h"
#include "wal/record.h"
#include "wal/status.h"

namespace wal::segment {

inline constexpr size_t kHeaderSize = 40;
inline constexpr std::string_view kMagic = "RAFTWAL1";
inline constexpr uint32_t kVersion = 1;
// Segments are read at open in chunks of this size (and a bigger one for a bigger record).
inline constexpr size_t kReadChunk = 1 << 20;

// --- Names ---

// "SSSSSSSSSSSSSSSS-IIIIIIIIIIIIIIII.wal", lower-case hex.
std::string name(uint64_t sequence, uint64_t first_index);
// The sequence and first index of a segment file name; nullopt for any other name (including
// "<segment>.tmp", ".torn.<offset>" and ".cut.<offset>" files).
std::optional<std::pair<uint64_t, uint64_t>> parse_name(std::string_view name);
inline constexpr std::string_view kTmpSuffix = ".tmp";

// --- Header ---

struct Header {
  uint64_t sequence = 0;
  uint64_t first_index = 0;
  uint32_t chain = 0;  // payload CRC of the previous segment's last record; 0 for the first
};

std::string encode_header(const Header& h);
// Decodes 40 bytes; on failure returns why ("bad segment header checksum", ...).
std::optional<std::string> decode_header(std::string_view bytes, Header* out);

// --- Reading ---

// A record that passed its checks; `payload` is valid until the next call to next().
struct ScannedRecord {
  uint64_t offset = 0;  // of the record header in the file
  record::Type type = record::Type::kEntry;
  std::string_view payload;
  uint32_t payload_crc = 0;
  uint64_t size() const { return record::kHeaderSize + payload.size(); }
};

// How the records of a segment end.
struct ScanEnd {
  // Where the good records end: the end marker, the end of the file, or the bad bytes.
  uint64_t data_end = 0;
  // Empty when the data ended cleanly: an end marker with only zeros after it, or the end of
  // the file. Otherwise why reading stopped, and where (`damage_offset`, which may be past
  // `data_end`, as for an end marker followed by non-zero bytes).
  std::string damage;
  uint64_t damage_offset = 0;
  // The damage is a record that failed its checks (not a malformed one with good checksums)
  // and nothing but zeros follows it: a torn tail, if this is the last segment.
  bool torn = false;
  // One past the last non-zero byte of the damaged region [data_end, file end); data_end when
  // clean. What a cut copies aside and zeroes.
  uint64_t damage_end = 0;
};

// Reads the records after the header of a segment in large sequential chunks, checking each
// header CRC and the payload CRC chained from `chain`. It checks framing only; what a record
// means is the caller's business.
class RecordScanner {
 public:
  RecordScanner(const File& file, uint64_t file_size, uint32_t chain);

  // The next good record: true and *out set, or false at the end of the data (see end()).
  StatusOr<bool> next(ScannedRecord* out);
  // Valid once next() returned false.
  const ScanEnd& end() const { return end_; }
  // The payload CRC of the last good record (the header's chain before the first).
  uint32_t chain() const { return chain_; }

 private:
  // Makes [offset, offset + n) of the file readable at view(offset); false when the file ends
  // first (then what there is is readable).
  StatusOr<bool> fill(uint64_t offset, size_t n);
  const char* view(uint64_t offset) const { return buf_.data() + (offset - buf_offset_); }
  size_t available(uint64_t offset) const { return buf_offset_ + buf_len_ - offset; }
  // Finishes with damage at `offset`; the region [offset, region_end) holds the bad bytes,
  // and it is torn when everything from region_end to the end of the file is zero.
  Status stop_damaged(uint64_t offset, uint64_t region_end, std::string why, bool may_be_torn);
  // The first non-zero byte in [from, file_size_), or file_size_ when all zero.
  StatusOr<uint64_t> find_nonzero(uint64_t from);

  const File& file_;
  uint64_t file_size_;
  uint32_t chain_;
  uint64_t offset_ = kHeaderSize;
  std::vector<char> buf_;
  uint64_t buf_offset_ = 0;
  size_t buf_len_ = 0;
  ScanEnd end_;
  bool done_ = false;
};

// One past the last non-zero byte of [from, to) in `file`, or `from` when all zero.
StatusOr<uint64_t> last_nonzero_end(const File& file, uint64_t from, uint64_t to);

// --- Creating ---

// A segment being made: `<path>.tmp`, preallocated, headed and synced, not yet a segment.
struct Prepared {
  std::string path;
  std::string tmp_path;
  std::unique_ptr<File> file;
};

// Creates `<path>.tmp` (removing a leftover of that name), gives it `capacity` bytes with
// fallocate, writes the header and syncs it. On failure the tmp file is removed (best effort),
// and *no_space says whether it was fallocate reporting a full disk: nothing was written then.
StatusOr<Prepared> prepare(FileSystem& fs, const std::string& dir, const Header& header,
                           uint64_t capacity, bool* no_space);
// Renames the tmp file to the segment's name, syncs the directory, and returns the segment
// opened read-write under its name.
StatusOr<std::unique_ptr<File>> publish(FileSystem& fs, const std::string& dir, Prepared& p);

}  // namespace wal::segment
