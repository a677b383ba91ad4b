// A stored snapshot file opened for reading, with the cheap checks done: the header parses, its
// metadata agrees with the file's name, and the trailer agrees with the file's length. The
// checksum needs the whole file: check_checksum(), or the readers as they reach the end.
#pragma once

#include <cstdint>
#include <string>

#include "snapshot/file_io.h"
#include "snapshot/snapshot_store.h"

namespace snapshot {

struct StoredFile {
  io::Fd fd;
  SnapshotInfo info;          // from the file: its whole metadata, lengths and path
  uint64_t header_bytes = 0;  // where the body starts
  uint32_t header_crc = 0;    // the CRC32C of the header, from which the body's continues
  uint32_t stored_crc = 0;    // the trailer's CRC32C, of header and body
};

// Throws SnapshotError naming the path: I/O errors, and damage.
StoredFile open_stored(const std::string& path);

// Reads the body through a fixed buffer and checks the CRC32C; throws SnapshotError.
void check_checksum(const StoredFile& file);

// Throws SnapshotError if `crc`, computed over the header and the whole body, is not the
// stored one.
void check_crc(const StoredFile& file, uint32_t crc);

}  // namespace snapshot
