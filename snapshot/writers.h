// The store's two writers, behind the interfaces of snapshot_store.h: a local snapshot written
// through an ostream (snapshot_writer.cc), and a snapshot file received from a peer as raw bytes
// (raw_writer.cc). Both write "<name>.tmp" through a PendingFile and add their snapshot to
// `store` when they commit.
#pragma once

#include <memory>

#include "raft/types.h"
#include "snapshot/snapshot_store.h"

namespace snapshot {

std::unique_ptr<SnapshotWriter> make_snapshot_writer(SnapshotStore& store,
                                                     const raft::SnapshotMetadata& metadata,
                                                     WriteHook hook);
std::unique_ptr<RawWriter> make_raw_writer(SnapshotStore& store,
                                           const raft::SnapshotMetadata& expected, WriteHook hook);

}  // namespace snapshot
