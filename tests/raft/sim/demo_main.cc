// raft_demo: five nodes of the consensus core on a simulated network, narrated step by step.
//
//   raft_demo [--seed=S]
//
// The story: a leader is elected and commits writes; a partition cuts the leader off with one
// follower, the majority elects a new leader and keeps committing while the old leader's writes
// cannot commit; the partition heals and the old leader's uncommitted entries are replaced; the
// leader crashes, a new one is elected, and the crashed node restarts and catches up. At the end:
// every node's applied log, and the safety checks that held. The seed only changes the election
// timeouts (so who wins which election); the same seed prints the same story, byte for byte.
// Exit code 0 if every check held, 1 otherwise.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/raft/support/cluster.h"

namespace {

using raft::Entry;
using raft::StateRole;
using raft::testing::Cluster;
using raft::testing::ClusterOptions;

constexpr int kElectionTick = 10;
constexpr uint64_t kNoNode = raft::kNone;
const std::vector<uint64_t> kAll = {1, 2, 3, 4, 5};

template <typename... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// "3", "2 and 5", "1, 2 and 4".
std::string list(const std::vector<uint64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) s += i + 1 == ids.size() ? " and " : ", ";
    s += std::to_string(ids[i]);
  }
  return s.empty() ? "none" : s;
}

std::string list(const std::set<uint64_t>& ids) {
  return list(std::vector<uint64_t>(ids.begin(), ids.end()));
}

// "{1, 4}".
std::string group(const std::vector<uint64_t>& ids) {
  std::string s = "{";
  for (size_t i = 0; i < ids.size(); ++i) s += (i > 0 ? ", " : "") + std::to_string(ids[i]);
  return s + "}";
}

// "1 tick", "12 ticks".
std::string ticks(uint64_t n) { return str(n, n == 1 ? " tick" : " ticks"); }

// A demo that cannot tell its story (no leader in time, ...) stops with this.
struct DemoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Demo {
 public:
  explicit Demo(uint64_t seed);
  void run();
  bool all_held() const { return all_held_; }

 private:
  // --- printing ---
  void heading(const std::string& title);
  void say(const std::string& text);

  // --- driving ---
  // One tick of every live node, then every Ready handled and every message delivered.
  void tick_round();
  // Ticks until a node of `among` leads a term above `above_term`; returns it.
  uint64_t elect(const std::vector<uint64_t>& among, uint64_t above_term);
  // Proposes at `via`, lets the cluster settle, and returns the index the value landed at on
  // the leader `leader`.
  uint64_t write(uint64_t leader, uint64_t via, const std::string& value);
  // Records leaders per term and checks Leader Completeness of each new leader.
  void observe();

  // --- reading ---
  const raft::Raft& raft(uint64_t id) const { return c_.node(id).raft(); }
  std::vector<uint64_t> live() const;
  std::vector<uint64_t> voters_for(uint64_t leader) const;
  std::vector<uint64_t> applied_by(uint64_t index) const;
  std::string entry_text(const Entry& e) const;
  std::string entry_at(uint64_t id, uint64_t index) const;

  // --- the end ---
  void applied_table();
  void safety_report();

  Cluster c_;
  uint64_t seed_;
  uint64_t ticks_ = 0;
  int section_ = 0;
  bool all_held_ = true;
  // Election Safety: every leader seen, per term.
  std::map<uint64_t, std::set<uint64_t>> leaders_by_term_;
  // Leader Completeness: (term, leader) pairs checked, and the committed entries they held.
  uint64_t completeness_leaders_ = 0;
  uint64_t completeness_entries_ = 0;
  std::string completeness_failure_;
};

ClusterOptions demo_options(uint64_t seed) {
  ClusterOptions o;
  o.voters = kAll;
  o.seed = seed;
  o.sync_persistence = true;
  o.auto_apply = true;
  o.log_level = raft::LogLevel::kError;
  o.configure = [](raft::Config& c) {
    c.election_tick = kElectionTick;
    c.heartbeat_tick = 1;
    c.pre_vote = true;
    // Off, so the cut-off leader keeps believing it leads until it hears of a newer term.
    c.check_quorum = false;
  };
  return o;
}

Demo::Demo(uint64_t seed) : c_(demo_options(seed)), seed_(seed) {}

void Demo::heading(const std::string& title) {
  std::cout << "\n== " << ++section_ << ". " << title << "\n\n";
}

// Prints `text` wrapped at 96 columns, indented by two spaces.
void Demo::say(const std::string& text) {
  std::istringstream words(text);
  std::string word;
  std::string line;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > 94) {
      std::cout << "  " << line << "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) std::cout << "  " << line << "\n";
}

std::vector<uint64_t> Demo::live() const {
  std::vector<uint64_t> out;
  for (uint64_t id : c_.ids()) {
    if (c_.alive(id)) out.push_back(id);
  }
  return out;
}

void Demo::tick_round() {
  c_.tick_all(1);
  ++ticks_;
  observe();
}

void Demo::observe() {
  // What the most advanced state machine applied is committed: (index, term) of each entry.
  std::map<uint64_t, uint64_t> committed_terms;
  uint64_t most = kNoNode;
  for (uint64_t id : live()) {
    if (most == kNoNode || c_.applied_index(id) > c_.applied_index(most)) most = id;
  }
  if (most != kNoNode) {
    auto ents = raft(most).log().slice(1, c_.applied_index(most) + 1, raft::kNoLimit);
    if (ents) {
      for (const Entry& e : *ents) committed_terms.emplace(e.index(), e.term());
    }
  }
  for (uint64_t id : live()) {
    const raft::Raft& r = raft(id);
    if (r.state() != StateRole::kLeader) continue;
    auto& leaders = leaders_by_term_[r.term()];
    if (!leaders.insert(id).second) continue;
    // A leader we see for the first time: its log must hold every entry committed before.
    ++completeness_leaders_;
    for (const auto& [index, term] : committed_terms) {
      auto t = r.log().term(index);
      if (!t || *t != term) {
        completeness_failure_ = str("leader ", id, " of term ", r.term(), " lacks committed entry ",
                                    index, " of term ", term);
      }
      ++completeness_entries_;
    }
  }
}

uint64_t Demo::elect(const std::vector<uint64_t>& among, uint64_t above_term) {
  for (int i = 0; i < 50 * kElectionTick; ++i) {
    tick_round();
    for (uint64_t id : among) {
      if (c_.alive(id) && raft(id).state() == StateRole::kLeader && raft(id).term() > above_term) {
        c_.stabilize();
        observe();
        return id;
      }
    }
  }
  throw DemoError(
      str("no leader among nodes ", list(among), " after ", 50 * kElectionTick, " ticks"));
}

uint64_t Demo::write(uint64_t leader, uint64_t via, const std::string& value) {
  if (auto ec = c_.propose(via, value)) {
    throw DemoError(str("proposing ", value, " at node ", via, " failed: ", ec.message()));
  }
  c_.stabilize();
  observe();
  // The value is the newest entry carrying it in the leader's log.
  const raft::RaftLog& log = raft(leader).log();
  for (uint64_t i = log.last_index(); i >= log.first_index(); --i) {
    auto ents = log.slice(i, i + 1, raft::kNoLimit);
    if (ents && !ents->empty() && ents->front().data() == value) return i;
  }
  throw DemoError(str(value, " is not in the log of leader ", leader));
}

std::vector<uint64_t> Demo::voters_for(uint64_t leader) const {
  std::vector<uint64_t> out;
  const uint64_t term = raft(leader).term();
  for (uint64_t id : live()) {
    if (id != leader && raft(id).term() == term && raft(id).vote() == leader) out.push_back(id);
  }
  return out;
}

std::vector<uint64_t> Demo::applied_by(uint64_t index) const {
  std::vector<uint64_t> out;
  for (uint64_t id : c_.ids()) {
    for (const auto& a : c_.applied(id)) {
      if (a.index == index) {
        out.push_back(id);
        break;
      }
    }
  }
  return out;
}

std::string Demo::entry_text(const Entry& e) const {
  if (e.data().empty()) return "(empty entry of a new leader)";
  return e.data();
}

std::string Demo::entry_at(uint64_t id, uint64_t index) const {
  const raft::RaftLog& log = raft(id).log();
  auto ents = log.slice(index, index + 1, raft::kNoLimit);
  if (!ents || ents->empty()) return "-";
  return str("term ", ents->front().term(), ": ", entry_text(ents->front()));
}

void Demo::run() {
  std::cout
      << "raft_demo (seed " << seed_ << "): five nodes of the consensus core on a simulated "
      << "network.\n"
      << "Every node has a randomized election timeout of " << kElectionTick << "-"
      << 2 * kElectionTick - 1 << " ticks and a leader heartbeats every tick.\n"
      << "PreVote is on; CheckQuorum is off, so a leader that is cut off keeps believing it\n"
      << "leads until it hears of a newer term. Time moves one tick of every node at a time;\n"
      << "between ticks every message is delivered (unless a partition drops it).\n";

  // 1. Election -------------------------------------------------------------------------------
  heading("Electing a leader");
  say("All five nodes start as followers in term 0 with empty logs, and each waits for its "
      "election timeout to pass without hearing from a leader.");
  uint64_t leader = elect(kAll, 0);
  uint64_t term = raft(leader).term();
  say(str("After ", ticks(ticks_), " node ", leader,
          "'s timer ran out first. It asked the others "
          "whether it could win (PreVote), then campaigned for term ",
          term,
          " and got the votes "
          "of nodes ",
          list(voters_for(leader)), ": node ", leader, " is the leader of term ", term, "."));
  say(str("As every new leader does, it appended an empty entry of its own term (index ",
          raft(leader).log().last_index(),
          "). A majority stored it, so it is committed: commit "
          "index ",
          raft(leader).log().committed(), " on the leader."));

  // 2. Writes ---------------------------------------------------------------------------------
  heading("Committing writes");
  uint64_t follower = leader == 1 ? 2 : 1;
  for (const char* value : {"x=1", "y=2", "z=3"}) {
    const bool forwarded = std::string_view(value) == "y=2";
    const uint64_t via = forwarded ? follower : leader;
    const uint64_t index = write(leader, via, value);
    say(str("A client writes ", value,
            forwarded ? str(" to follower ", via, ", which forwards it to the leader")
                      : str(" to leader ", leader),
            ". The leader appends it at index ", index, " (term ", term,
            ") and replicates it; "
            "stored by a majority, it is committed, and nodes ",
            list(applied_by(index)), " apply it."));
  }

  // 3. Partition ------------------------------------------------------------------------------
  heading("A partition cuts the leader off with one follower");
  const uint64_t old_leader = leader;
  const uint64_t old_term = term;
  const std::vector<uint64_t> minority = {std::min(old_leader, follower),
                                          std::max(old_leader, follower)};
  std::vector<uint64_t> majority;
  for (uint64_t id : kAll) {
    if (id != old_leader && id != follower) majority.push_back(id);
  }
  c_.partition({std::set<uint64_t>(minority.begin(), minority.end()),
                std::set<uint64_t>(majority.begin(), majority.end())});
  const uint64_t commit_before = raft(old_leader).log().committed();
  say(str("The network splits into ", group(minority), " and ", group(majority), ". Leader ",
          old_leader, " can still reach node ", follower, ", but no one else."));
  std::vector<uint64_t> stale_indexes;
  for (const char* value : {"s=1", "s=2"}) {
    stale_indexes.push_back(write(old_leader, old_leader, value));
  }
  say(str("A client writes s=1 and s=2 to node ", old_leader,
          ", which still believes it leads. "
          "It appends them at indexes ",
          stale_indexes.front(), "-", stale_indexes.back(), " and node ", follower,
          " stores them too; but 2 copies out of 5 are not a majority, "
          "so its commit index stays at ",
          raft(old_leader).log().committed(), "."));
  const uint64_t ticks_at_split = ticks_;
  leader = elect(majority, old_term);
  term = raft(leader).term();
  say(str("Nodes ", list(majority), " no longer hear heartbeats. ", ticks(ticks_ - ticks_at_split),
          " later node ", leader,
          "'s timer runs out; it wins the pre-vote and then the "
          "election for term ",
          term, " with the votes of nodes ", list(voters_for(leader)),
          ". Three of five is a majority."));
  say(str("Node ", old_leader,
          raft(old_leader).state() == StateRole::kLeader
              ? " still believes it is the leader of term "
              : " is no longer the leader of term ",
          old_term,
          ". Two leaders at once is allowed, in different terms: only the one with a "
          "majority can commit."));
  for (const char* value : {"a=10", "b=20"}) {
    const uint64_t index = write(leader, leader, value);
    say(str("Leader ", leader, " commits ", value, " at index ", index, " (term ", term,
            "): applied by nodes ", list(applied_by(index)), "."));
  }
  stale_indexes.push_back(write(old_leader, old_leader, "s=3"));
  for (int i = 0; i < kElectionTick; ++i) tick_round();
  say(str("The old leader accepts one more write, s=3 at index ", stale_indexes.back(), ". After ",
          kElectionTick, " more ticks its commit index is still ",
          raft(old_leader).log().committed(), " (it was ", commit_before,
          " before the split): none of s=1, s=2, s=3 is committed or applied anywhere."));

  // 4. Heal -----------------------------------------------------------------------------------
  heading("The partition heals");
  std::vector<std::string> before;
  for (uint64_t i : stale_indexes) before.push_back(entry_at(old_leader, i));
  c_.heal();
  const uint64_t ticks_at_heal = ticks_;
  for (int i = 0; i < 50 * kElectionTick; ++i) {
    tick_round();
    if (raft(old_leader).state() == StateRole::kFollower && raft(old_leader).term() >= term &&
        raft(old_leader).log().committed() >= raft(leader).log().committed()) {
      break;
    }
  }
  c_.stabilize();
  observe();
  say(str("Within ", ticks(ticks_ - ticks_at_heal), " node ", old_leader, " learns of term ",
          raft(old_leader).term(), " and steps down: it is now a follower of leader ",
          raft(old_leader).leader_id(),
          ". Its log conflicts with the leader's where its uncommitted entries were, so they "
          "are replaced by the leader's. Node ",
          follower, " does the same."));
  for (size_t k = 0; k < stale_indexes.size(); ++k) {
    say(str("  node ", old_leader, " index ", stale_indexes[k], ": was [", before[k], "], now [",
            entry_at(old_leader, stale_indexes[k]), "]"));
  }
  bool stale_applied = false;
  for (uint64_t id : c_.ids()) {
    for (const auto& d : c_.applied_data(id)) {
      if (d.rfind("s=", 0) == 0) stale_applied = true;
    }
  }
  say(stale_applied ? "ERROR: a write of the old leader was applied somewhere."
                    : "No node ever applied s=1, s=2 or s=3: a client of the old leader would "
                      "have seen them time out, never succeed.");
  if (stale_applied) all_held_ = false;

  // 5. Leader crash ---------------------------------------------------------------------------
  heading("The leader crashes");
  const uint64_t crashed = leader;
  const uint64_t crashed_term = term;
  c_.crash(crashed);
  say(str("Leader ", crashed,
          " crashes. What it persisted (its log, term and vote) survives on "
          "its disk; everything else is gone, and messages to it are lost."));
  std::vector<uint64_t> survivors;
  for (uint64_t id : kAll) {
    if (id != crashed) survivors.push_back(id);
  }
  const uint64_t ticks_at_crash = ticks_;
  leader = elect(survivors, crashed_term);
  term = raft(leader).term();
  say(str(ticks(ticks_ - ticks_at_crash), " later node ", leader, " wins the election for term ",
          term, " with the votes of nodes ", list(voters_for(leader)), "."));
  for (const char* value : {"c=30", "d=40"}) {
    const uint64_t index = write(leader, leader, value);
    say(str("Leader ", leader, " commits ", value, " at index ", index,
            " with four nodes up: "
            "applied by nodes ",
            list(applied_by(index)), "."));
  }

  // 6. Restart --------------------------------------------------------------------------------
  heading("The crashed node restarts and catches up");
  const raft::HardState hs = c_.storage(crashed).hard_state();
  const uint64_t stored_last = c_.storage(crashed).last_index();
  c_.restart(crashed);
  say(str("Node ", crashed, " restarts from its storage: term ", hs.term(), ", vote ", hs.vote(),
          ", log up to index ", stored_last, ", commit ", hs.commit(),
          ". It rejoins as a "
          "follower and replays its log up to the commit index into its (in-memory) state "
          "machine."));
  const uint64_t ticks_at_restart = ticks_;
  const uint64_t target = raft(leader).log().committed();
  for (int i = 0; i < 50 * kElectionTick && raft(crashed).log().applied() < target; ++i) {
    tick_round();
  }
  say(str("Within ", ticks(ticks_ - ticks_at_restart), " leader ", leader,
          "'s heartbeat reaches "
          "it; it learns of term ",
          raft(crashed).term(),
          ", receives the entries it missed (up "
          "to index ",
          raft(crashed).log().last_index(), ") and applies them: applied index ",
          raft(crashed).log().applied(), ", the same as everyone's."));

  applied_table();
  safety_report();
}

void Demo::applied_table() {
  heading("What each node applied");
  say("Every node's state machine applied its log in order up to its applied index; * marks "
      "an entry a node applied. The entries of the old leader that were never committed "
      "(s=1, s=2, s=3) appear nowhere.");
  std::cout << "\n";
  uint64_t max_applied = 0;
  for (uint64_t id : c_.ids()) max_applied = std::max(max_applied, c_.applied_index(id));
  std::cout << "  index  term  entry                            ";
  for (uint64_t id : c_.ids()) std::cout << "  node " << id;
  std::cout << "\n";
  for (uint64_t index = 1; index <= max_applied; ++index) {
    std::string text = "?";
    uint64_t term = 0;
    std::string cells;
    for (uint64_t id : c_.ids()) {
      const bool applied = c_.applied_index(id) >= index;
      if (applied && term == 0) {
        auto ents = raft(id).log().slice(index, index + 1, raft::kNoLimit);
        if (ents && !ents->empty()) {
          term = ents->front().term();
          text = entry_text(ents->front());
        }
      }
      cells += applied ? "       *" : "       -";
    }
    char row[128];
    std::snprintf(row, sizeof row, "  %5llu  %4llu  %-33s", static_cast<unsigned long long>(index),
                  static_cast<unsigned long long>(term), text.c_str());
    std::cout << row << cells << "\n";
  }
}

void Demo::safety_report() {
  heading("Safety checks");
  auto line = [&](const char* name, bool ok, const std::string& what) {
    if (!ok) all_held_ = false;
    char head[40];
    std::snprintf(head, sizeof head, "  %-21s %-5s", name, ok ? "held" : "BROKE");
    std::cout << head << " ";
    std::string rest = what;
    // Continuation lines line up under the description.
    std::istringstream words(rest);
    std::string word;
    std::string cur;
    bool first = true;
    while (words >> word) {
      if (!cur.empty() && cur.size() + 1 + word.size() > 66) {
        std::cout << (first ? "" : std::string(30, ' ')) << cur << "\n";
        first = false;
        cur.clear();
      }
      cur += (cur.empty() ? "" : " ") + word;
    }
    if (!cur.empty()) std::cout << (first ? "" : std::string(30, ' ')) << cur << "\n";
  };

  // Election Safety: at most one leader per term.
  bool one_each = true;
  std::string terms;
  for (const auto& [t, ids] : leaders_by_term_) {
    if (ids.size() != 1) one_each = false;
    if (!terms.empty()) terms += ", ";
    terms += str("term ", t, ": ", list(ids));
  }
  line("Election Safety", one_each,
       str("at most one leader per term; ", leaders_by_term_.size(), " terms had a leader (", terms,
           ")."));

  // Log Matching: two logs with an entry of the same index and term agree up to it.
  uint64_t pairs = 0;
  uint64_t compared = 0;
  bool matching = true;
  const auto ids = c_.ids();
  std::map<uint64_t, raft::EntryVec> logs;
  for (uint64_t id : ids) logs[id] = raft(id).log().all_entries();
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size(); ++j) {
      const auto& a = logs[ids[i]];
      const auto& b = logs[ids[j]];
      ++pairs;
      // The highest index where both hold an entry of the same term.
      size_t agree = 0;
      for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
        if (a[k].index() == b[k].index() && a[k].term() == b[k].term()) agree = k + 1;
      }
      for (size_t k = 0; k < agree; ++k) {
        ++compared;
        if (a[k].SerializeAsString() != b[k].SerializeAsString()) matching = false;
      }
    }
  }
  line("Log Matching", matching,
       str("logs agree on every entry up to the last index where they hold the same term: ", pairs,
           " pairs of logs, ", compared, " entries compared."));

  // Leader Completeness: each new leader held every entry committed before it.
  line("Leader Completeness", completeness_failure_.empty(),
       completeness_failure_.empty() ? str("each of the ", completeness_leaders_,
                                           " leaders, when first seen, held every "
                                           "entry already committed (",
                                           completeness_entries_, " entries checked).")
                                     : completeness_failure_);

  // State Machine Safety: the applied prefixes are identical (the shorter is a prefix of the
  // longer), entry by entry.
  uint64_t applied_compared = 0;
  bool same = true;
  uint64_t reference = ids.front();
  for (uint64_t id : ids) {
    if (c_.applied_index(id) > c_.applied_index(reference)) reference = id;
  }
  const raft::EntryVec& ref_log = logs[reference];
  for (uint64_t id : ids) {
    if (id == reference) continue;
    const raft::EntryVec& log = logs[id];
    for (const Entry& e : log) {
      if (e.index() > c_.applied_index(id)) break;
      const Entry* r = nullptr;
      for (const Entry& candidate : ref_log) {
        if (candidate.index() == e.index()) r = &candidate;
      }
      ++applied_compared;
      if (r == nullptr || r->SerializeAsString() != e.SerializeAsString()) same = false;
    }
  }
  std::string applied_indexes;
  for (uint64_t id : ids) {
    if (!applied_indexes.empty()) applied_indexes += ", ";
    applied_indexes += str(c_.applied_index(id));
  }
  line("State Machine Safety", same,
       str("the nodes applied identical prefixes of one log (applied indexes ", applied_indexes,
           "): ", applied_compared, " applied entries compared with node ", reference, "'s."));
  std::cout
      << "\n  The test cluster also checked these four, and each node's own invariants, after "
         "every Ready\n  and every delivered message of the "
      << ticks_ << " ticks above.\n";
  std::cout << "\n" << (all_held_ ? "All safety checks held." : "A SAFETY CHECK FAILED.") << "\n";
}

uint64_t parse_seed(int argc, char** argv) {
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--seed=", 0) == 0 && arg.size() > 7) {
      seed = 0;
      for (char c : arg.substr(7)) {
        if (c < '0' || c > '9') {
          std::cerr << "raft_demo: --seed needs a number\n";
          std::exit(2);
        }
        seed = seed * 10 + static_cast<uint64_t>(c - '0');
      }
    } else {
      std::cerr << "usage: raft_demo [--seed=S]\n";
      std::exit(arg == "--help" || arg == "-h" ? 0 : 2);
    }
  }
  return seed;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = parse_seed(argc, argv);
  try {
    Demo demo(seed);
    demo.run();
    return demo.all_held() ? 0 : 1;
  } catch (const raft::InvariantViolation& e) {
    std::cout << "\nSAFETY VIOLATION: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cout << "\nThe demo could not go on: " << e.what() << "\n";
  }
  return 1;
}
