// Throughput of the consensus core alone: no disk, no network, no threads. Each benchmark drives
// RawNode the way the framework's ready loop does, with MemoryStorage as the "disk" and peers
// faked by crafting the messages they would send, so what is timed is the core plus the copies
// into MemoryStorage that any driver makes.
//
//   BM_Leader      a leader of three voters: `batch` proposals of `payload` bytes, then Ready /
//                  persist / advance and acknowledgements from both followers, until quiet.
//                  items = entries committed (and handed out for applying); appends_per_entry =
//                  MsgAppends sent to the two followers per committed entry.
//   BM_Follower    a follower: one MsgAppend of `batch` entries of `payload` bytes, then Ready /
//                  persist / advance. items = entries appended; bytes = their payload.
//   BM_BaselineProto   protobuf serialize + parse of a MsgAppend with the same entries: the cost
//                      of encoding the batch once for the wire, the yardstick the core is compared
//                      against on a noisy machine.
//   BM_BaselineMemcpy  a memcpy of the same payload bytes.
//
// Every benchmark reports peak_rss_MiB (getrusage ru_maxrss of the process so far); main() prints
// the final peak after the run.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_messages.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace {

using raft::ConfState;
using raft::Entry;
using raft::MemoryStorage;
using raft::Message;
using raft::RawNode;
using raft::Ready;

// Applied entries are compacted away from MemoryStorage once this many pile up, so a long run
// measures the steady state instead of a growing vector.
constexpr uint64_t kCompactEvery = 8192;

using bench::peak_rss_mib;

void fail(const std::string& what) { throw std::runtime_error("raft_core_bench: " + what); }

ConfState three_voters() {
  ConfState cs;
  for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
  return cs;
}

raft::Config node_config(uint64_t id) {
  raft::Config cfg;
  cfg.id = id;
  cfg.election_tick = 10;
  cfg.heartbeat_tick = 1;
  cfg.max_inflight_msgs = 256;
  return cfg;
}

// Writes what a Ready asks to persist, as a synchronous driver would.
void persist(MemoryStorage& storage, const Ready& rd) {
  if (rd.snapshot) fail("unexpected snapshot");
  if (auto ec = storage.append(rd.entries)) fail("append: " + ec.message());
  if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
}

void compact_applied(MemoryStorage& storage, const RawNode& node) {
  const uint64_t applied = node.raft().log().applied();
  if (applied >= storage.first_index() + kCompactEvery) {
    if (auto ec = storage.compact(applied)) fail("compact: " + ec.message());
  }
}

// A leader of {1, 2, 3} whose followers acknowledge every append at once.
class FakeClusterLeader {
 public:
  FakeClusterLeader() : storage_(three_voters()), node_(node_config(1), storage_) {
    if (node_.campaign()) fail("campaign refused");
    pump();
    Message vote;
    vote.set_msg_type(eraftpb::MsgRequestVoteResponse);
    vote.set_from(2);
    vote.set_to(1);
    vote.set_term(node_.raft().term());
    if (node_.step(vote)) fail("vote response refused");
    pump();
    if (node_.raft().state() != raft::StateRole::kLeader) fail("node 1 did not become leader");
    committed_ = 0;
    appends_sent_ = 0;
  }

  RawNode& node() { return node_; }
  uint64_t committed() const { return committed_; }
  uint64_t appends_sent() const { return appends_sent_; }

  // Runs Ready / persist / advance and the followers' acknowledgements until nothing is left.
  void pump() {
    while (node_.has_ready()) {
      Ready rd = node_.ready();
      persist(storage_, rd);
      acks_.clear();
      collect_acks(rd.messages);
      collect_acks(rd.persisted_messages);
      committed_ += rd.committed_entries.size();
      node_.advance(rd);
      for (const Message& ack : acks_) {
        if (node_.step(ack)) fail("append response refused");
      }
      compact_applied(storage_, node_);
    }
  }

 private:
  // Each follower acknowledges an append as if it had written it.
  void collect_acks(const std::vector<Message>& msgs) {
    for (const Message& m : msgs) {
      if (m.msg_type() != eraftpb::MsgAppend) continue;
      ++appends_sent_;
      Message ack;
      ack.set_msg_type(eraftpb::MsgAppendResponse);
      ack.set_from(m.to());
      ack.set_to(m.from());
      ack.set_term(m.term());
      ack.set_index(m.entries().empty() ? m.index() : m.entries().rbegin()->index());
      acks_.push_back(std::move(ack));
    }
  }

  MemoryStorage storage_;
  RawNode node_;
  std::vector<Message> acks_;
  uint64_t committed_ = 0;
  uint64_t appends_sent_ = 0;
};

void BM_Leader(benchmark::State& state) {
  const size_t payload_size = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const std::string payload(payload_size, 'x');
  FakeClusterLeader leader;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      if (leader.node().propose(payload)) fail("proposal dropped");
    }
    leader.pump();
  }
  const auto committed = static_cast<int64_t>(leader.committed());
  state.SetItemsProcessed(committed);
  state.SetBytesProcessed(committed * static_cast<int64_t>(payload_size));
  // MsgAppends the leader sent (to both followers, including commit-only ones) per entry.
  state.counters["appends_per_entry"] =
      static_cast<double>(leader.appends_sent()) / static_cast<double>(committed);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// A follower of leader 1 at term 1, fed MsgAppends that continue its log.
void BM_Follower(benchmark::State& state) {
  const size_t payload_size = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  MemoryStorage storage(three_voters());
  RawNode node(node_config(2), storage);

  // A heartbeat of term 1 makes node 2 a follower of node 1.
  Message hb;
  hb.set_msg_type(eraftpb::MsgHeartbeat);
  hb.set_from(1);
  hb.set_to(2);
  hb.set_term(1);
  if (node.step(hb)) fail("heartbeat refused");
  {
    Ready rd = node.ready();
    persist(storage, rd);
    node.advance(rd);
  }

  // One message, reused: each iteration only renumbers it to continue the log, as the leader's
  // next append would.
  Message app;
  app.set_msg_type(eraftpb::MsgAppend);
  app.set_from(1);
  app.set_to(2);
  app.set_term(1);
  for (int i = 0; i < batch; ++i) {
    Entry* e = app.add_entries();
    e->set_term(1);
    e->set_data(std::string(payload_size, 'x'));
  }

  uint64_t last = node.raft().log().last_index();
  uint64_t appended = 0;
  uint64_t applied = 0;
  for (auto _ : state) {
    app.set_index(last);
    app.set_log_term(last == 0 ? 0 : 1);
    app.set_commit(last + static_cast<uint64_t>(batch));
    for (int i = 0; i < batch; ++i) app.mutable_entries(i)->set_index(last + 1 + i);
    if (node.step(app)) fail("append refused");
    Ready rd = node.ready();
    persist(storage, rd);
    appended += rd.entries.size();
    applied += rd.committed_entries.size();
    node.advance(rd);
    compact_applied(storage, node);
    last += static_cast<uint64_t>(batch);
  }
  if (node.raft().log().last_index() != last) fail("follower log did not grow as fed");
  state.SetItemsProcessed(static_cast<int64_t>(appended));
  state.SetBytesProcessed(static_cast<int64_t>(appended * payload_size));
  state.counters["applied"] = static_cast<double>(applied);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// The same entries as a MsgAppend, encoded and decoded once.
void BM_BaselineProto(benchmark::State& state) {
  const size_t payload_size = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const Message app = bench::make_msg_append(1, 1001, batch, payload_size);
  std::string wire;
  Message decoded;
  for (auto _ : state) {
    app.SerializeToString(&wire);
    if (!decoded.ParseFromString(wire)) fail("parse failed");
    benchmark::DoNotOptimize(decoded.entries_size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * payload_size));
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// The payload bytes of the batch, copied once.
void BM_BaselineMemcpy(benchmark::State& state) {
  const size_t payload_size = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const size_t total = payload_size * static_cast<size_t>(batch);
  std::vector<char> src(total, 'x');
  std::vector<char> dst(total);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), total);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void grid(benchmark::internal::Benchmark* b) {
  b->ArgNames({"payload", "batch"});
  for (int64_t payload : {128, 1024}) {
    for (int64_t batch : {1, 16, 256}) b->Args({payload, batch});
  }
}

BENCHMARK(BM_Leader)->Apply(grid);
BENCHMARK(BM_Follower)->Apply(grid);
BENCHMARK(BM_BaselineProto)->Apply(grid);
BENCHMARK(BM_BaselineMemcpy)->Apply(grid);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // stderr, so that --benchmark_format=json on stdout stays valid JSON.
  std::fprintf(stderr, "peak RSS: %.1f MiB\n", peak_rss_mib());
  return 0;
}
