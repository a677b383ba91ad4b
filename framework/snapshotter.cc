#include "framework/snapshotter.h"

#include <exception>
#include <utility>

namespace framework {

Snapshotter::Snapshotter(snapshot::SnapshotStore& store, OnWritten on_written)
    : store_(store), on_written_(std::move(on_written)), thread_([this] { run(); }) {}

Snapshotter::~Snapshotter() { stop(); }

void Snapshotter::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void Snapshotter::run() {
  for (;;) {
    std::deque<SnapshotTask> tasks = queue_.take_all();
    if (tasks.empty()) return;  // closed and drained
    for (SnapshotTask& task : tasks) {
      if (task.kind == SnapshotTask::Kind::kPrune) {
        try {
          store_.prune();
        } catch (const std::exception&) {
          // An old file left behind costs disk space only; the next prune tries again.
        }
        continue;
      }
      try {
        std::unique_ptr<snapshot::SnapshotWriter> writer = store_.create(task.metadata);
        write_snapshot_body(writer->body(), task.addresses, *task.view);
        task.view.reset();  // free the view before the sync
        on_written_(writer->commit(), {});
      } catch (const std::exception& e) {
        on_written_({}, e.what());
      }
    }
  }
}

}  // namespace framework
