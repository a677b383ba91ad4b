// Helpers for snapshot tests: metadata, deterministic bodies, whole-snapshot writes and reads,
// and raw copies from a stored file into a receiving store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "raft/types.h"
#include "snapshot/snapshot_store.h"

namespace snapshot::testing {

raft::SnapshotMetadata metadata(uint64_t index, uint64_t term,
                                std::initializer_list<uint64_t> voters = {1, 2, 3});

// `n` bytes that depend on `seed` and on their position (a xorshift stream).
std::string body_bytes(size_t n, uint64_t seed);
// Fills buf[0, n) with the bytes at [offset, offset + n) of the stream of `seed`, as body_bytes
// would, for bodies too large to hold; offset and n must be multiples of 8.
void fill_body(char* buf, size_t n, uint64_t offset, uint64_t seed);

// Writes a snapshot with this body in pieces of `piece` bytes and commits it.
SnapshotInfo write_snapshot(SnapshotStore& store, const raft::SnapshotMetadata& m,
                            const std::string& body, size_t piece = 1000);
// The whole body of a stored snapshot, through SnapshotReader::body().
std::string read_body(const SnapshotStore& store, const SnapshotInfo& info);

// Streams `bytes` into a RawWriter of `to` in pieces of `piece` bytes and commits.
SnapshotInfo receive_bytes(SnapshotStore& to, const raft::SnapshotMetadata& expected,
                           const std::string& bytes, size_t piece);
// Copies a stored snapshot of `from` to `to` through RawReader and RawWriter, with a buffer of
// `piece` bytes.
SnapshotInfo copy_raw(const SnapshotStore& from, const SnapshotInfo& info, SnapshotStore& to,
                      size_t piece);

// The names of the files in `dir`, sorted.
std::vector<std::string> file_names(const std::string& dir);

}  // namespace snapshot::testing
