#include "options.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <vector>
#include <string_view>
#include <type_traits>
#include <utility>

namespace raftkv {
namespace {

constexpr uint64_t kDefaultClusterId = 1;
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
// Bounds that keep every command well inside one network frame (64 MiB): a compare-and-swap
// carries the key, the value and the expected value.
constexpr uint64_t kMaxKeyBytesLimit = 64 * 1024;
constexpr uint64_t kMaxValueBytesLimit = 16u << 20;

struct FlagSpec {
  std::string_view name;
  bool takes_value;
};

constexpr std::array kFlags = {
    FlagSpec{"--id", true},
    FlagSpec{"--cluster-id", true},
    FlagSpec{"--peers", true},
    FlagSpec{"--listen", true},
    FlagSpec{"--http", true},
    FlagSpec{"--data-dir", true},
    FlagSpec{"--join", false},
    FlagSpec{"--tick-ms", true},
    FlagSpec{"--election-ticks", true},
    FlagSpec{"--heartbeat-ticks", true},
    FlagSpec{"--pre-vote", true},
    FlagSpec{"--check-quorum", true},
    FlagSpec{"--read-mode", true},
    FlagSpec{"--snapshot-entries", true},
    FlagSpec{"--snapshot-bytes", true},
    FlagSpec{"--compaction-margin", true},
    FlagSpec{"--request-timeout-ms", true},
    FlagSpec{"--max-key-bytes", true},
    FlagSpec{"--max-value-bytes", true},
    FlagSpec{"--max-connections", true},
    FlagSpec{"--io-threads", true},
    FlagSpec{"--log-level", true},
};

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// A parse error: unwinds to parse_options(), which turns it into ParsedOptions::kError.
struct Failure {
  std::string message;
};

[[noreturn]] void fail(std::string_view flag, std::string_view what) {
  throw Failure{std::string(flag) + ": " + std::string(what)};
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

uint64_t parse_number(std::string_view flag, std::string_view text, uint64_t min, uint64_t max) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    fail(flag, quoted(text) + " is not a number");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    fail(flag, quoted(text) + " is out of range " + std::to_string(min) + ".." +
                   (max == kMaxU64 ? std::string("2^64-1") : std::to_string(max)));
  }
  return value;
}

bool parse_bool(std::string_view flag, std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  fail(flag, quoted(text) + " is not true or false");
}

net::PeerAddress parse_address(std::string_view flag, const std::string& text) {
  net::PeerAddress address;
  if (!parse_host_port(text, address.host, address.port)) {
    fail(flag, quoted(text) + " is not HOST:PORT");
  }
  return address;
}

std::map<uint64_t, net::PeerAddress> parse_peers(const std::string& text) {
  std::map<uint64_t, net::PeerAddress> peers;
  size_t begin = 0;
  while (true) {
    const size_t comma = text.find(',', begin);
    const std::string entry =
        text.substr(begin, comma == std::string::npos ? comma : comma - begin);
    const size_t eq = entry.find('=');
    net::PeerAddress address;
    uint64_t id = 0;
    const std::string_view id_text = std::string_view(entry).substr(0, eq);
    const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (eq == std::string::npos || id_text.empty() || ec != std::errc() ||
        end != id_text.data() + id_text.size() ||
        !parse_host_port(entry.substr(eq + 1), address.host, address.port)) {
      fail("--peers", "entry " + quoted(entry) + " is not ID=HOST:PORT");
    }
    if (id == 0) fail("--peers", "entry " + quoted(entry) + ": node ids start at 1");
    if (!peers.emplace(id, address).second) {
      fail("--peers", "node " + std::to_string(id) + " is listed twice");
    }
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return peers;
}

raft::LogLevel parse_log_level(std::string_view text) {
  if (text == "debug") return raft::LogLevel::kDebug;
  if (text == "info") return raft::LogLevel::kInfo;
  if (text == "warn") return raft::LogLevel::kWarn;
  if (text == "error") return raft::LogLevel::kError;
  fail("--log-level", quoted(text) + " is not debug, info, warn or error");
}

std::string log_level_name(raft::LogLevel level) {
  switch (level) {
    case raft::LogLevel::kDebug: return "debug";
    case raft::LogLevel::kInfo: return "info";
    case raft::LogLevel::kWarn: return "warn";
    default: return "error";
  }
}

// The command line as flag -> value (an empty value for --join), checked only for its shape:
// known flags, each at most once, each with a value if it takes one.
struct Tokens {
  std::map<std::string_view, std::string> values;
  bool help = false;
  std::optional<std::string> error;  // the first error in command-line order
};

Tokens tokenize(int argc, const char* const* argv) {
  Tokens tokens;
  auto error = [&](std::string message) {
    if (!tokens.error) tokens.error = std::move(message);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      tokens.help = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const FlagSpec* flag = name.starts_with("--") ? find_flag(name) : nullptr;
    if (flag == nullptr) {
      error(name.starts_with("-") ? "unknown flag " + quoted(name)
                                  : "unexpected argument " + quoted(arg));
      continue;
    }
    std::string value;
    if (!flag->takes_value) {
      if (eq != std::string_view::npos) error(std::string(name) + ": takes no value");
    } else if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
      value = argv[++i];
    } else {
      error(std::string(name) + ": missing value");
      continue;
    }
    if (!tokens.values.emplace(flag->name, std::move(value)).second) {
      error(std::string(name) + ": given more than once");
    }
  }
  return tokens;
}

Options build(const std::map<std::string_view, std::string>& values) {
  auto get = [&](std::string_view flag) -> const std::string* {
    const auto it = values.find(flag);
    return it == values.end() ? nullptr : &it->second;
  };
  auto required = [&](std::string_view flag) -> const std::string& {
    const std::string* value = get(flag);
    if (value == nullptr) fail(flag, "required");
    return *value;
  };

  Options options;
  framework::NodeConfig& node = options.node;
  node.id = parse_number("--id", required("--id"), 1, kMaxU64);
  node.peers = parse_peers(required("--peers"));
  if (!parse_host_port(required("--http"), options.http_host, options.http_port)) {
    fail("--http", quoted(*get("--http")) + " is not HOST:PORT");
  }
  node.data_dir = required("--data-dir");
  if (node.data_dir.empty()) fail("--data-dir", "must not be empty");
  node.join = get("--join") != nullptr;

  node.cluster_id = kDefaultClusterId;
  if (auto v = get("--cluster-id")) node.cluster_id = parse_number("--cluster-id", *v, 0, kMaxU64);

  // Where to listen: --listen, else this node's own entry of --peers. A new cluster's members
  // are the --peers keys, so they must include this node; a joining node may know only the
  // members it joins, provided --listen says where it listens.
  const auto own = node.peers.find(node.id);
  if (!node.join && own == node.peers.end()) {
    const std::string id = std::to_string(node.id);
    fail("--id", id + " is not in --peers (to add a node to a running cluster, use --join)");
  }
  if (auto v = get("--listen")) {
    node.listen = parse_address("--listen", *v);
  } else if (own != node.peers.end()) {
    node.listen = own->second;
  } else {
    fail("--listen",
         "required with --join when --peers has no entry for --id " + std::to_string(node.id));
  }
  for (const auto& [id, address] : node.peers) {
    // Port 0 means "not known yet" to the node; on a command line nothing can tell it later.
    if (id != node.id && address.port == 0) {
      const std::string peer = std::to_string(id);
      fail("--peers", "node " + peer + " has port 0 (only this node's own entry may use 0)");
    }
  }

  if (auto v = get("--tick-ms")) {
    node.tick_interval = std::chrono::milliseconds(parse_number("--tick-ms", *v, 1, 60000));
  }
  if (auto v = get("--election-ticks")) {
    node.election_ticks = static_cast<int>(parse_number("--election-ticks", *v, 2, 1000000));
  }
  if (auto v = get("--heartbeat-ticks")) {
    node.heartbeat_ticks = static_cast<int>(parse_number("--heartbeat-ticks", *v, 1, 1000000));
  }
  if (node.election_ticks <= node.heartbeat_ticks) {
    fail("--election-ticks", std::to_string(node.election_ticks) +
                                 " must be greater than --heartbeat-ticks (" +
                                 std::to_string(node.heartbeat_ticks) + ")");
  }
  if (auto v = get("--pre-vote")) node.pre_vote = parse_bool("--pre-vote", *v);
  if (auto v = get("--check-quorum")) node.check_quorum = parse_bool("--check-quorum", *v);
  if (auto v = get("--read-mode")) {
    if (*v == "safe") {
      node.read_mode = framework::ReadMode::kSafe;
    } else if (*v == "lease") {
      node.read_mode = framework::ReadMode::kLease;
    } else {
      fail("--read-mode", quoted(*v) + " is not safe or lease");
    }
  }
  if (node.read_mode == framework::ReadMode::kLease && !node.check_quorum) {
    fail("--read-mode", "lease requires --check-quorum true (the lease is only valid with it)");
  }
  if (auto v = get("--snapshot-entries")) {
    node.snapshot_entries = parse_number("--snapshot-entries", *v, 0, kMaxU64);
  }
  if (auto v = get("--snapshot-bytes")) {
    node.snapshot_bytes = parse_number("--snapshot-bytes", *v, 0, kMaxU64);
  }
  if (auto v = get("--compaction-margin")) {
    node.compaction_margin = parse_number("--compaction-margin", *v, 0, kMaxU64);
  }
  if (auto v = get("--request-timeout-ms")) {
    node.request_timeout =
        std::chrono::milliseconds(parse_number("--request-timeout-ms", *v, 1, 86400000));
  }

  if (auto v = get("--max-key-bytes")) {
    options.max_key_bytes = parse_number("--max-key-bytes", *v, 1, kMaxKeyBytesLimit);
  }
  if (auto v = get("--max-value-bytes")) {
    options.max_value_bytes = parse_number("--max-value-bytes", *v, 1, kMaxValueBytesLimit);
  }
  // The largest command the API can propose: a compare-and-swap with a key, a value and an
  // expected value at their limits, plus the encoding's version, op and three lengths.
  node.max_command_bytes = 2 + 3 * 4 + options.max_key_bytes + 2 * options.max_value_bytes;
  if (auto v = get("--max-connections")) {
    options.max_connections = parse_number("--max-connections", *v, 1, 1000000);
  }
  if (auto v = get("--io-threads")) {
    options.io_threads = static_cast<int>(parse_number("--io-threads", *v, 1, 256));
  }
  if (auto v = get("--log-level")) options.log_level = parse_log_level(*v);

  if (std::string why = node.validate(); !why.empty()) throw Failure{"configuration: " + why};
  return options;
}

}  // namespace

bool parse_host_port(const std::string& text, std::string& host, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string_view h = std::string_view(text).substr(0, colon);
  const std::string_view p = std::string_view(text).substr(colon + 1);
  // "[::1]:80": an IPv6 address in brackets, which hold the colons of the address.
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty() || h.find_first_of("[]") != std::string_view::npos) return false;
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) return false;
  host = std::string(h);
  port = static_cast<uint16_t>(value);
  return true;
}

ParsedOptions parse_options(int argc, const char* const* argv) {
  ParsedOptions parsed;
  Tokens tokens = tokenize(argc, argv);
  if (tokens.help) {
    parsed.kind = ParsedOptions::Kind::kHelp;
    return parsed;
  }
  if (tokens.error) {
    parsed.error = *tokens.error;
    return parsed;
  }
  try {
    parsed.options = build(tokens.values);
    parsed.kind = ParsedOptions::Kind::kRun;
  } catch (const Failure& failure) {
    parsed.error = failure.message;
  }
  return parsed;
}

std::string usage() {
  const Options d;
  const framework::NodeConfig& n = d.node;
  auto str = [](auto v) {
    if constexpr (std::is_same_v<decltype(v), bool>) {
      return std::string(v ? "true" : "false");
    } else {
      return std::to_string(v);
    }
  };
  // One row per flag ("" starts a section); a '\n' in a description continues it, indented.
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"", "Required:"},
      {"--id N", "this node's id (1 or more)"},
      {"--peers LIST",
       "the members and where to reach them: ID=HOST:PORT,...\n"
       "a new cluster's members are exactly these and must include --id"},
      {"--http HOST:PORT", "where to serve the HTTP API (port 0: a free port)"},
      {"--data-dir DIR", "the node's log, metadata and snapshots"},
      {"", "Cluster:"},
      {"--cluster-id N",
       "the same on every member; another cluster's data dir or peer is\n"
       "refused (default " +
           str(kDefaultClusterId) + ")"},
      {"--listen HOST:PORT",
       "where to accept raft traffic (default: this node's entry of\n"
       "--peers; port 0: a free port)"},
      {"--join",
       "this node is being added to a running cluster: it starts without\n"
       "membership and learns it from the leader"},
      {"", "Raft:"},
      {"--tick-ms N",
       "the clock's tick in milliseconds (default " + str(n.tick_interval.count()) + ")"},
      {"--election-ticks N",
       "ticks without a leader before an election (default " + str(n.election_ticks) + ")"},
      {"--heartbeat-ticks N", "ticks between heartbeats (default " + str(n.heartbeat_ticks) + ")"},
      {"--pre-vote true|false", "probe before an election (default " + str(n.pre_vote) + ")"},
      {"--check-quorum true|false",
       "a leader that cannot reach a quorum steps down (default " + str(n.check_quorum) + ")"},
      {"--read-mode safe|lease",
       "how linearizable reads are confirmed: a heartbeat round or\n"
       "the leader's lease (needs --check-quorum true) (default " +
           std::string(n.read_mode == framework::ReadMode::kSafe ? "safe" : "lease") + ")"},
      {"--snapshot-entries N",
       "snapshot every N applied entries, 0: never (default " + str(n.snapshot_entries) + ")"},
      {"--snapshot-bytes N", "snapshot every N bytes of applied commands, 0: never\n(default " +
                                 str(n.snapshot_bytes) + ")"},
      {"--compaction-margin N",
       "entries kept in the log below a snapshot (default " + str(n.compaction_margin) + ")"},
      {"--request-timeout-ms N", "a request without an outcome after this fails (default " +
                                     str(n.request_timeout.count()) + ")"},
      {"", "HTTP:"},
      {"--max-key-bytes N",
       "longest key, 1.." + str(kMaxKeyBytesLimit) + " (default " + str(d.max_key_bytes) + ")"},
      {"--max-value-bytes N", "longest value, 1.." + str(kMaxValueBytesLimit) + " (default " +
                                  str(d.max_value_bytes) + ")"},
      {"--max-connections N",
       "HTTP connections served at once (default " + str(d.max_connections) + ")"},
      {"--io-threads N", "threads serving HTTP and the node (default " + str(d.io_threads) + ")"},
      {"", "Other:"},
      {"--log-level LEVEL",
       "debug, info, warn or error, to stderr (default " + log_level_name(d.log_level) + ")"},
      {"--help, -h", "print this help"},
  };

  constexpr size_t kColumn = 30;
  std::string text =
      "usage: raft-kv --id N --peers ID=HOST:PORT,... --http HOST:PORT --data-dir DIR [options]\n"
      "\n"
      "Runs one member of a replicated key-value store: PUT, GET and DELETE /kv/{key} over\n"
      "HTTP, replicated with Raft to the other members listed in --peers. Every flag takes its\n"
      "value as the next argument or after '=' (--id=1).\n";
  for (const auto& [flag, description] : rows) {
    if (flag.empty()) {
      text += "\n" + description + "\n";
      continue;
    }
    std::string line = "  " + flag;
    line.resize(std::max(line.size() + 1, kColumn), ' ');
    for (char c : description) {
      line += c;
      if (c == '\n') line.append(kColumn, ' ');
    }
    text += line + "\n";
  }
  return text;
}

}  // namespace raftkv
