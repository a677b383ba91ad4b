#include "framework/apply_worker.h"

#include <exception>
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "framework/command_codec.h"

namespace framework {

ApplyWorker::ApplyWorker(StateMachine& state_machine, snapshot::SnapshotStore& store,
                         uint64_t self_id, ApplyPosition start, OnApplied on_applied,
                         OnFailed on_failed)
    : sm_(state_machine),
      store_(store),
      position_(std::move(start)),
      self_id_(self_id),
      durable_applied_(state_machine.durable_applied_index()),
      on_applied_(std::move(on_applied)),
      on_failed_(std::move(on_failed)),
      thread_([this] { run(); }) {}

ApplyWorker::~ApplyWorker() { stop(); }

void ApplyWorker::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void ApplyWorker::run() {
  for (;;) {
    std::deque<ApplyJob> jobs = queue_.take_all();
    if (jobs.empty()) return;  // closed and drained
    for (const ApplyJob& job : jobs) {
      if (failed_) break;
      try {
        switch (job.kind) {
          case ApplyJob::Kind::kEntries:
            on_applied_(apply_entries(job));
            break;
          case ApplyJob::Kind::kRestore:
            on_applied_(restore(job.snapshot));
            break;
          case ApplyJob::Kind::kTakeSnapshot:
            on_applied_(take_snapshot(job));
            break;
          case ApplyJob::Kind::kLeaderChange: {
            sm_.on_leader_change(job.leader, job.term);
            ApplyOutcome out;
            out.job = job.kind;
            on_applied_(std::move(out));
            break;
          }
        }
      } catch (const std::exception& e) {
        failed_ = true;
        on_failed_(e.what());
      } catch (...) {
        failed_ = true;
        on_failed_("a non-standard exception");
      }
    }
  }
}

ApplyOutcome ApplyWorker::apply_entries(const ApplyJob& job) {
  ApplyOutcome out;
  // Commands are applied in runs between configuration changes, so the membership hook sees
  // its change in log order.
  std::vector<Command> run;
  std::vector<RequestTag> tags;
  auto flush = [&] {
    if (run.empty()) return;
    std::vector<std::string> results = sm_.apply(run);
    if (results.size() != run.size()) {
      throw std::runtime_error("StateMachine::apply returned " + std::to_string(results.size()) +
                               " results for " + std::to_string(run.size()) + " commands");
    }
    for (size_t i = 0; i < run.size(); ++i) {
      if (tags[i].origin == self_id_) {
        out.commands.push_back(CommandOutcome{tags[i].request, run[i].index,
                                              std::move(results[i])});
      }
    }
    run.clear();
    tags.clear();
  };
  for (const raft::Entry& e : job.entries) {
    position_.index = e.index();
    position_.term = e.term();
    if (raft::is_conf_change_entry(e)) {
      flush();
      if (auto it = job.conf_states.find(e.index()); it != job.conf_states.end()) {
        position_.conf_state = it->second;
        sm_.on_membership_change(e.index(), it->second);
      }
      continue;
    }
    if (e.index() <= durable_applied_) continue;
    // Empty entries are the core's own; anything else not a framework command is ignored too
    // (it cannot be proposed through Node).
    std::optional<DecodedCommand> c = decode_command(e.data());
    if (!c) continue;
    run.push_back(Command{e.index(), e.term(), c->command});
    tags.push_back(c->tag);
  }
  flush();
  if (!job.entries.empty()) out.applied_index = job.entries.back().index();
  return out;
}

ApplyOutcome ApplyWorker::restore(const raft::SnapshotMetadata& metadata) {
  std::optional<snapshot::SnapshotInfo> info = store_.find(metadata.index(), metadata.term());
  if (!info) {
    throw snapshot::SnapshotError("no stored snapshot at index " +
                                  std::to_string(metadata.index()) + " term " +
                                  std::to_string(metadata.term()) + " in " + store_.dir());
  }
  store_.verify(*info);
  std::unique_ptr<snapshot::SnapshotReader> reader = store_.open(*info);
  ApplyOutcome out;
  out.job = ApplyJob::Kind::kRestore;
  out.restored_addresses = read_snapshot_section(reader->body());
  sm_.restore(reader->body());
  sm_.on_membership_change(metadata.index(), metadata.conf_state());
  position_ = ApplyPosition{metadata.index(), metadata.term(), metadata.conf_state()};
  // The state machine's own durable state is replaced too: nothing after this is skipped.
  durable_applied_ = std::min(durable_applied_, metadata.index());
  out.applied_index = metadata.index();
  return out;
}

ApplyOutcome ApplyWorker::take_snapshot(const ApplyJob& job) {
  ApplyOutcome out;
  out.job = ApplyJob::Kind::kTakeSnapshot;
  if (position_.index == 0) return out;
  TakenSnapshot taken;
  taken.metadata.set_index(position_.index);
  taken.metadata.set_term(position_.term);
  *taken.metadata.mutable_conf_state() = position_.conf_state;
  taken.view = sm_.snapshot();
  if (!taken.view) throw std::runtime_error("StateMachine::snapshot returned no view");
  taken.addresses = job.addresses;
  out.taken = std::move(taken);
  return out;
}

}  // namespace framework
