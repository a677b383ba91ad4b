#include "tests/raft/support/script.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace raft::testing {
namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string trim_right(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

bool is_blank(const std::string& s) { return trim_right(s).empty(); }

// --- Arguments ----------------------------------------------------------------------------

// The arguments of one command line: positional tokens and key=value pairs. Every key must be
// consumed by the command (a typo is an error, not a silently ignored option).
class Args {
 public:
  explicit Args(const std::string& line) {
    std::vector<std::pair<std::string, bool>> raw = tokenize(line);
    if (raw.empty()) throw ScriptError("empty command");
    name_ = raw[0].first;
    for (size_t i = 1; i < raw.size(); ++i) {
      const auto& [text, key_at] = raw[i];
      if (key_at) {
        const size_t eq = text.find('=');
        kv_[text.substr(0, eq)] = text.substr(eq + 1);
      } else {
        pos_.push_back(text);
      }
    }
  }

  const std::string& name() const { return name_; }
  size_t count() const { return pos_.size(); }
  const std::string& pos(size_t i) const {
    if (i >= pos_.size()) throw ScriptError(concat(name_, ": missing argument ", i + 1));
    return pos_[i];
  }
  uint64_t pos_u64(size_t i) const { return parse_u64(pos(i)); }
  // Every positional argument from i on, as ids.
  std::vector<uint64_t> ids_from(size_t i) const {
    std::vector<uint64_t> out;
    for (size_t j = i; j < pos_.size(); ++j) out.push_back(parse_u64(pos_[j]));
    if (out.empty()) throw ScriptError(concat(name_, ": missing node id"));
    return out;
  }

  std::optional<std::string> key(const std::string& k) {
    auto it = kv_.find(k);
    if (it == kv_.end()) return std::nullopt;
    used_.insert(k);
    return it->second;
  }
  uint64_t u64(const std::string& k, uint64_t def) {
    auto v = key(k);
    return v ? parse_u64(*v) : def;
  }
  bool flag(const std::string& k, bool def) {
    auto v = key(k);
    if (!v) return def;
    if (*v == "true") return true;
    if (*v == "false") return false;
    throw ScriptError(concat(name_, ": ", k, " must be true or false, not ", *v));
  }
  std::vector<uint64_t> id_list(const std::string& k) {
    auto v = key(k);
    return v ? parse_id_list(*v) : std::vector<uint64_t>{};
  }

  // Throws if a key was given that the command does not take, or too many positionals.
  void done(size_t max_positional = SIZE_MAX) const {
    for (const auto& [k, v] : kv_) {
      if (!used_.contains(k)) throw ScriptError(concat(name_, ": unknown argument ", k, "=", v));
    }
    if (pos_.size() > max_positional) {
      throw ScriptError(concat(name_, ": unexpected argument ", pos_[max_positional]));
    }
  }

  uint64_t parse_u64(const std::string& s) const {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
      throw ScriptError(concat(name_, ": not a number: ", s));
    }
    return v;
  }
  std::vector<uint64_t> parse_id_list(const std::string& s) const {
    std::vector<uint64_t> out;
    size_t start = 0;
    while (start <= s.size() && !s.empty()) {
      size_t end = s.find(',', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(parse_u64(s.substr(start, end - start)));
      start = end + 1;
    }
    return out;
  }

 private:
  // Tokens with quotes removed; .second is true if the token is key=value (an '=' outside
  // quotes, before any quote).
  static std::vector<std::pair<std::string, bool>> tokenize(const std::string& line) {
    std::vector<std::pair<std::string, bool>> out;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      std::string tok;
      bool quoted = false;
      bool seen_quote = false;
      bool keyed = false;
      for (; i < line.size(); ++i) {
        const char c = line[i];
        if (!quoted && (c == ' ' || c == '\t')) break;
        if (c == '"') {
          quoted = !quoted;
          seen_quote = true;
          continue;
        }
        if (quoted && c == '\\' && i + 1 < line.size()) {
          tok += line[++i];
          continue;
        }
        if (c == '=' && !quoted && !seen_quote && !keyed) keyed = true;
        tok += c;
      }
      if (quoted) throw ScriptError("unterminated quote in: " + line);
      out.emplace_back(std::move(tok), keyed);
    }
    return out;
  }

  std::string name_;
  std::vector<std::string> pos_;
  std::map<std::string, std::string> kv_;
  std::set<std::string> used_;
};

LogLevel parse_level(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  if (s == "fatal") return LogLevel::kFatal;
  throw ScriptError("unknown log level " + s);
}

MessageType parse_type(const std::string& s) {
  MessageType t;
  if (!eraftpb::MessageType_Parse(s, &t)) throw ScriptError("unknown message type " + s);
  return t;
}

std::string error_line(std::error_code ec) { return ec ? "error: " + ec.message() + "\n" : ""; }

Entry to_entry(const AppliedEntry& a) {
  Entry e;
  e.set_index(a.index);
  e.set_term(a.term);
  e.set_entry_type(a.type);
  e.set_data(a.data);
  return e;
}

}  // namespace

// --- Files --------------------------------------------------------------------------------

Script parse_script(std::string_view text, const std::string& file) {
  const std::vector<std::string> lines = split_lines(text);
  Script script;
  Script::Part part;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (is_blank(line) || line.starts_with('#')) {
      part.verbatim += line + "\n";
      ++i;
      continue;
    }
    ScriptBlock b;
    b.line = static_cast<int>(i + 1);
    b.command = trim_right(line);
    ++i;
    while (i < lines.size() && trim_right(lines[i]) != "----") b.body.push_back(lines[i++]);
    if (i == lines.size()) {
      throw std::runtime_error(concat(file, ":", b.line, ": command without a \"----\" line"));
    }
    ++i;  // "----"
    while (i < lines.size() && !is_blank(lines[i])) b.expected += trim_right(lines[i++]) + "\n";
    if (i < lines.size()) ++i;  // the blank line that ends the block
    part.block = std::move(b);
    script.parts.push_back(std::move(part));
    part = Script::Part();
  }
  if (!part.verbatim.empty()) script.parts.push_back(std::move(part));
  return script;
}

std::string render_script(const Script& script, const std::vector<std::string>& outputs) {
  std::string out;
  size_t k = 0;
  for (const auto& part : script.parts) {
    out += part.verbatim;
    if (!part.block) continue;
    const ScriptBlock& b = *part.block;
    out += b.command + "\n";
    for (const auto& l : b.body) out += l + "\n";
    out += "----\n";
    out += k < outputs.size() ? outputs[k] : b.expected;
    out += "\n";  // the blank line that ends the block
    ++k;
  }
  // The last block's terminating blank line is not needed at the end of the file.
  while (out.size() >= 2 && out.ends_with("\n\n")) out.pop_back();
  return out;
}

ScriptFileResult run_script_file(const std::string& path, bool rewrite) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const Script script = parse_script(ss.str(), path);

  ScriptFileResult result;
  ScriptRunner runner;
  std::vector<std::string> outputs;
  for (const auto& part : script.parts) {
    if (!part.block) continue;
    const ScriptBlock& b = *part.block;
    std::string actual;
    try {
      actual = runner.run(b);
    } catch (const std::exception& e) {
      result.error = concat(path, ":", b.line, ": ", b.command, ": ", e.what());
      outputs.push_back("error: " + std::string(e.what()) + "\n");
      break;
    }
    if (actual != b.expected) result.mismatches.push_back({b.line, b.command, b.expected, actual});
    outputs.push_back(std::move(actual));
  }
  // Only a changed file is written: others may be editing theirs in the same directory.
  if (const std::string text = render_script(script, outputs); rewrite && text != ss.str()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  return result;
}

// --- Runner -------------------------------------------------------------------------------

ScriptRunner::ScriptRunner() = default;
ScriptRunner::~ScriptRunner() = default;

Cluster& ScriptRunner::cluster() {
  if (!cluster_) throw ScriptError("no cluster: start one with the `cluster` command");
  return *cluster_;
}

std::string ScriptRunner::run(const ScriptBlock& block) {
  Args a(block.command);
  const std::string& cmd = a.name();
  if (!block.body.empty()) {
    throw ScriptError(concat(cmd, ": unexpected lines before \"----\" (", block.body.front(), ")"));
  }
  std::string out;  // command-specific output, after the transcript

  auto node_live = [&](uint64_t id) {
    Cluster& c = cluster();
    const auto ids = c.ids();
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
      throw ScriptError(concat(cmd, ": no node ", id));
    }
    if (!c.alive(id)) throw ScriptError(concat(cmd, ": node ", id, " is crashed"));
    return id;
  };

  if (cmd == "cluster") {
    ClusterOptions o;
    if (auto v = a.key("voters")) o.voters = a.parse_id_list(*v);
    o.learners = a.id_list("learners");
    o.seed = a.u64("seed", 1);
    o.sync_persistence = !a.flag("async", false);
    o.auto_apply = a.flag("auto_apply", true);
    o.log_level = parse_level(a.key("log").value_or("warn"));
    const std::string logs = a.key("logs").value_or("inline");
    if (logs != "inline" && logs != "buffer") throw ScriptError("logs must be inline or buffer");
    o.logs_in_events = logs == "inline";
    Config d;
    const bool pre_vote = a.flag("pre_vote", false);
    const bool check_quorum = a.flag("check_quorum", false);
    const std::string read_only = a.key("read_only").value_or("safe");
    if (read_only != "safe" && read_only != "lease") {
      throw ScriptError("read_only must be safe or lease");
    }
    const int election = static_cast<int>(a.u64("election", 10));
    const int heartbeat = static_cast<int>(a.u64("heartbeat", 1));
    const int min_election = static_cast<int>(a.u64("min_election", 0));
    const int max_election = static_cast<int>(a.u64("max_election", 0));
    const uint64_t max_inflight = a.u64("max_inflight", 256);
    const uint64_t max_inflight_bytes = a.u64("max_inflight_bytes", kNoLimit);
    const uint64_t max_size = a.u64("max_size_per_msg", d.max_size_per_msg);
    const uint64_t max_committed = a.u64("max_committed_size_per_ready", kNoLimit);
    const uint64_t max_uncommitted = a.u64("max_uncommitted", kNoLimit);
    const bool disable_forwarding = a.flag("disable_forwarding", false);
    a.done(0);
    o.configure = [=](Config& c) {
      c.pre_vote = pre_vote;
      c.check_quorum = check_quorum;
      c.read_only_option = read_only == "lease" ? ReadOnlyOption::kLeaseBased : ReadOnlyOption::kSafe;
      c.election_tick = election;
      c.heartbeat_tick = heartbeat;
      c.min_election_tick = min_election;
      c.max_election_tick = max_election;
      c.max_inflight_msgs = max_inflight;
      c.max_inflight_bytes = max_inflight_bytes;
      c.max_size_per_msg = max_size;
      c.max_committed_size_per_ready = max_committed;
      c.max_uncommitted_entries_size = max_uncommitted;
      c.disable_proposal_forwarding = disable_forwarding;
    };
    cluster_.reset();
    try {
      cluster_ = std::make_unique<Cluster>(std::move(o));
    } catch (const std::invalid_argument& e) {
      throw ScriptError(concat("cluster: ", e.what()));
    }
  } else if (cmd == "add-node") {
    a.done(1);
    cluster().add_node(a.pos_u64(0));
  } else if (cmd == "crash") {
    a.done(1);
    cluster().crash(node_live(a.pos_u64(0)));
  } else if (cmd == "restart") {
    a.done(1);
    const uint64_t id = a.pos_u64(0);
    if (cluster().alive(id)) throw ScriptError(concat("restart: node ", id, " is not crashed"));
    cluster().restart(id);
  } else if (cmd == "tick") {
    a.done(2);
    const uint64_t id = node_live(a.pos_u64(0));
    const uint64_t n = a.count() > 1 ? a.pos_u64(1) : 1;
    for (uint64_t i = 0; i < n; ++i) cluster().tick(id);
  } else if (cmd == "tick-election" || cmd == "tick-heartbeat") {
    a.done();
    for (uint64_t id : a.ids_from(0)) {
      const Raft& r = cluster().node(node_live(id)).raft();
      int n = r.config().heartbeat_tick;
      if (cmd == "tick-election") {
        const int timeout = r.state() == StateRole::kLeader ? r.config().election_tick
                                                           : r.randomized_election_timeout();
        n = std::max(1, timeout - r.election_elapsed());
      }
      for (int i = 0; i < n; ++i) cluster().tick(id);
    }
  } else if (cmd == "tick-all") {
    a.done(1);
    cluster().tick_all(static_cast<int>(a.count() > 0 ? a.pos_u64(0) : 1));
  } else if (cmd == "campaign") {
    a.done(1);
    out += error_line(cluster().campaign(node_live(a.pos_u64(0))));
  } else if (cmd == "propose") {
    a.done(2);
    out += error_line(cluster().propose(node_live(a.pos_u64(0)), a.pos(1)));
  } else if (cmd == "propose-conf-change") {
    const uint64_t id = node_live(a.pos_u64(0));
    const bool v1 = a.flag("v1", false);
    const std::string transition = a.key("transition").value_or("auto");
    const std::string ctx = a.key("ctx").value_or("");
    a.done();
    ConfChangeV2 cc;
    if (transition == "implicit") {
      cc.set_transition(eraftpb::Implicit);
    } else if (transition == "explicit") {
      cc.set_transition(eraftpb::Explicit);
    } else if (transition != "auto") {
      throw ScriptError("transition must be auto, implicit or explicit");
    }
    cc.set_context(ctx);
    for (size_t i = 1; i < a.count(); ++i) {
      const std::string& t = a.pos(i);
      if (t.size() < 2) throw ScriptError("bad change " + t + " (want vN, lN or rN)");
      ConfChangeSingle* c = cc.add_changes();
      switch (t[0]) {
        case 'v': c->set_change_type(eraftpb::AddNode); break;
        case 'l': c->set_change_type(eraftpb::AddLearnerNode); break;
        case 'r': c->set_change_type(eraftpb::RemoveNode); break;
        default: throw ScriptError("bad change " + t + " (want vN, lN or rN)");
      }
      c->set_node_id(a.parse_u64(t.substr(1)));
    }
    if (v1) {
      if (cc.changes_size() != 1 || transition != "auto") {
        throw ScriptError("v1=true takes exactly one change and no transition");
      }
      ConfChange old;
      old.set_change_type(cc.changes(0).change_type());
      old.set_node_id(cc.changes(0).node_id());
      old.set_context(ctx);
      out += error_line(cluster().propose_conf_change(id, old));
    } else {
      out += error_line(cluster().propose_conf_change(id, cc));
    }
  } else if (cmd == "read-index") {
    a.done(2);
    out += error_line(cluster().read_index(node_live(a.pos_u64(0)), a.pos(1)));
  } else if (cmd == "transfer-leader") {
    a.done(2);
    out += error_line(cluster().transfer_leader(node_live(a.pos_u64(0)), a.pos_u64(1)));
  } else if (cmd == "request-snapshot") {
    a.done(1);
    out += error_line(cluster().request_snapshot(node_live(a.pos_u64(0))));
  } else if (cmd == "report-unreachable") {
    a.done(2);
    cluster().report_unreachable(node_live(a.pos_u64(0)), a.pos_u64(1));
  } else if (cmd == "report-snapshot") {
    a.done(3);
    const std::string& status = a.pos(2);
    if (status != "ok" && status != "fail") throw ScriptError("report-snapshot: ok or fail");
    cluster().report_snapshot(node_live(a.pos_u64(0)), a.pos_u64(1), status == "ok");
  } else if (cmd == "raw-step") {
    const uint64_t id = node_live(a.pos_u64(0));
    Message m;
    m.set_msg_type(parse_type(a.key("type").value_or("")));
    m.set_from(a.u64("from", 0));
    m.set_to(a.u64("to", id));
    m.set_term(a.u64("term", 0));
    m.set_log_term(a.u64("log_term", 0));
    m.set_index(a.u64("index", 0));
    m.set_commit(a.u64("commit", 0));
    m.set_reject(a.flag("reject", false));
    m.set_reject_hint(a.u64("reject_hint", 0));
    m.set_request_snapshot(a.u64("request_snapshot", 0));
    m.set_context(a.key("ctx").value_or(""));
    if (auto ents = a.key("entries")) {
      std::string_view rest = *ents;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string one(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
        std::string data;
        if (size_t colon = one.find(':'); colon != std::string::npos) {
          data = one.substr(colon + 1);
          one.resize(colon);
        }
        const size_t slash = one.find('/');
        if (slash == std::string::npos) throw ScriptError("entries: want TERM/INDEX[:DATA]");
        Entry* e = m.add_entries();
        e->set_term(a.parse_u64(one.substr(0, slash)));
        e->set_index(a.parse_u64(one.substr(slash + 1)));
        e->set_data(data);
      }
    }
    if (auto snap = a.key("snapshot")) {
      const size_t slash = snap->find('/');
      if (slash == std::string::npos) throw ScriptError("snapshot: want INDEX/TERM");
      SnapshotMetadata* meta = m.mutable_snapshot()->mutable_metadata();
      meta->set_index(a.parse_u64(snap->substr(0, slash)));
      meta->set_term(a.parse_u64(snap->substr(slash + 1)));
      for (uint64_t v : a.id_list("snap_voters")) meta->mutable_conf_state()->add_voters(v);
      for (uint64_t l : a.id_list("snap_learners")) meta->mutable_conf_state()->add_learners(l);
    }
    a.done(1);
    out += error_line(cluster().step(id, m));
  } else if (cmd == "process-ready") {
    a.done();
    for (uint64_t id : a.ids_from(0)) {
      // Said in the transcript, so it stays in order with the other nodes' Readies.
      if (!cluster().handle_ready(node_live(id))) cluster().note(concat(id, ": no Ready"));
    }
  } else if (cmd == "persist" || cmd == "apply") {
    a.done(2);
    const uint64_t id = node_live(a.pos_u64(0));
    const uint64_t n = a.count() > 1 ? a.pos_u64(1) : UINT64_MAX;
    uint64_t done = 0;
    while (done < n && (cmd == "persist" ? cluster().persist_one(id) : cluster().apply_one(id))) {
      ++done;
    }
    if (done == 0) out += concat(id, ": nothing to ", cmd, "\n");
  } else if (cmd == "deliver-msgs" || cmd == "drop-msgs") {
    const uint64_t n = a.u64("n", UINT64_MAX);
    std::optional<MessageType> type;
    if (auto t = a.key("type")) type = parse_type(*t);
    a.done();
    Cluster& c = cluster();
    size_t count = 0;
    for (uint64_t id : a.ids_from(0)) {
      if (cmd == "drop-msgs") {
        count += c.drop_in_flight(id, type);
        continue;
      }
      // Deliver one at a time by position, oldest first: delivering never adds messages.
      uint64_t delivered = 0;
      size_t i = 0;
      while (delivered < n && i < c.in_flight().size()) {
        const Message& m = c.in_flight()[i];
        if (m.to() == id && (!type || m.msg_type() == *type)) {
          c.deliver_at(i);
          ++delivered;
        } else {
          ++i;
        }
      }
      count += delivered;
    }
    if (count == 0) out += "no messages\n";
  } else if (cmd == "stabilize") {
    a.done();
    if (a.count() == 0) {
      cluster().stabilize();
    } else {
      const auto ids = a.ids_from(0);
      cluster().stabilize_only(std::set<uint64_t>(ids.begin(), ids.end()));
    }
  } else if (cmd == "compact") {
    a.done(2);
    const uint64_t id = a.pos_u64(0);
    out += error_line(cluster().compact(id, a.count() > 1 ? a.pos_u64(1) : 0));
  } else if (cmd == "isolate") {
    a.done();
    for (uint64_t id : a.ids_from(0)) cluster().isolate(id);
  } else if (cmd == "partition") {
    a.done();
    std::vector<std::set<uint64_t>> groups;
    for (size_t i = 0; i < a.count(); ++i) {
      const auto ids = a.parse_id_list(a.pos(i));
      groups.emplace_back(ids.begin(), ids.end());
    }
    if (groups.empty()) throw ScriptError("partition: missing groups");
    cluster().partition(groups);
  } else if (cmd == "cut") {
    a.done(2);
    cluster().cut(a.pos_u64(0), a.pos_u64(1));
  } else if (cmd == "drop") {
    a.done(3);
    double p = 0;
    try {
      p = std::stod(a.pos(2));
    } catch (const std::exception&) {
      throw ScriptError("drop: bad probability " + a.pos(2));
    }
    cluster().drop(a.pos_u64(0), a.pos_u64(1), p);
  } else if (cmd == "drop-only") {
    a.done();
    std::set<MessageType> types;
    for (size_t i = 0; i < a.count(); ++i) types.insert(parse_type(a.pos(i)));
    cluster().drop_only(std::move(types));
  } else if (cmd == "reorder") {
    a.done(1);
    if (a.pos(0) != "on" && a.pos(0) != "off") throw ScriptError("reorder: on or off");
    cluster().set_reorder(a.pos(0) == "on");
  } else if (cmd == "heal") {
    a.done(0);
    cluster().heal();
  } else if (cmd == "status") {
    a.done();
    for (uint64_t id : a.ids_from(0)) {
      out += cluster().alive(id) ? cluster().node(id).status().describe() + "\n"
                                 : concat(id, ": crashed\n");
    }
  } else if (cmd == "raft-log") {
    a.done(1);
    const uint64_t id = a.pos_u64(0);
    Cluster& c = cluster();
    if (c.alive(id)) {
      const RaftLog& log = c.node(id).raft().log();
      if (log.first_index() > 1) {
        out += concat("snapshot ", log.first_index() - 1, "/",
                   log.zero_term_on_err_compacted(log.first_index() - 1), "\n");
      }
      const uint64_t durable = log.persisted_index();
      for (const auto& e : log.all_entries()) {
        out += describe_entry(e) + (e.index() > durable ? " (unstable)" : "") + "\n";
      }
    } else {
      MemoryStorage& s = c.storage(id);
      if (s.first_index() > 1) {
        out += concat("snapshot ", s.first_index() - 1, "/", s.term(s.first_index() - 1).value(),
                   "\n");
      }
      auto ents = s.entries(s.first_index(), s.last_index() + 1, kNoLimit);
      for (const auto& e : ents.value()) out += describe_entry(e) + "\n";
    }
    if (out.empty()) out = "(empty)\n";
  } else if (cmd == "applied") {
    a.done(1);
    for (const auto& e : cluster().applied(a.pos_u64(0))) {
      out += e.snapshot ? concat("snapshot ", e.index, "/", e.term, "\n")
                        : describe_entry(to_entry(e)) + "\n";
    }
    if (out.empty()) out = "(none)\n";
  } else if (cmd == "read-states") {
    a.done(1);
    const uint64_t id = a.pos_u64(0);
    for (const auto& rs : cluster().read_states(id)) {
      out += concat("index=", rs.index, " ctx=", rs.request_ctx, "\n");
    }
    cluster().clear_read_states(id);
    if (out.empty()) out = "(none)\n";
  } else if (cmd == "in-flight") {
    a.done(0);
    for (const auto& m : cluster().in_flight()) out += describe(m) + "\n";
    if (out.empty()) out = "(none)\n";
  } else if (cmd == "log-level") {
    a.done(1);
    cluster().logger().set_level(parse_level(a.pos(0)));
  } else if (cmd == "logs") {
    a.done(0);
    out += cluster().logger().take();
  } else {
    throw ScriptError("unknown command " + cmd);
  }

  std::string all = (cluster_ ? cluster_->take_events() : std::string()) + out;
  // No blank lines (they end a block), no trailing spaces.
  std::string clean;
  for (const auto& line : split_lines(all)) {
    std::string l = trim_right(line);
    if (!l.empty()) clean += l + "\n";
  }
  return clean.empty() ? "ok\n" : clean;
}

}  // namespace raft::testing
