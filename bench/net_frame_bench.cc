// Cost of the network frame format (net/frame.h) against protobuf alone. No sockets: what is
// timed is turning a raft message into bytes for the wire and back.
//
//   BM_FrameEncodeDecode   append_message_frame of a MsgAppend carrying `entries` entries of 256 B
//                          into a reused buffer, then FrameDecoder::feed + next() into a reused
//                          Message: one write and one read of a connection.
//   BM_FrameCoalesced      the same for up to 64 such messages (1 MiB at most) coalesced into one
//                          write and fed to the decoder in one piece, as the per-peer writer
//                          sends them; the decoder's fast path (each body parsed where it lies).
//   BM_ProtoBaseline       SerializeToString + ParseFromString of the same message: the least any
//                          protobuf wire format can cost. The framing's overhead is the ratio.
//
// items = messages, bytes = frame bytes (the encoded message for the baseline). At the end the
// ratio of each frame benchmark's time per message to the baseline's is printed on stderr
// (console output only; with --benchmark_format=json stdout stays valid JSON).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_messages.h"
#include "net/frame.h"

namespace {

using raft::Entry;
using raft::Message;

constexpr size_t kPayload = 256;
constexpr int kMaxCoalesced = 64;
constexpr size_t kMaxCoalescedBytes = 1u << 20;

void fail(const std::string& what) { throw std::runtime_error("net_frame_bench: " + what); }

Message msg_append(int entries) { return bench::make_msg_append(7, 100001, entries, kPayload); }

// A decoder past its hello, ready for message frames.
void greet(net::FrameDecoder& decoder) {
  std::string hello;
  append_hello_frame(hello, net::Hello{});
  decoder.feed(hello);
  net::Hello h;
  Message m;
  if (decoder.next(&h, &m) != net::FrameDecoder::Status::kHello) fail("hello refused");
}

void BM_FrameEncodeDecode(benchmark::State& state) {
  const Message app = msg_append(static_cast<int>(state.range(0)));
  net::FrameDecoder decoder;
  greet(decoder);
  std::string wire;
  net::Hello hello;
  Message decoded;
  for (auto _ : state) {
    wire.clear();
    net::append_message_frame(wire, app);
    decoder.feed(wire);
    if (decoder.next(&hello, &decoded) != net::FrameDecoder::Status::kMessage) {
      fail("decode: " + decoder.error().message());
    }
    benchmark::DoNotOptimize(decoded.entries_size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}

void BM_FrameCoalesced(benchmark::State& state) {
  const Message app = msg_append(static_cast<int>(state.range(0)));
  const int coalesced = static_cast<int>(std::clamp<size_t>(
      kMaxCoalescedBytes / (net::kFrameHeaderSize + app.ByteSizeLong()), 1, kMaxCoalesced));
  net::FrameDecoder decoder;
  greet(decoder);
  std::string wire;
  net::Hello hello;
  Message decoded;
  for (auto _ : state) {
    wire.clear();
    for (int i = 0; i < coalesced; ++i) net::append_message_frame(wire, app);
    decoder.feed(wire);
    for (int i = 0; i < coalesced; ++i) {
      if (decoder.next(&hello, &decoded) != net::FrameDecoder::Status::kMessage) {
        fail("decode: " + decoder.error().message());
      }
      benchmark::DoNotOptimize(decoded.entries_size());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * coalesced);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.counters["per_write"] = coalesced;
}

void BM_ProtoBaseline(benchmark::State& state) {
  const Message app = msg_append(static_cast<int>(state.range(0)));
  std::string wire;
  Message decoded;
  for (auto _ : state) {
    app.SerializeToString(&wire);
    if (!decoded.ParseFromString(wire)) fail("parse failed");
    benchmark::DoNotOptimize(decoded.entries_size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}

BENCHMARK(BM_FrameEncodeDecode)->ArgName("entries")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_FrameCoalesced)->ArgName("entries")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_ProtoBaseline)->ArgName("entries")->Arg(1)->Arg(16)->Arg(256);

// The console reporter, also keeping messages/s of every run so main() can print the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      // With repetitions the median is used; with --benchmark_report_aggregates_only it is the
      // only figure reported.
      if (run.run_type == Run::RT_Iteration) {
        rates_[run.run_name.str()].push_back(it->second.value);
      } else if (run.aggregate_name == "median") {
        medians_[run.run_name.str()] = it->second.value;
      }
    }
  }

  // "BM_FrameEncodeDecode/entries:16  1.23x the time per message of BM_ProtoBaseline/entries:16"
  void print_ratios() const {
    std::map<std::string, double> rate = medians_;
    for (const auto& [name, rates] : rates_) rate.emplace(name, median(rates));
    for (const auto& [name, messages_per_s] : rate) {
      if (name.rfind("BM_Proto", 0) == 0 || name.find('/') == std::string::npos) continue;
      const std::string args = name.substr(name.find('/'));
      const auto base = rate.find("BM_ProtoBaseline" + args);
      if (base == rate.end()) continue;
      std::fprintf(stderr, "%-32s %.2fx the time per message of BM_ProtoBaseline%s\n", name.c_str(),
                   base->second / messages_per_s, args.c_str());
    }
  }

 private:
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  std::map<std::string, std::vector<double>> rates_;
  std::map<std::string, double> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  bool console = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--benchmark_format=", 19) == 0 &&
        std::strcmp(argv[i] + 19, "console") != 0) {
      console = false;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!console) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    RatioReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                                 : benchmark::ConsoleReporter::OO_None);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.print_ratios();
  }
  benchmark::Shutdown();
  return 0;
}
