#include "tests/raft/support/cluster.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "raft/confchange/confchange.h"

namespace raft::testing {
namespace {

std::string describe_entries(const EntryVec& entries) {
  std::string out;
  for (const auto& e : entries) {
    if (!out.empty()) out += ", ";
    out += describe_entry(e);
  }
  return out;
}

ConfState initial_conf_state(const ClusterOptions& o) {
  ConfState cs;
  for (uint64_t v : o.voters) cs.add_voters(v);
  for (uint64_t l : o.learners) cs.add_learners(l);
  return cs;
}

size_t hash_data(const std::string& data) { return std::hash<std::string>{}(data); }

}  // namespace

std::string describe_changes(const ConfChangeV2& cc) {
  std::string out;
  for (const auto& c : cc.changes()) {
    if (!out.empty()) out += ' ';
    switch (c.change_type()) {
      case eraftpb::AddNode: out += 'v'; break;
      case eraftpb::RemoveNode: out += 'r'; break;
      case eraftpb::AddLearnerNode: out += 'l'; break;
      default: out += '?'; break;
    }
    out += std::to_string(c.node_id());
  }
  if (out.empty()) out = "leave-joint";
  if (cc.transition() == eraftpb::Implicit) out += " transition=implicit";
  if (cc.transition() == eraftpb::Explicit) out += " transition=explicit";
  return out;
}

std::string describe_entry(const Entry& e) {
  std::string out = describe(e);
  if (is_conf_change_entry(e)) {
    ConfChangeV2 cc;
    out += decode_conf_change(e, &cc) ? " " + describe_changes(cc) : " (undecodable)";
  }
  return out;
}

// --- CaptureLogger ------------------------------------------------------------------------

void CaptureLogger::log(LogLevel level, uint64_t node_id, uint64_t term, std::string_view message) {
  if (level < min_) return;
  std::string& out = sink_ != nullptr ? *sink_ : buf_;
  out += concat(to_string(level), ' ', node_id, " term=", term, ": ", message, '\n');
}

std::string CaptureLogger::take() {
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

// --- Node state ---------------------------------------------------------------------------

struct Cluster::NodeState {
  // A Ready handed to the disk: written and reported in order (async persistence).
  struct DiskWrite {
    uint64_t number;
    std::optional<Snapshot> snapshot;
    EntryVec entries;
    std::optional<HardState> hard_state;
    std::vector<Message> messages;  // the Ready's persisted_messages
  };
  // Work for the state machine (auto_apply = false): a snapshot to restore, or entries.
  struct ApplyBatch {
    std::optional<Snapshot> snapshot;
    EntryVec entries;
  };

  uint64_t id = 0;
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> node;  // null while crashed
  InvariantChecker checker;
  std::deque<DiskWrite> disk;
  std::deque<ApplyBatch> to_apply;
  // The state machine: what it applied, up to which index, and the configuration as of each
  // applied index where it changed (the entry at 0 is the starting configuration).
  std::vector<AppliedEntry> applied;
  uint64_t applied_index = 0;
  std::map<uint64_t, ConfState> conf_history;
  std::vector<ReadState> read_states;

  ConfState conf_at(uint64_t index) const {
    auto it = conf_history.upper_bound(index);
    return it == conf_history.begin() ? ConfState() : std::prev(it)->second;
  }
};

// --- Construction -------------------------------------------------------------------------

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), logger_(options_.log_level), rng_(options_.seed) {
  if (options_.logs_in_events && options_.record_events) logger_.set_sink(&events_);
  std::set<uint64_t> ids(options_.voters.begin(), options_.voters.end());
  ids.insert(options_.learners.begin(), options_.learners.end());
  const ConfState cs = initial_conf_state(options_);
  for (uint64_t id : ids) {
    auto n = std::make_unique<NodeState>();
    n->id = id;
    n->storage = std::make_unique<MemoryStorage>(cs);
    n->conf_history[0] = cs;
    NodeState& ref = *n;
    nodes_[id] = std::move(n);
    start(ref, 0);
  }
}

Cluster::~Cluster() { logger_.set_sink(nullptr); }

Config Cluster::make_config(uint64_t id) const {
  Config c;
  c.id = id;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.max_inflight_msgs = 256;
  c.seed = options_.seed;
  c.logger = const_cast<CaptureLogger*>(&logger_);
  if (options_.configure) options_.configure(c);
  return c;
}

void Cluster::start(NodeState& n, uint64_t applied) {
  Config c = make_config(n.id);
  c.applied = applied;
  n.node = std::make_unique<RawNode>(c, *n.storage);
  n.checker.reset();
  n.checker.check(n.node->raft());
}

void Cluster::add_node(uint64_t id) {
  if (id == kNone) throw std::invalid_argument("node id 0");
  if (nodes_.contains(id)) throw std::logic_error(concat("node ", id, " already exists"));
  const ConfState cs = initial_conf_state(options_);
  auto n = std::make_unique<NodeState>();
  n->id = id;
  n->storage = std::make_unique<MemoryStorage>(cs);
  n->conf_history[0] = cs;
  NodeState& ref = *n;
  nodes_[id] = std::move(n);
  start(ref, 0);
  event(concat(id, ": added"));
}

// --- Lookup -------------------------------------------------------------------------------

Cluster::NodeState& Cluster::state(uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::logic_error(concat("no node ", id));
  return *it->second;
}

const Cluster::NodeState& Cluster::state(uint64_t id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::logic_error(concat("no node ", id));
  return *it->second;
}

Cluster::NodeState& Cluster::live(uint64_t id) {
  NodeState& n = state(id);
  if (!n.node) throw std::logic_error(concat("node ", id, " is crashed"));
  return n;
}

std::vector<uint64_t> Cluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

bool Cluster::alive(uint64_t id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second->node != nullptr;
}

RawNode& Cluster::node(uint64_t id) { return *live(id).node; }

const RawNode& Cluster::node(uint64_t id) const {
  const NodeState& n = state(id);
  if (!n.node) throw std::logic_error(concat("node ", id, " is crashed"));
  return *n.node;
}

MemoryStorage& Cluster::storage(uint64_t id) { return *state(id).storage; }

ConfState Cluster::conf_state(uint64_t id) const {
  const NodeState& n = state(id);
  return n.conf_at(n.applied_index);
}

size_t Cluster::pending_writes(uint64_t id) const { return state(id).disk.size(); }
size_t Cluster::pending_applies(uint64_t id) const { return state(id).to_apply.size(); }
uint64_t Cluster::applied_index(uint64_t id) const { return state(id).applied_index; }

void Cluster::event(const std::string& line) {
  if (!recording()) return;
  events_ += line;
  events_ += '\n';
}

std::string Cluster::take_events() {
  std::string out = std::move(events_);
  events_.clear();
  return out;
}

// --- Inputs -------------------------------------------------------------------------------

void Cluster::tick(uint64_t id) {
  live(id).node->tick();
  after_step(id);
}

void Cluster::tick_all(int n) {
  for (int i = 0; i < n; ++i) {
    for (const auto& [id, st] : nodes_) {
      if (st->node) tick(id);
    }
    stabilize();
  }
}

template <typename F>
auto Cluster::on_node(uint64_t id, F&& f) {
  RawNode& node = *live(id).node;
  if constexpr (std::is_void_v<decltype(f(node))>) {
    f(node);
    after_step(id);
  } else {
    auto result = f(node);
    after_step(id);
    return result;
  }
}

std::error_code Cluster::campaign(uint64_t id) {
  return on_node(id, [](RawNode& n) { return n.campaign(); });
}

std::error_code Cluster::propose(uint64_t id, std::string data) {
  return on_node(id, [&](RawNode& n) { return n.propose(std::move(data)); });
}

std::error_code Cluster::propose_conf_change(uint64_t id, const ConfChangeV2& cc) {
  return on_node(id, [&](RawNode& n) { return n.propose_conf_change(cc); });
}

std::error_code Cluster::propose_conf_change(uint64_t id, const ConfChange& cc) {
  return on_node(id, [&](RawNode& n) { return n.propose_conf_change(cc); });
}

std::error_code Cluster::read_index(uint64_t id, std::string ctx) {
  return on_node(id, [&](RawNode& n) { return n.read_index(std::move(ctx)); });
}

std::error_code Cluster::transfer_leader(uint64_t id, uint64_t transferee) {
  return on_node(id, [&](RawNode& n) { return n.transfer_leader(transferee); });
}

std::error_code Cluster::step(uint64_t id, const Message& m) {
  return on_node(id, [&](RawNode& n) { return n.step(m); });
}

std::error_code Cluster::request_snapshot(uint64_t id) {
  return on_node(id, [](RawNode& n) { return n.request_snapshot(); });
}

void Cluster::report_unreachable(uint64_t id, uint64_t peer) {
  on_node(id, [&](RawNode& n) { n.report_unreachable(peer); });
}

void Cluster::report_snapshot(uint64_t id, uint64_t peer, bool success) {
  on_node(id, [&](RawNode& n) { n.report_snapshot(peer, success); });
}

std::error_code Cluster::compact(uint64_t id, uint64_t index) {
  NodeState& n = state(id);
  if (index == 0) index = n.applied_index;
  // A state machine can only snapshot what it has applied.
  if (index > n.applied_index) return Error::kUnavailable;
  const ConfState cs = n.conf_at(index);
  auto snap = n.storage->create_snapshot(index, &cs, concat("snapshot@", index));
  if (!snap) return snap.error();
  // create_snapshot made cs the stored ConfState; the state machine's is the latest applied.
  n.storage->set_conf_state(n.conf_at(n.applied_index));
  if (auto ec = n.storage->compact(index)) return ec;
  event(concat(id, ": compacted to ", index, "/", snap->metadata().term()));
  return {};
}

// --- Ready handling -----------------------------------------------------------------------

void Cluster::record_appended(NodeState& n, const EntryVec& entries) {
  const RaftLog& log = n.node->raft().log();
  for (const auto& e : entries) {
    const uint64_t prev_term = log.zero_term_on_err_compacted(e.index() - 1);
    const LogEntryId id{prev_term, e.entry_type(), hash_data(e.data()), n.id};
    auto [it, inserted] = appended_.emplace(std::pair{e.index(), e.term()}, id);
    if (inserted) continue;
    const LogEntryId& seen = it->second;
    if (seen.prev_term != id.prev_term || seen.type != id.type || seen.data_hash != id.data_hash) {
      violation(n.id, n.node->raft().term(),
                concat("Log Matching: node ", n.id, " appended ", describe_entry(e),
                    " after term ", prev_term, ", but node ", seen.node,
                    " holds a different entry ", e.term(), "/", e.index(), " after term ",
                    seen.prev_term));
    }
  }
}

bool Cluster::handle_ready(uint64_t id) {
  NodeState& n = state(id);
  if (!n.node || !n.node->has_ready()) return false;
  RawNode& rn = *n.node;
  Ready rd = rn.ready();
  record_appended(n, rd.entries);

  if (recording()) {
    if (rd.soft_state) {
      std::string line = concat(id, ": became ", to_string(rd.soft_state->role), " term=",
                             rn.raft().term());
      if (rd.soft_state->role == StateRole::kFollower && rd.soft_state->leader_id != kNone) {
        line += concat(" leader=", rd.soft_state->leader_id);
      }
      event(line);
    }
    std::string header = concat(id, ": Ready #", rd.number);
    if (rd.hard_state) header += " HardState " + describe(*rd.hard_state);
    event(header);
    if (rd.snapshot) {
      event(concat("  snapshot: ", rd.snapshot->metadata().index(), "/",
                rd.snapshot->metadata().term(), " ",
                describe(rd.snapshot->metadata().conf_state())));
    }
    if (!rd.entries.empty()) event("  entries: " + describe_entries(rd.entries));
    if (!rd.committed_entries.empty()) {
      event("  committed: " + describe_entries(rd.committed_entries));
    }
    for (const auto& rs : rd.read_states) {
      event(concat("  read state: index=", rs.index, " ctx=", rs.request_ctx));
    }
  }

  // 1. Messages that need nothing durable leave at once.
  for (const auto& m : rd.messages) send(id, m, "send");

  // 2. The writes.
  if (options_.sync_persistence) {
    if (rd.snapshot) {
      if (auto ec = n.storage->apply_snapshot(*rd.snapshot)) {
        throw std::logic_error(concat("node ", id, ": storing snapshot: ", ec.message()));
      }
    }
    if (auto ec = n.storage->append(rd.entries)) {
      throw std::logic_error(concat("node ", id, ": storing entries: ", ec.message()));
    }
    if (rd.hard_state) n.storage->set_hard_state(*rd.hard_state);
    for (const auto& m : rd.persisted_messages) send(id, m, "send after write");
    rn.advance_append(rd);
    if (rd.snapshot) {
      if (options_.auto_apply) {
        apply_snapshot(n, *rd.snapshot);
      } else {
        n.to_apply.push_back({rd.snapshot, {}});
      }
    }
  } else {
    rn.advance_append_async(rd);
    if (recording()) {
      for (const auto& m : rd.persisted_messages) event("  held until persisted: " + describe(m));
    }
    n.disk.push_back({rd.number, std::move(rd.snapshot), std::move(rd.entries),
                      std::move(rd.hard_state), std::move(rd.persisted_messages)});
  }

  // 3. The state machine.
  if (!rd.committed_entries.empty()) {
    if (options_.auto_apply) {
      apply_committed(n, rd.committed_entries);
    } else {
      n.to_apply.push_back({std::nullopt, std::move(rd.committed_entries)});
    }
  }
  for (auto& rs : rd.read_states) n.read_states.push_back(std::move(rs));
  after_step(id);
  return true;
}

bool Cluster::persist_one(uint64_t id) {
  NodeState& n = state(id);
  if (!n.node || n.disk.empty()) return false;
  NodeState::DiskWrite w = std::move(n.disk.front());
  n.disk.pop_front();
  if (w.snapshot) {
    if (auto ec = n.storage->apply_snapshot(*w.snapshot)) {
      throw std::logic_error(concat("node ", id, ": storing snapshot: ", ec.message()));
    }
  }
  if (auto ec = n.storage->append(w.entries)) {
    throw std::logic_error(concat("node ", id, ": storing entries: ", ec.message()));
  }
  if (w.hard_state) n.storage->set_hard_state(*w.hard_state);
  n.node->on_persist_ready(w.number);
  // A Ready with nothing to write still goes through the disk, to keep the order; it is only
  // worth a line if it held messages back.
  if (w.snapshot || !w.entries.empty() || w.hard_state || !w.messages.empty()) {
    event(concat(id, ": persisted Ready #", w.number));
  }
  for (const auto& m : w.messages) send(id, m, "send");
  // The state machine restores a snapshot once it is durable.
  if (w.snapshot) {
    if (options_.auto_apply) {
      apply_snapshot(n, *w.snapshot);
    } else {
      n.to_apply.push_back({std::move(w.snapshot), {}});
    }
  }
  after_step(id);
  return true;
}

void Cluster::persist_all(uint64_t id) {
  while (persist_one(id)) {
  }
}

bool Cluster::apply_one(uint64_t id) {
  NodeState& n = state(id);
  if (!n.node || n.to_apply.empty()) return false;
  NodeState::ApplyBatch b = std::move(n.to_apply.front());
  n.to_apply.pop_front();
  if (b.snapshot) {
    event(concat(id, ": applying snapshot ", b.snapshot->metadata().index(), "/",
              b.snapshot->metadata().term()));
    apply_snapshot(n, *b.snapshot);
  } else {
    if (recording()) event(concat(id, ": applying ", describe_entries(b.entries)));
    apply_committed(n, b.entries);
  }
  after_step(id);
  return true;
}

void Cluster::apply_snapshot(NodeState& n, const Snapshot& snap) {
  const uint64_t index = snap.metadata().index();
  const uint64_t term = snap.metadata().term();
  if (index <= n.applied_index) {
    violation(n.id, n.node->raft().term(),
              concat("node ", n.id, " restores snapshot ", index, "/", term,
                  " at or below its applied index ", n.applied_index));
  }
  auto it = committed_.find(index);
  if (it != committed_.end() && it->second.entry.term != term) {
    violation(n.id, n.node->raft().term(),
              concat("State Machine Safety: node ", n.id, " restores snapshot ", index, "/", term,
                  " but node ", it->second.node, " applied term ", it->second.entry.term,
                  " at that index"));
  }
  AppliedEntry marker;
  marker.index = index;
  marker.term = term;
  marker.data = snap.data();
  marker.snapshot = true;
  n.applied.push_back(std::move(marker));
  n.applied_index = index;
  n.conf_history[index] = snap.metadata().conf_state();
  n.node->advance_apply_to(index);
}

void Cluster::apply_committed(NodeState& n, const EntryVec& entries) {
  const uint64_t max_term = max_live_term();
  for (const auto& e : entries) {
    record_applied(n, e, max_term);
    if (is_conf_change_entry(e)) {
      ConfChangeV2 cc;
      if (!decode_conf_change(e, &cc)) {
        throw std::logic_error(concat("node ", n.id, ": undecodable conf change ", describe(e)));
      }
      const ConfState cs = n.node->apply_conf_change(cc);
      n.storage->set_conf_state(cs);
      n.conf_history[e.index()] = cs;
      event(concat("  applied conf change ", describe_changes(cc), ": ", describe(cs)));
    }
  }
  if (!entries.empty()) n.node->advance_apply_to(entries.back().index());
}

void Cluster::record_applied(NodeState& n, const Entry& e, uint64_t max_term) {
  const uint64_t term = n.node->raft().term();
  if (e.index() != n.applied_index + 1) {
    violation(n.id, term,
              concat("node ", n.id, " applies ", describe_entry(e), " after index ", n.applied_index));
  }
  n.applied_index = e.index();
  auto [it, inserted] = committed_.emplace(
      e.index(), CommittedEntry{{e.index(), e.term(), e.entry_type(), e.data(), false},
                                max_term, n.id});
  if (!inserted) {
    const AppliedEntry& first = it->second.entry;
    if (first.term != e.term() || first.type != e.entry_type() || first.data != e.data()) {
      violation(n.id, term,
                concat("State Machine Safety: node ", n.id, " applied ", describe_entry(e),
                    " but node ", it->second.node, " applied term ", first.term, " data \"",
                    first.data, "\" at that index"));
    }
  }
  // The state machine's record: entries that do something (not a leader's empty entry).
  if (is_conf_change_entry(e) || !e.data().empty()) {
    n.applied.push_back({e.index(), e.term(), e.entry_type(), e.data(), false});
  }
}

// --- Network ------------------------------------------------------------------------------

void Cluster::send(uint64_t sender, const Message& m, std::string_view label) {
  auto it = nodes_.find(m.to());
  const bool down = it != nodes_.end() && it->second->node == nullptr;
  if (recording()) {
    event(concat("  ", label, ": ", describe(m), down ? " [dropped: receiver down]" : ""));
  }
  if (down) {
    drop_message(m, nullptr);
    return;
  }
  in_flight_.push_back(m);
  senders_.push_back(sender);
}

std::vector<std::pair<Message, uint64_t>> Cluster::take_in_flight(
    const std::function<bool(const Message&, uint64_t)>& pick, size_t max) {
  std::vector<std::pair<Message, uint64_t>> taken;
  std::deque<Message> kept;
  std::deque<uint64_t> kept_senders;
  for (size_t i = 0; i < in_flight_.size(); ++i) {
    if (taken.size() < max && pick(in_flight_[i], senders_[i])) {
      taken.emplace_back(std::move(in_flight_[i]), senders_[i]);
    } else {
      kept.push_back(std::move(in_flight_[i]));
      kept_senders.push_back(senders_[i]);
    }
  }
  in_flight_ = std::move(kept);
  senders_ = std::move(kept_senders);
  return taken;
}

bool Cluster::dropped(const Message& m, uint64_t sender) {
  if (!alive(m.to()) || !alive(sender)) return true;
  if (!drop_types_.empty() && !drop_types_.contains(m.msg_type())) return false;
  auto it = drop_rules_.find({sender, m.to()});
  if (it == drop_rules_.end() || it->second <= 0) return false;
  if (it->second >= 1) return true;
  // 53 random bits as a double in [0, 1): the same on every platform, unlike the
  // distributions of <random>.
  const double r = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return r < it->second;
}

void Cluster::drop_message(const Message& m, const char* why) {
  if (why != nullptr && recording()) event(concat("dropped (", why, "): ", describe(m)));
  // A transport learns that a snapshot did not arrive and tells the sender.
  if (m.msg_type() == eraftpb::MsgSnapshot && alive(m.from())) {
    event(concat(m.from(), ": snapshot to ", m.to(), " failed"));
    report_snapshot(m.from(), m.to(), false);
  }
}

void Cluster::deliver_message(const Message& m, uint64_t sender, bool explicit_call) {
  if (dropped(m, sender)) {
    const char* why = !nodes_.contains(m.to())         ? "no such node"
                      : !alive(m.to()) || !alive(sender) ? "down"
                                                         : "network";
    drop_message(m, why);
    return;
  }
  if (explicit_call && recording()) event("deliver: " + describe(m));
  auto ec = nodes_.at(m.to())->node->step(m);
  if (ec && recording()) event(concat(m.to(), ": error stepping ", describe(m), ": ", ec.message()));
  after_step(m.to());
}

size_t Cluster::deliver(uint64_t to, size_t max) {
  auto picked = take_in_flight([&](const Message& m, uint64_t) { return m.to() == to; }, max);
  for (const auto& [m, sender] : picked) deliver_message(m, sender, true);
  return picked.size();
}

void Cluster::deliver_at(size_t i) {
  if (i >= in_flight_.size()) throw std::out_of_range("no in-flight message at that position");
  Message m = std::move(in_flight_[i]);
  const uint64_t sender = senders_[i];
  in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
  senders_.erase(senders_.begin() + static_cast<std::ptrdiff_t>(i));
  deliver_message(m, sender, true);
}

size_t Cluster::drop_in_flight(uint64_t to, std::optional<MessageType> type) {
  auto picked = take_in_flight([&](const Message& m, uint64_t) {
    return m.to() == to && (!type || m.msg_type() == *type);
  });
  for (const auto& [m, sender] : picked) drop_message(m, "by test");
  return picked.size();
}

int Cluster::stabilize(int max_rounds) { return stabilize_impl(nullptr, max_rounds); }

int Cluster::stabilize_only(const std::set<uint64_t>& ids, int max_rounds) {
  return stabilize_impl(&ids, max_rounds);
}

int Cluster::stabilize_impl(const std::set<uint64_t>* only, int max_rounds) {
  for (int round = 1; round <= max_rounds; ++round) {
    bool moved = false;
    for (const auto& [id, n] : nodes_) {
      if (!n->node || (only != nullptr && !only->contains(id))) continue;
      while (handle_ready(id)) moved = true;
      if (!options_.sync_persistence) {
        while (persist_one(id)) moved = true;
      }
    }
    if (reorder_) {
      // Fisher-Yates with the cluster's generator: the same seed, the same order everywhere.
      for (size_t i = in_flight_.size(); i > 1; --i) {
        const size_t j = rng_() % i;
        std::swap(in_flight_[i - 1], in_flight_[j]);
        std::swap(senders_[i - 1], senders_[j]);
      }
    }
    auto batch = take_in_flight(
        [&](const Message& m, uint64_t) { return only == nullptr || only->contains(m.to()); });
    for (const auto& [m, sender] : batch) deliver_message(m, sender, false);
    if (!moved && batch.empty()) return round;
  }
  throw std::runtime_error(concat("cluster did not stabilize within ", max_rounds, " rounds"));
}

// --- Faults -------------------------------------------------------------------------------

void Cluster::drop(uint64_t from, uint64_t to, double p) { drop_rules_[{from, to}] = p; }

void Cluster::cut(uint64_t a, uint64_t b) {
  drop(a, b, 1.0);
  drop(b, a, 1.0);
}

void Cluster::isolate(uint64_t id) {
  for (const auto& [other, n] : nodes_) {
    if (other != id) cut(id, other);
  }
}

void Cluster::partition(const std::vector<std::set<uint64_t>>& groups) {
  auto group_of = [&](uint64_t id) -> int {
    for (size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].contains(id)) return static_cast<int>(g);
    }
    return -1;
  };
  for (const auto& [a, na] : nodes_) {
    for (const auto& [b, nb] : nodes_) {
      if (a >= b) continue;
      const int ga = group_of(a);
      // A node in no group is alone.
      if (ga == -1 || ga != group_of(b)) cut(a, b);
    }
  }
}

void Cluster::heal() { drop_rules_.clear(); }

void Cluster::crash(uint64_t id) {
  NodeState& n = live(id);
  n.node.reset();
  // A node sends nothing before its term and vote are durable, so whatever it did in a term
  // it never persisted existed only in its memory: leading that term (a lone voter elects
  // itself without asking anyone) and the entries it appended in it. Forget them, so that the
  // restarted node may lead that term again, with other entries, without this counting
  // against Election Safety or Log Matching.
  const uint64_t durable_term = n.storage->hard_state().term();
  std::erase_if(leader_of_term_, [&](const auto& kv) {
    return kv.second == id && kv.first > durable_term;
  });
  std::erase_if(appended_, [&](const auto& kv) {
    return kv.second.node == id && kv.first.second > durable_term;
  });
  const size_t lost_writes = n.disk.size();
  n.disk.clear();
  n.to_apply.clear();
  n.read_states.clear();
  auto purged =
      take_in_flight([&](const Message& m, uint64_t sender) { return m.to() == id || sender == id; });
  event(concat(id, ": crashed (", lost_writes, " unpersisted Readies lost, ", purged.size(),
            " messages in flight dropped)"));
  for (const auto& [m, sender] : purged) {
    if (m.msg_type() == eraftpb::MsgSnapshot && alive(m.from())) {
      event(concat(m.from(), ": snapshot to ", m.to(), " failed"));
      report_snapshot(m.from(), m.to(), false);
    }
  }
}

void Cluster::restart(uint64_t id) {
  NodeState& n = state(id);
  if (n.node) throw std::logic_error(concat("node ", id, " is not crashed"));
  // An in-memory state machine restarts from the latest snapshot and replays the log.
  const uint64_t point = n.storage->first_index() - 1;
  if (n.applied_index < point) {
    // The snapshot reached the disk but not the state machine before the crash.
    auto snap = n.storage->snapshot(0);
    if (!snap || snap->metadata().index() != point) {
      throw std::logic_error(concat("node ", id, ": log compacted past what was applied"));
    }
    n.applied.push_back({point, snap->metadata().term(), eraftpb::EntryNormal, snap->data(), true});
    n.conf_history[point] = snap->metadata().conf_state();
  }
  while (!n.applied.empty() && n.applied.back().index > point) n.applied.pop_back();
  n.applied_index = point;
  n.conf_history.erase(n.conf_history.upper_bound(point), n.conf_history.end());
  n.storage->set_conf_state(n.conf_at(point));
  start(n, point);
  const Raft& r = n.node->raft();
  event(concat(id, ": restarted ", describe(r.hard_state()), " applied=", r.log().applied(),
            " last=", r.log().last_term(), "/", r.log().last_index(), " ",
            r.tracker().config.describe()));
  after_step(id);
}

// --- Observation and safety ---------------------------------------------------------------

uint64_t Cluster::leader() const {
  uint64_t best = kNone;
  uint64_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (!n->node) continue;
    const Raft& r = n->node->raft();
    if (r.state() == StateRole::kLeader && (best == kNone || r.term() > best_term)) {
      best = id;
      best_term = r.term();
    }
  }
  return best;
}

const std::vector<AppliedEntry>& Cluster::applied(uint64_t id) const { return state(id).applied; }

std::vector<std::string> Cluster::applied_data(uint64_t id) const {
  std::vector<std::string> out;
  for (const auto& e : state(id).applied) {
    if (!e.snapshot && e.type == eraftpb::EntryNormal && !e.data.empty()) out.push_back(e.data);
  }
  return out;
}

const std::vector<ReadState>& Cluster::read_states(uint64_t id) const {
  return state(id).read_states;
}

void Cluster::clear_read_states(uint64_t id) { state(id).read_states.clear(); }

uint64_t Cluster::max_live_term() const {
  uint64_t t = 0;
  for (const auto& [id, n] : nodes_) {
    if (n->node) t = std::max(t, n->node->raft().term());
  }
  return t;
}

void Cluster::violation(uint64_t id, uint64_t term, const std::string& what) {
  logger_.log(LogLevel::kFatal, id, term, what);
  throw InvariantViolation(concat("node ", id, " term ", term, ": ", what));
}

void Cluster::after_step(uint64_t id) {
  NodeState& n = state(id);
  if (n.node) n.checker.check(n.node->raft());
  check_safety();
}

void Cluster::check_safety() {
  for (const auto& [id, n] : nodes_) {
    if (!n->node) continue;
    const Raft& r = n->node->raft();
    if (r.state() != StateRole::kLeader) continue;
    auto [it, inserted] = leader_of_term_.emplace(r.term(), id);
    if (!inserted) {
      if (it->second != id) {
        violation(id, r.term(),
                  concat("Election Safety: nodes ", it->second, " and ", id, " both lead term ",
                      r.term()));
      }
      continue;
    }
    // A leader's log never loses entries while it leads, so checking it once, when it is
    // first seen, is enough.
    check_leader_completeness(id, r);
  }
}

void Cluster::check_leader_completeness(uint64_t id, const Raft& r) {
  // Entries applied while a live node was already at term >= T may have been committed in
  // term T by someone else's count; only those committed before term T existed must be here.
  // The highest such entry is enough: Log Matching (checked on every append) extends a match
  // there to everything before it.
  for (auto it = committed_.rbegin(); it != committed_.rend(); ++it) {
    const CommittedEntry& c = it->second;
    if (c.max_live_term >= r.term()) continue;
    auto term = r.log().term(it->first);
    if (!term && term.error() == Error::kCompacted) return;
    if (!term || *term != c.entry.term) {
      violation(id, r.term(),
                concat("Leader Completeness: leader ", id, " of term ", r.term(),
                    " lacks entry ", c.entry.term, "/", it->first, " applied by node ", c.node,
                    " (its log has ", term ? concat("term ", *term) : std::string("nothing"),
                    " there)"));
    }
    return;
  }
}

}  // namespace raft::testing
