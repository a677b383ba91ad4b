// Record framing of the WAL (wal/wal.h, "On disk"): the 16-byte record header with its own CRC,
// the chained payload CRC, and the payloads of the three record types.
//
//     header:   length u32 | type u8 | 3 zero bytes | header CRC u32 | payload CRC u32
//     entry:    index u64 | term u64 | entry type u8 | context length u32 | context | data
//     truncate: from index u64
//     reset:    index u64 | term u64
//
// All integers little-endian. Pure functions over bytes; no I/O, no state. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "raft/little_endian.h"
#include "raft/types.h"

namespace wal::record {

inline constexpr size_t kHeaderSize = 16;
// index, term, entry type, context length: the part of an entry payload before its context.
inline constexpr size_t kEntryFixedSize = 21;
inline constexpr size_t kTruncateSize = 8;
inline constexpr size_t kResetSize = 16;
// The largest payload the length field can describe.
inline constexpr uint64_t kMaxPayloadSize = UINT32_MAX;

enum class Type : uint8_t { kEntry = 1, kTruncate = 2, kReset = 3 };

// --- Little-endian integers ---
using raft::le::get_u32;
using raft::le::get_u64;
using raft::le::put_u32;
using raft::le::put_u64;

// --- Headers ---

struct Header {
  uint32_t length = 0;  // of the payload
  Type type = Type::kEntry;
  uint32_t payload_crc = 0;  // chained (see wal/wal.h)
};

enum class HeaderCheck {
  kOk,
  kEndMarker,  // sixteen zero bytes: the end of the data
  kBadCrc,     // the header CRC does not match: the length cannot be trusted (maybe torn)
  kBadFormat,  // the CRC matches but the type or the reserved bytes are not ones this code
               // writes: never the result of a torn write
};

// Decodes the 16 bytes at `in`.
HeaderCheck decode_header(const char* in, Header* out) noexcept;

// --- Writing records (appended to `out`; `chain` is the previous payload CRC, updated) ---

// The payload size of entry `e`'s record.
uint64_t entry_payload_size(const raft::Entry& e) noexcept;

// Each returns the size of the record it appended (header + payload).
size_t append_entry_record(std::string& out, const raft::Entry& e, uint32_t* chain);
size_t append_truncate_record(std::string& out, uint64_t from_index, uint32_t* chain);
size_t append_reset_record(std::string& out, uint64_t index, uint64_t term, uint32_t* chain);

// The payload CRC stored in the record header at `record` (its bytes 12..16).
uint32_t stored_payload_crc(const char* record) noexcept;

// --- Reading payloads: false when the payload is malformed (wrong size, bad entry type, a
// context longer than the payload) ---

struct EntryFields {
  uint64_t index = 0;
  uint64_t term = 0;
  uint8_t entry_type = 0;
  uint32_t context_length = 0;
  uint64_t data_length = 0;
};

bool decode_entry_fields(std::string_view payload, EntryFields* out) noexcept;
// The whole entry; `payload` must pass decode_entry_fields.
bool decode_entry(std::string_view payload, raft::Entry* out);
bool decode_truncate(std::string_view payload, uint64_t* from_index) noexcept;
bool decode_reset(std::string_view payload, uint64_t* index, uint64_t* term) noexcept;

// raft::entry_size() of the entry these fields describe, computed without building it, so byte
// limits on reads can be applied as the core (and raft::MemoryStorage) applies them.
uint64_t entry_encoded_size(const EntryFields& f) noexcept;

}  // namespace wal::record
