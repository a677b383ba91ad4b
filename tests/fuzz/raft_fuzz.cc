// libFuzzer target: the consensus core fed bad input from the network.
//
// A three-voter cluster (nodes 1, 2, 3, each a RawNode over its own MemoryStorage) runs on an
// in-memory network the input controls: ticks, campaigns, proposals, Ready handling (synchronous,
// or asynchronous with persistence completed later), delivery, drop and duplication of messages,
// compaction, and restarts of node 1. Node 1 is the target: besides the honest traffic it
// receives messages that are parsed from raw input bytes (ParseFromArray), built field by field
// (any message type, ids 0..5, huge indexes and terms, entries of any index, term and type,
// snapshots with any ConfState), or honest messages in flight with one field corrupted.
//
// The core must reject or ignore all of it: any exception (InvariantViolation included), any
// InvariantChecker violation on any node, any storage write the core asks for that MemoryStorage
// refuses, and any sanitizer report is a finding. The harness then prints the operation that
// failed and aborts, so libFuzzer keeps the input.
//
// To see the message sequence of an input: RAFT_FUZZ_TRACE=1 ./raft_fuzz crash-file
// (every operation, every message stepped into a node, and the nodes' debug log on stderr).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "raft/invariants.h"
#include "raft/logger.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace {

using raft::ConfChange;
using raft::ConfChangeV2;
using raft::ConfState;
using raft::Entry;
using raft::Message;
using raft::Ready;

constexpr uint64_t kTarget = 1;
constexpr uint64_t kNodes = 3;  // ids 1..kNodes are live; 4 and 5 are strangers
constexpr int kMaxOps = 512;
constexpr size_t kMaxInFlight = 256;

bool tracing() {
  static const bool on = std::getenv("RAFT_FUZZ_TRACE") != nullptr;
  return on;
}

template <typename... Parts>
void trace(const char* fmt, Parts... parts) {
  if (!tracing()) return;
  std::fprintf(stderr, fmt, parts...);
  std::fputc('\n', stderr);
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "raft_fuzz: FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

struct NodeState {
  uint64_t id = 0;
  raft::MemoryStorage storage;
  std::unique_ptr<raft::RawNode> raw;
  raft::InvariantChecker checker;
  // Ready numbers handed out asynchronously whose writes are not yet reported durable, with
  // what waits for them: messages to send, and a snapshot index to report applied.
  struct Unpersisted {
    uint64_t number;
    std::vector<Message> messages;
    uint64_t snapshot_index;
  };
  std::deque<Unpersisted> unpersisted;

  explicit NodeState(const ConfState& cs) : storage(cs) {}
};

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in) : in_(in) {
    ConfState cs;
    for (uint64_t id = 1; id <= kNodes; ++id) cs.add_voters(id);
    // The input's first bytes choose the features every node runs with.
    config_.election_tick = 5;
    config_.heartbeat_tick = 1;
    config_.pre_vote = in_.ConsumeBool();
    config_.check_quorum = in_.ConsumeBool();
    if (config_.check_quorum && in_.ConsumeBool()) {
      config_.read_only_option = raft::ReadOnlyOption::kLeaseBased;
    }
    config_.max_size_per_msg = in_.ConsumeBool() ? 0 : raft::kNoLimit;
    config_.max_inflight_msgs = in_.ConsumeIntegralInRange<size_t>(1, 8);
    config_.max_uncommitted_entries_size = in_.ConsumeBool() ? 64 : raft::kNoLimit;
    config_.max_committed_size_per_ready = in_.ConsumeBool() ? 16 : raft::kNoLimit;
    config_.seed = in_.ConsumeIntegral<uint8_t>();
    if (tracing()) logger_ = std::make_unique<raft::StderrLogger>(raft::LogLevel::kDebug);
    config_.logger = logger_.get();
    for (uint64_t id = 1; id <= kNodes; ++id) {
      auto n = std::make_unique<NodeState>(cs);
      n->id = id;
      n->raw = std::make_unique<raft::RawNode>(config_for(id, 0), n->storage);
      nodes_.push_back(std::move(n));
    }
  }

  void run() {
    for (int op = 0; op < kMaxOps && in_.remaining_bytes() > 0; ++op) {
      op_ = op;
      try {
        one_op();
        for (auto& n : nodes_) n->checker.check(n->raw->raft());
      } catch (const std::exception& e) {
        finding("op " + std::to_string(op) + " threw: " + e.what());
      }
    }
  }

 private:
  raft::Config config_for(uint64_t id, uint64_t applied) const {
    raft::Config c = config_;
    c.id = id;
    c.applied = applied;
    return c;
  }

  NodeState& pick_node() { return *nodes_[in_.ConsumeIntegralInRange<size_t>(0, kNodes - 1)]; }
  NodeState& target() { return *nodes_[kTarget - 1]; }

  void one_op() {
    switch (in_.ConsumeIntegralInRange<int>(0, 19)) {
      case 0: {
        NodeState& n = pick_node();
        const int ticks = in_.ConsumeIntegralInRange<int>(1, 8);
        trace("op %d: %d ticks on %llu", op_, ticks, (unsigned long long)n.id);
        for (int i = 0; i < ticks; ++i) n.raw->tick();
        break;
      }
      case 1: {
        NodeState& n = pick_node();
        trace("op %d: campaign on %llu", op_, (unsigned long long)n.id);
        (void)n.raw->campaign();
        break;
      }
      case 2: {
        NodeState& n = pick_node();
        trace("op %d: propose on %llu", op_, (unsigned long long)n.id);
        (void)n.raw->propose(in_.ConsumeRandomLengthString(32));
        break;
      }
      case 3: {
        NodeState& n = pick_node();
        trace("op %d: propose conf change on %llu", op_, (unsigned long long)n.id);
        if (in_.ConsumeBool()) {
          (void)n.raw->propose_conf_change(make_conf_change_v2());
        } else {
          (void)n.raw->propose_conf_change(make_conf_change());
        }
        break;
      }
      case 4: {
        NodeState& n = pick_node();
        const uint8_t what = in_.ConsumeIntegralInRange<uint8_t>(0, 4);
        const uint64_t id = in_.ConsumeIntegralInRange<uint64_t>(0, 5);
        trace("op %d: local request %d (id %llu) on %llu", op_, what, (unsigned long long)id,
              (unsigned long long)n.id);
        switch (what) {
          case 0: (void)n.raw->read_index(in_.ConsumeRandomLengthString(8)); break;
          case 1: (void)n.raw->transfer_leader(id); break;
          case 2: (void)n.raw->request_snapshot(); break;
          case 3: n.raw->report_unreachable(id); break;
          default: n.raw->report_snapshot(id, in_.ConsumeBool()); break;
        }
        break;
      }
      case 5:
      case 6: handle_ready(pick_node(), in_.ConsumeBool()); break;
      case 7: persist_one(pick_node()); break;
      case 8:
      case 9:
      case 10: deliver(in_.ConsumeBool()); break;
      case 11:
        if (!net_.empty()) {
          const size_t i = in_.ConsumeIntegralInRange<size_t>(0, net_.size() - 1);
          trace("op %d: drop %s", op_, raft::describe(net_[i]).c_str());
          net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
      case 12: compact(pick_node()); break;
      case 13: restart_target(); break;
      case 14: {
        // Raw bytes off the wire.
        const size_t len = in_.ConsumeIntegralInRange<size_t>(0, 256);
        const std::string bytes = in_.ConsumeBytesAsString(len);
        Message m;
        if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) break;
        step_into(target(), m, "parsed");
        break;
      }
      case 15:
      case 16: step_into(target(), make_message(), "built"); break;
      case 17:
      case 18: corrupt_in_flight(); break;
      default:
        // Let the cluster run on its own for a while, so the target meets real traffic in
        // every role.
        settle();
        break;
    }
  }

  // --- Values --------------------------------------------------------------------------------

  uint64_t any_u64() {
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: return 0;
      case 1:
        return std::numeric_limits<uint64_t>::max() - in_.ConsumeIntegralInRange<uint64_t>(0, 2);
      case 2: return in_.ConsumeIntegralInRange<uint64_t>(0, 16);
      default: return in_.ConsumeIntegral<uint64_t>();
    }
  }
  // Near a value the target knows, or anything.
  uint64_t near(uint64_t base) {
    if (in_.ConsumeIntegralInRange<int>(0, 3) == 0) return any_u64();
    return base + static_cast<uint64_t>(in_.ConsumeIntegralInRange<int64_t>(-3, 3));
  }
  uint64_t some_id() { return in_.ConsumeIntegralInRange<uint64_t>(0, 5); }

  ConfChangeV2 make_conf_change_v2() {
    ConfChangeV2 cc;
    cc.set_transition(
        static_cast<raft::ConfChangeTransition>(in_.ConsumeIntegralInRange<int>(0, 3)));
    const int n = in_.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < n; ++i) {
      auto* c = cc.add_changes();
      c->set_change_type(static_cast<raft::ConfChangeType>(in_.ConsumeIntegralInRange<int>(0, 3)));
      c->set_node_id(some_id());
    }
    return cc;
  }
  ConfChange make_conf_change() {
    ConfChange cc;
    cc.set_change_type(static_cast<raft::ConfChangeType>(in_.ConsumeIntegralInRange<int>(0, 3)));
    cc.set_node_id(some_id());
    return cc;
  }

  void fill_entry(Entry* e) {
    const int type = in_.ConsumeIntegralInRange<int>(0, 3);
    e->set_entry_type(
        static_cast<raft::EntryType>(type == 3 ? in_.ConsumeIntegral<int32_t>() : type));
    switch (type) {
      case 1: e->set_data(make_conf_change().SerializeAsString()); break;
      case 2: e->set_data(make_conf_change_v2().SerializeAsString()); break;
      default: e->set_data(in_.ConsumeRandomLengthString(16)); break;
    }
  }

  Message make_message() {
    const raft::Raft& r = target().raw->raft();
    Message m;
    const int type = in_.ConsumeIntegralInRange<int>(0, 20);
    m.set_msg_type(
        static_cast<raft::MessageType>(type <= 18 ? type : in_.ConsumeIntegral<int32_t>()));
    m.set_from(some_id());
    m.set_to(in_.ConsumeBool() ? kTarget : some_id());
    switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: m.set_term(r.term()); break;
      case 1: m.set_term(r.term() + 1); break;
      case 2: m.set_term(r.term() == 0 ? 0 : r.term() - 1); break;
      case 3: m.set_term(0); break;
      default: m.set_term(any_u64()); break;
    }
    m.set_index(near(in_.ConsumeBool() ? r.log().last_index() : r.log().committed()));
    m.set_log_term(in_.ConsumeBool() ? r.log().zero_term_on_err_compacted(m.index())
                                     : near(m.term()));
    m.set_commit(near(r.log().last_index()));
    const int entries = in_.ConsumeIntegralInRange<int>(0, 6);
    const bool plausible = in_.ConsumeBool();
    uint64_t term = m.log_term();
    for (int i = 0; i < entries; ++i) {
      Entry* e = m.add_entries();
      if (plausible) {
        // Contiguous, with terms that pass validation, so the content reaches the log.
        e->set_index(m.index() + 1 + static_cast<uint64_t>(i));
        if (term < m.term() && in_.ConsumeBool()) ++term;
        e->set_term(term);
      } else {
        e->set_index(near(m.index() + 1 + static_cast<uint64_t>(i)));
        e->set_term(near(m.term()));
      }
      fill_entry(e);
    }
    m.set_reject(in_.ConsumeBool());
    m.set_reject_hint(near(r.log().last_index()));
    if (in_.ConsumeBool()) m.set_request_snapshot(near(r.log().last_index()));
    switch (in_.ConsumeIntegralInRange<int>(0, 2)) {
      case 0: break;
      case 1: m.set_context(std::string(raft::kCampaignTransfer)); break;
      default: m.set_context(in_.ConsumeRandomLengthString(8)); break;
    }
    if (in_.ConsumeBool()) {
      auto* meta = m.mutable_snapshot()->mutable_metadata();
      meta->set_index(near(r.log().committed() + 2));
      meta->set_term(near(m.term()));
      auto* cs = meta->mutable_conf_state();
      const auto ids = [&](auto add) {
        const int n = in_.ConsumeIntegralInRange<int>(0, 3);
        for (int i = 0; i < n; ++i) add(some_id());
      };
      ids([&](uint64_t id) { cs->add_voters(id); });
      ids([&](uint64_t id) { cs->add_learners(id); });
      if (in_.ConsumeBool()) {
        ids([&](uint64_t id) { cs->add_voters_outgoing(id); });
        ids([&](uint64_t id) { cs->add_learners_next(id); });
        cs->set_auto_leave(in_.ConsumeBool());
      }
      m.mutable_snapshot()->set_data(in_.ConsumeRandomLengthString(8));
    }
    return m;
  }

  // --- Network -------------------------------------------------------------------------------

  void send(std::vector<Message>& msgs) {
    for (auto& m : msgs) {
      if (net_.size() >= kMaxInFlight) net_.pop_front();  // a congested network drops the oldest
      net_.push_back(std::move(m));
    }
    msgs.clear();
  }

  NodeState* node_of(uint64_t id) {
    return id >= 1 && id <= kNodes ? nodes_[id - 1].get() : nullptr;
  }

  void step_into(NodeState& n, const Message& m, const char* how) {
    if (tracing()) {
      trace("op %d: step %s into %llu: %s", op_, how, (unsigned long long)n.id,
            m.ShortDebugString().c_str());
    }
    const std::error_code ec = n.raw->step(m);
    if (ec) trace("        -> %s", ec.message().c_str());
  }

  void deliver(bool keep_copy) {
    if (net_.empty()) return;
    const size_t i = in_.ConsumeIntegralInRange<size_t>(0, net_.size() - 1);
    Message m = net_[i];
    if (!keep_copy) net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
    if (NodeState* n = node_of(m.to())) step_into(*n, m, keep_copy ? "duplicate" : "delivered");
  }

  // An honest message with one field changed, to the target.
  void corrupt_in_flight() {
    if (net_.empty()) return;
    Message m = net_[in_.ConsumeIntegralInRange<size_t>(0, net_.size() - 1)];
    m.set_to(kTarget);
    switch (in_.ConsumeIntegralInRange<int>(0, 8)) {
      case 0: m.set_term(near(m.term())); break;
      case 1: m.set_index(near(m.index())); break;
      case 2: m.set_log_term(near(m.log_term())); break;
      case 3: m.set_commit(near(m.commit())); break;
      case 4: m.set_from(some_id()); break;
      case 5:
        m.set_reject(!m.reject());
        m.set_reject_hint(near(m.reject_hint()));
        break;
      case 6:
        if (m.entries_size() > 0) {
          Entry* e = m.mutable_entries(in_.ConsumeIntegralInRange<int>(0, m.entries_size() - 1));
          if (in_.ConsumeBool())
            e->set_index(near(e->index()));
          else
            e->set_term(near(e->term()));
        } else {
          fill_entry(m.add_entries());
        }
        break;
      case 7:
        if (m.has_snapshot()) {
          auto* meta = m.mutable_snapshot()->mutable_metadata();
          meta->set_index(near(meta->index()));
          meta->mutable_conf_state()->add_voters(some_id());
        } else {
          m.set_msg_type(static_cast<raft::MessageType>(in_.ConsumeIntegralInRange<int>(0, 18)));
        }
        break;
      default:
        m.set_msg_type(static_cast<raft::MessageType>(in_.ConsumeIntegralInRange<int>(0, 18)));
        break;
    }
    step_into(target(), m, "corrupted");
  }

  // --- The driver ----------------------------------------------------------------------------

  void apply_committed(NodeState& n, const raft::EntryVec& committed) {
    for (const Entry& e : committed) {
      if (e.entry_type() == eraftpb::EntryConfChange) {
        ConfChange cc;
        if (!cc.ParseFromString(e.data())) continue;  // an application would refuse it too
        n.storage.set_conf_state(n.raw->apply_conf_change(cc));
      } else if (e.entry_type() == eraftpb::EntryConfChangeV2) {
        ConfChangeV2 cc;
        if (!cc.ParseFromString(e.data())) continue;
        n.storage.set_conf_state(n.raw->apply_conf_change(cc));
      }
    }
  }

  // Does what the Ready asks. Synchronously: write, send, apply, advance. Asynchronously: write
  // at once (the disk thread's write lands; the core is told later, by persist_one), apply the
  // committed entries, and hold the messages that must wait for durability.
  void handle_ready(NodeState& n, bool async) {
    if (!n.raw->has_ready()) return;
    Ready rd = n.raw->ready();
    trace("op %d: ready %llu on %llu (%s): %zu entries, %zu committed, %zu+%zu msgs%s", op_,
          (unsigned long long)rd.number, (unsigned long long)n.id, async ? "async" : "sync",
          rd.entries.size(), rd.committed_entries.size(), rd.messages.size(),
          rd.persisted_messages.size(), rd.snapshot ? ", snapshot" : "");
    if (rd.snapshot) {
      if (auto ec = n.storage.apply_snapshot(*rd.snapshot)) {
        finding("storage refused the Ready's snapshot: " + ec.message());
      }
    }
    if (auto ec = n.storage.append(rd.entries)) {
      finding("storage refused the Ready's entries: " + ec.message());
    }
    if (rd.hard_state) n.storage.set_hard_state(*rd.hard_state);
    send(rd.messages);
    apply_committed(n, rd.committed_entries);
    if (!async) {
      n.raw->advance(rd);
      // advance() reported every earlier Ready durable as well: release what waited for them.
      for (auto& u : n.unpersisted) {
        send(u.messages);
        if (u.snapshot_index > n.raw->raft().log().applied()) {
          n.raw->advance_apply_to(u.snapshot_index);
        }
      }
      n.unpersisted.clear();
      send(rd.persisted_messages);
      return;
    }
    n.raw->advance_append_async(rd);
    if (!rd.committed_entries.empty()) {
      n.raw->advance_apply_to(rd.committed_entries.back().index());
    }
    n.unpersisted.push_back({rd.number, std::move(rd.persisted_messages),
                             rd.snapshot ? rd.snapshot->metadata().index() : 0});
  }

  void persist_one(NodeState& n) {
    if (n.unpersisted.empty()) return;
    NodeState::Unpersisted u = std::move(n.unpersisted.front());
    n.unpersisted.pop_front();
    trace("op %d: ready %llu of %llu durable", op_, (unsigned long long)u.number,
          (unsigned long long)n.id);
    n.raw->on_persist_ready(u.number);
    send(u.messages);
    if (u.snapshot_index > n.raw->raft().log().applied()) {
      n.raw->advance_apply_to(u.snapshot_index);
    }
  }

  void compact(NodeState& n) {
    const uint64_t applied = n.raw->raft().log().applied();
    trace("op %d: snapshot and compact %llu at %llu", op_, (unsigned long long)n.id,
          (unsigned long long)applied);
    if (applied < n.storage.first_index()) return;
    // Both may legitimately refuse (an older snapshot, nothing to compact); neither may throw.
    (void)n.storage.create_snapshot(applied, nullptr, "snap");
    (void)n.storage.compact(applied);
  }

  // A crash and restart of the target: what MemoryStorage holds is what it persisted (writes
  // land at once in this harness); messages waiting for durability are lost. The state machine
  // is durable, so it restarts with its applied index (at least the stored snapshot's).
  void restart_target() {
    NodeState& n = target();
    uint64_t applied = n.raw->raft().log().applied();
    applied = std::max(applied, n.storage.first_index() - 1);
    trace("op %d: restart %llu (applied %llu)", op_, (unsigned long long)n.id,
          (unsigned long long)applied);
    n.unpersisted.clear();
    n.raw.reset();
    n.raw = std::make_unique<raft::RawNode>(config_for(n.id, applied), n.storage);
    n.checker.reset();
  }

  // Ticks every node a few times, handling Readies and delivering everything in flight.
  void settle() {
    const int rounds = in_.ConsumeIntegralInRange<int>(1, 16);
    trace("op %d: settle %d rounds", op_, rounds);
    for (int r = 0; r < rounds; ++r) {
      for (auto& n : nodes_) n->raw->tick();
      for (int pass = 0; pass < 4; ++pass) {
        for (auto& n : nodes_) handle_ready(*n, false);
        std::deque<Message> batch;
        batch.swap(net_);
        for (const Message& m : batch) {
          if (NodeState* n = node_of(m.to())) step_into(*n, m, "delivered");
        }
      }
    }
  }

  FuzzedDataProvider& in_;
  raft::Config config_;
  std::unique_ptr<raft::Logger> logger_;
  std::vector<std::unique_ptr<NodeState>> nodes_;
  std::deque<Message> net_;
  int op_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  try {
    Harness h(in);
    h.run();
  } catch (const std::exception& e) {
    finding(std::string("building the cluster threw: ") + e.what());
  }
  return 0;
}
