// The store's two readers, behind the interfaces of snapshot_store.h: a stored snapshot's body
// as an istream, for restoring a state machine, and its whole file as raw bytes, for sending.
// Both read through one fixed buffer (or the caller's) and check the CRC32C on the way.
#pragma once

#include <memory>

#include "snapshot/snapshot_store.h"
#include "snapshot/stored_file.h"

namespace snapshot {

std::unique_ptr<SnapshotReader> make_snapshot_reader(StoredFile file);
std::unique_ptr<RawReader> make_raw_reader(StoredFile file);

}  // namespace snapshot
