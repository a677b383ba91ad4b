// The snapshot file format (described in snapshot_store.h): names, header, trailer, and the
// checks of each part. Pure functions over bytes; errors throw SnapshotError naming the path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace snapshot::format {

inline constexpr std::string_view kMagic = "RAFTSNAP";
inline constexpr std::string_view kTrailerMagic = "SNAPEND1";
inline constexpr uint32_t kVersion = 1;
// Magic, version, metadata length.
inline constexpr size_t kFixedHeaderBytes = 16;
// Body length, CRC32C, magic.
inline constexpr size_t kTrailerBytes = 20;
// Metadata is an index, a term and a ConfState: a few KiB even for a large cluster. A length
// above this is damage (or not a snapshot), and bounds what a receiver buffers.
inline constexpr uint32_t kMaxMetadataBytes = 64u << 20;
// The size of the writers' and readers' buffers.
inline constexpr size_t kBufferBytes = 256u << 10;

// "<index as 16 hex digits>-<term as 16 hex digits>.snap"
std::string file_name(uint64_t index, uint64_t term);
struct NameId {
  uint64_t index = 0;
  uint64_t term = 0;
};
// The index and term of a snapshot's file name (lower-case hex, index > 0); nullopt for any
// other name.
std::optional<NameId> parse_name(std::string_view name);
inline constexpr std::string_view kTempSuffix = ".tmp";
// Whether `name` is a snapshot's name plus ".tmp".
bool is_temp_name(std::string_view name);

// The whole header of a snapshot with this metadata.
std::string encode_header(const raft::SnapshotMetadata& metadata);
// Checks the first kFixedHeaderBytes bytes of a file (magic, version, metadata length) and
// returns the metadata length.
uint32_t check_fixed_header(const char* p, const std::string& path);
// Whether the first n (< 8) bytes of a file can begin the magic.
bool magic_prefix_ok(const char* p, size_t n);
raft::SnapshotMetadata parse_metadata(const char* p, size_t n, const std::string& path);

struct Trailer {
  uint64_t body_bytes = 0;
  uint32_t crc = 0;
};
std::string encode_trailer(const Trailer& t);
// Decodes kTrailerBytes bytes and checks the trailer's magic.
Trailer parse_trailer(const char* p, const std::string& path);

bool same_metadata(const raft::SnapshotMetadata& a, const raft::SnapshotMetadata& b);
// "index 12 term 3 (voters 1 2 3)" for error messages.
std::string describe(const raft::SnapshotMetadata& m);

}  // namespace snapshot::format
