// The transport's view of the snapshot store: a stored snapshot's file as a stream to send, and
// a received stream as a snapshot file being written.
#pragma once

#include <memory>

#include "net/transport.h"
#include "snapshot/snapshot_store.h"

namespace framework {

std::unique_ptr<net::SnapshotSource> snapshot_source(std::unique_ptr<snapshot::RawReader> reader);
std::unique_ptr<net::SnapshotSink> snapshot_sink(std::unique_ptr<snapshot::RawWriter> writer);

}  // namespace framework
