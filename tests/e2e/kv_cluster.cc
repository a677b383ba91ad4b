#include "tests/e2e/kv_cluster.h"

#include <signal.h>

#include <algorithm>
#include <set>
#include <thread>

namespace raftkv::e2e {
namespace {

// How often status polls look again.
constexpr auto kPollInterval = 10ms;

// The serving line's HTTP port, or 0 if the line is something else. (Parsed by hand: g++ 12
// warns falsely inside std::regex under the sanitizers.)
uint16_t serving_http_port(const std::string& line, uint64_t id) {
  const std::string head = "raft-kv: node " + std::to_string(id) + " serving http on ";
  const size_t raft = line.find(", raft on ");
  if (line.rfind(head, 0) != 0 || raft == std::string::npos) return 0;
  const std::string http = line.substr(head.size(), raft - head.size());
  const size_t colon = http.rfind(':');
  if (colon == std::string::npos) return 0;
  const std::string digits = http.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  const unsigned long port = std::stoul(digits);
  return port > 0 && port <= 65535 ? static_cast<uint16_t>(port) : 0;
}

// The last lines of a node's output, for failure messages.
std::string tail(const std::string& text, size_t lines = 30) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

bool mentions_address_in_use(const std::string& text) {
  return text.find("in use") != std::string::npos ||
         text.find("EADDRINUSE") != std::string::npos;
}

}  // namespace

const char* raft_kv_path() { return RAFT_KV_PATH; }

std::vector<std::string> fast_flags() {
  // A 20 ms tick: elections 300-600 ms after a leader's loss, heartbeats every 20 ms; the
  // election timeout is still well above a heartbeat that a loaded machine delays a little.
  return {"--tick-ms", "20", "--election-ticks", "15", "--heartbeat-ticks", "1"};
}

std::string kv_path(const std::string& key) { return "/kv/" + key; }

void set_flag(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) {
      args[i + 1] = value;
      return;
    }
  }
  args.push_back(flag);
  args.push_back(value);
}

KvCluster::KvCluster(ClusterOptions options) : options_(std::move(options)) {
  for (int i = 1; i <= options_.size; ++i) add_node(static_cast<uint64_t>(i), false);
}

KvCluster::~KvCluster() {
  for (auto& [id, n] : nodes_) {
    if (!n.started) {
      n.process->kill();
      continue;
    }
    if (!n.process->running()) {
      ADD_FAILURE() << "node " << id << " exited by itself ("
                    << n.process->exit_status()->describe() << "); its stderr ends with:\n"
                    << tail(n.process->stderr_text());
      continue;
    }
    n.process->signal(SIGTERM);
  }
  for (auto& [id, n] : nodes_) {
    if (!n.started || n.process->pid() <= 0) continue;
    auto status = n.process->wait_exit(deadline_in());
    if (!status) {
      n.process->kill();
      ADD_FAILURE() << "node " << id << " did not stop on SIGTERM; its stderr ends with:\n"
                    << tail(n.process->stderr_text());
    } else if (!status->ok()) {
      ADD_FAILURE() << "node " << id << " stopped by SIGTERM with " << status->describe()
                    << "; its stderr ends with:\n"
                    << tail(n.process->stderr_text());
    }
  }
}

KvNode& KvCluster::node(uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::out_of_range("no node " + std::to_string(id));
  return it->second;
}

std::vector<uint64_t> KvCluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

std::vector<uint64_t> KvCluster::running_ids() {
  std::vector<uint64_t> out;
  for (auto& [id, n] : nodes_) {
    if (n.process->running()) out.push_back(id);
  }
  return out;
}

KvNode& KvCluster::add_node(uint64_t id, bool join) {
  KvNode n;
  n.id = id;
  n.raft_port = pick_free_port();
  n.data_dir = dir_.sub("node" + std::to_string(id));
  n.join = join;
  n.process = std::make_unique<Process>(raft_kv_path(), std::vector<std::string>{},
                                        dir_.sub("node" + std::to_string(id)));
  return nodes_.insert_or_assign(id, std::move(n)).first->second;
}

std::string KvCluster::peers_flag(uint64_t id) const {
  const KvNode& self = nodes_.at(id);
  std::string out;
  for (const auto& [peer, n] : nodes_) {
    // A node of the initial cluster lists the initial members; a joining node lists everyone
    // up to itself (the members it joins, and its own address).
    if (!self.join && n.join) continue;
    if (self.join && peer > id) continue;
    uint16_t port = n.raft_port;
    if (auto o = self.peer_port_overrides.find(peer); o != self.peer_port_overrides.end()) {
      port = o->second;
    }
    if (!out.empty()) out += ",";
    out += std::to_string(peer) + "=127.0.0.1:" + std::to_string(port);
  }
  return out;
}

std::vector<std::string> KvCluster::args(uint64_t id) const {
  const KvNode& n = nodes_.at(id);
  std::vector<std::string> a = {"--id",         std::to_string(id),
                                "--cluster-id", std::to_string(options_.cluster_id),
                                "--peers",      peers_flag(id),
                                "--http",       "127.0.0.1:0",
                                "--data-dir",   n.data_dir};
  if (n.join) a.push_back("--join");
  for (auto& f : fast_flags()) a.push_back(f);
  for (auto& f : options_.extra_flags) a.push_back(f);
  for (auto& f : n.extra_flags) a.push_back(f);
  return a;
}

::testing::AssertionResult KvCluster::start_node(uint64_t id) {
  KvNode& n = node(id);
  if (n.process->running()) {
    return ::testing::AssertionFailure() << "node " << id << " already runs";
  }
  n.http_port = 0;
  n.process->set_args(args(id));
  n.process->start();
  n.started = true;
  auto line = n.process->wait_for_first_line(deadline_in());
  if (line) n.http_port = serving_http_port(*line, id);
  if (n.http_port == 0) {
    std::string why = n.process->running() ? "still running, no serving line"
                                           : n.process->exit_status()->describe();
    n.process->kill();
    n.started = false;
    return ::testing::AssertionFailure()
           << "node " << id << " did not start (" << why << "); stdout: " << line.value_or("")
           << "; stderr: " << n.process->stderr_text();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult KvCluster::start_once(const std::vector<uint64_t>& ids, bool& retry) {
  for (uint64_t id : ids) {
    auto r = start_node(id);
    if (!r) {
      retry = mentions_address_in_use(node(id).process->stderr_text());
      return r;
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult KvCluster::start(std::vector<uint64_t> only) {
  if (only.empty()) only = ids();
  ::testing::AssertionResult last = ::testing::AssertionFailure() << "no attempt";
  for (int attempt = 1; attempt <= options_.start_attempts; ++attempt) {
    if (attempt > 1) {
      // Someone took a picked port: new ports, and data dirs that never saw the old ones.
      for (auto& [id, n] : nodes_) {
        n.process->kill();
        n.started = false;
        wal::testing::remove_tree(n.data_dir);
        n.raft_port = pick_free_port();
      }
    }
    bool retry = false;
    last = start_once(only, retry);
    if (last || !retry) return last;
  }
  return last;
}

void KvCluster::kill(uint64_t id) {
  KvNode& n = node(id);
  n.process->kill();
  n.http_port = 0;
  n.started = false;
}

std::optional<ExitStatus> KvCluster::stop(uint64_t id, int sig, Clock::time_point deadline) {
  KvNode& n = node(id);
  n.process->signal(sig);
  auto status = n.process->wait_exit(deadline);
  if (status) {
    n.http_port = 0;
    n.started = false;
  }
  return status;
}

HttpClient KvCluster::client(uint64_t id, std::chrono::milliseconds timeout,
                             bool retry_unavailable) const {
  return HttpClient("127.0.0.1", nodes_.at(id).http_port, timeout, retry_unavailable);
}

std::optional<StatusInfo> KvCluster::status(uint64_t id) {
  if (node(id).http_port == 0) return std::nullopt;
  HttpResponse r = client(id, 2s, false).get("/status");
  if (r.status != 200) return std::nullopt;
  return parse_status(r.body);
}

uint64_t KvCluster::wait_for_leader(Clock::time_point deadline, std::vector<uint64_t> among) {
  for (;;) {
    std::vector<uint64_t> group = among.empty() ? running_ids() : among;
    uint64_t agreed = 0;
    bool ok = !group.empty();
    std::set<uint64_t> members(group.begin(), group.end());
    for (uint64_t id : group) {
      auto s = status(id);
      if (!s || s->leader == 0 || (agreed != 0 && s->leader != agreed)) {
        ok = false;
        break;
      }
      agreed = s->leader;
    }
    if (ok && members.count(agreed) > 0) {
      // The leader must know it leads (the others may still name a leader that stepped down).
      auto s = status(agreed);
      if (s && s->leader == agreed) return agreed;
    }
    if (Clock::now() >= deadline) return 0;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::optional<StatusInfo> KvCluster::wait_for_status(
    uint64_t id, const std::function<bool(const StatusInfo&)>& pred, Clock::time_point deadline,
    std::optional<StatusInfo>* last) {
  for (;;) {
    std::optional<StatusInfo> s = status(id);
    if (s && last) *last = s;
    if (s && pred(*s)) return s;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

::testing::AssertionResult KvCluster::wait_for_applied(uint64_t id, uint64_t index,
                                                       Clock::time_point deadline) {
  std::optional<StatusInfo> s;
  if (wait_for_status(id, [index](const StatusInfo& st) { return st.applied >= index; }, deadline,
                      &s)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "node " << id << " did not apply index " << index << " in time (applied "
         << (s ? std::to_string(s->applied) : std::string("unknown")) << ")";
}

}  // namespace raftkv::e2e
