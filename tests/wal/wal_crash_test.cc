// Crash tests with real processes: a child process runs a WAL workload and is killed with
// SIGKILL at a seeded moment; the parent reopens the WAL and checks that what it finds is a state
// the child could have left.
//
// The parent generates each child's operations (appends with sync — at the end, or overwriting a
// suffix with a new term as a new leader does — truncations, compactions and resets) from the
// log it last verified, so it knows them as well as the child does. Entry bytes are derived from
// (index, term) (tests/wal/support/derived_entries.h), so an entry is intact exactly when it is
// derived_entry(index, term). The child reports on a pipe when it has opened the WAL, when it
// begins an operation, and when the operation (with its sync) returned OK. The parent kills it
// after a seeded number of reports — sometimes before any, sometimes never — with no sleeps;
// killing right after a "begin" report tends to land inside that operation's writes or sync, and
// killing as soon as a segment file appears or disappears after a "begin" lands between the
// writes of an append that spans two segments, or between the removals of a compaction.
//
// After a kill the log must be the model's state after the last reported operation, or one the
// operation in flight can leave: an append leaves a prefix of its entries (k of n, the overwritten
// suffix dropped once the first is down), a truncate or reset is done or not, and a compaction
// removes whole segments only, so the log may start below the model's first index as long as the
// entries shown there are the ones compacted. Nothing else: every acknowledged entry is present
// and intact, nothing follows a gap, nothing unknown appears.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/wal/support/derived_entries.h"
#include "tests/wal/support/segment_format.h"
#include "tests/wal/support/temp_dir.h"
#include "wal/wal.h"

namespace wal::testing {
namespace {

constexpr uint64_t kSegmentSize = 4096;

WalOptions options() {
  WalOptions o;
  o.segment_size = kSegmentSize;
  o.cache_bytes = 1 << 15;
  return o;
}

raft::Entry entry(uint64_t index, uint64_t term) {
  return derived_entry(index, term, /*allow_large=*/true, kSegmentSize);
}

// --- The operations and the model of the log they act on ---

enum class OpKind : uint32_t { kAppend, kTruncate, kCompact, kReset };

struct Op {
  OpKind kind = OpKind::kAppend;
  uint64_t index = 0;  // append: first index; truncate: from; compact, reset: index
  uint64_t term = 0;   // append, reset
  uint64_t count = 0;  // append: number of entries
};

std::string describe(const Op& op) {
  std::ostringstream os;
  switch (op.kind) {
    case OpKind::kAppend:
      os << "append " << op.index << "+" << op.count << " term " << op.term;
      break;
    case OpKind::kTruncate: os << "truncate from " << op.index; break;
    case OpKind::kCompact: os << "compact to " << op.index; break;
    case OpKind::kReset: os << "reset to " << op.index << " term " << op.term; break;
  }
  return os.str();
}

struct LogModel {
  uint64_t first = 1;
  std::vector<uint64_t> terms;  // terms[i]: the term of entry first + i
  uint64_t prev_term = 0;       // the term of entry first - 1, when known
  // Entries compacted away since the last reset: a reopen may still show them (whole segments
  // are removed only), and must show them as they were.
  std::map<uint64_t, uint64_t> compacted;
  // The last reset: a reopen that replays it knows the term of its index.
  std::optional<std::pair<uint64_t, uint64_t>> reset;

  uint64_t last() const { return first + terms.size() - 1; }

  // The term index `i` may be shown with after a reopen: live, or compacted.
  std::optional<uint64_t> term_at(uint64_t i) const {
    if (i >= first && i <= last()) return terms[i - first];
    auto it = compacted.find(i);
    if (it != compacted.end()) return it->second;
    return std::nullopt;
  }

  std::string describe() const {
    std::ostringstream os;
    os << "[" << first << ", " << last() << "]";
    if (!terms.empty()) os << " terms " << terms.front() << ".." << terms.back();
    if (!compacted.empty()) os << " compacted from " << compacted.begin()->first;
    return os.str();
  }
};

// The model after the first `k` entries of an append (k == 0: nothing changed).
LogModel after_append(const LogModel& m, const Op& op, uint64_t k) {
  LogModel out = m;
  if (k == 0) return out;
  out.terms.resize(op.index - m.first);
  out.terms.insert(out.terms.end(), k, op.term);
  return out;
}

LogModel after(const LogModel& m, const Op& op) {
  LogModel out = m;
  switch (op.kind) {
    case OpKind::kAppend: return after_append(m, op, op.count);
    case OpKind::kTruncate: out.terms.resize(op.index - m.first); return out;
    case OpKind::kCompact:
      for (uint64_t i = m.first; i <= op.index; ++i) out.compacted[i] = m.terms[i - m.first];
      if (op.index >= m.first) out.prev_term = m.terms[op.index - m.first];
      out.terms.erase(out.terms.begin(),
                      out.terms.begin() + static_cast<std::ptrdiff_t>(op.index + 1 - m.first));
      out.first = op.index + 1;
      return out;
    case OpKind::kReset:
      out.terms.clear();
      out.compacted.clear();
      out.first = op.index + 1;
      out.prev_term = op.term;
      out.reset = std::make_pair(op.index, op.term);
      return out;
  }
  return out;
}

// Every state a crash during `op` may leave, latest first.
std::vector<LogModel> possible_after_crash(const LogModel& m, const Op& op) {
  std::vector<LogModel> out;
  if (op.kind == OpKind::kAppend) {
    for (uint64_t k = op.count + 1; k-- > 0;) out.push_back(after_append(m, op, k));
  } else {
    out.push_back(after(m, op));
    out.push_back(m);
  }
  return out;
}

// Operations for one child, valid from `m` on; `term` is the highest term used so far.
std::vector<Op> generate_ops(LogModel m, uint64_t* term, std::mt19937_64& rng, bool append_only,
                             size_t n) {
  std::vector<Op> ops;
  while (ops.size() < n) {
    const uint64_t roll = append_only ? 0 : rng() % 100;
    Op op;
    if (roll < 62) {
      op = {OpKind::kAppend, m.last() + 1, *term, 1 + rng() % 8};
    } else if (roll < 74) {
      if (m.terms.empty()) continue;
      const uint64_t back = std::min<uint64_t>(m.terms.size() - 1, rng() % 6);
      op = {OpKind::kAppend, m.last() - back, ++*term, 1 + rng() % 6};
    } else if (roll < 84) {
      op = {OpKind::kTruncate, m.last() + 1 - std::min<uint64_t>(m.terms.size(), rng() % 5), 0, 0};
    } else if (roll < 96) {
      // Mostly close to the end, so that compaction often removes segments.
      const uint64_t keep = std::min<uint64_t>(m.terms.size(), rng() % 24);
      op = {OpKind::kCompact, m.last() - keep, 0, 0};
    } else {
      op = {OpKind::kReset, m.last() + rng() % 20, ++*term, 0};
    }
    m = after(m, op);
    ops.push_back(op);
  }
  return ops;
}

// --- The child ---

enum class ReportKind : uint32_t { kOpened, kBegin, kDone, kFinished, kError };

// One pipe write each: below PIPE_BUF, so it is atomic.
struct Report {
  ReportKind kind = ReportKind::kOpened;
  uint32_t op = 0;
  uint64_t first = 0;  // the child's first_index() and last_index() after the operation
  uint64_t last = 0;
  char message[232] = {};
};
static_assert(sizeof(Report) == 256);

void send(int fd, const Report& r) {
  const char* p = reinterpret_cast<const char*>(&r);
  size_t left = sizeof r;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(4);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

[[noreturn]] void child_fail(int fd, uint32_t op, const std::string& what, const Status& s) {
  Report r;
  r.kind = ReportKind::kError;
  r.op = op;
  const std::string text = what + ": " + describe_status(s);
  std::strncpy(r.message, text.c_str(), sizeof r.message - 1);
  send(fd, r);
  ::_exit(3);
}

Status run_op(Wal& wal, const Op& op) {
  switch (op.kind) {
    case OpKind::kAppend: {
      raft::EntryVec batch;
      for (uint64_t i = 0; i < op.count; ++i) batch.push_back(entry(op.index + i, op.term));
      if (Status s = wal.append(batch); !s.ok()) return s;
      return wal.sync();
    }
    case OpKind::kTruncate:
      if (Status s = wal.truncate(op.index); !s.ok()) return s;
      return wal.sync();
    case OpKind::kCompact: return wal.compact(op.index);
    case OpKind::kReset:
      if (Status s = wal.reset(op.index, op.term); !s.ok()) return s;
      return wal.sync();
  }
  return {};
}

// Runs in the forked child: never returns, never touches GoogleTest.
[[noreturn]] void child_main(const std::string& dir, const std::vector<Op>& ops, int fd) {
  {
    auto w = Wal::open(dir, options());
    if (!w.ok()) child_fail(fd, 0, "open", w.status());
    Wal& wal = *w.value();
    Report r;
    r.kind = ReportKind::kOpened;
    send(fd, r);
    for (uint32_t i = 0; i < ops.size(); ++i) {
      r.kind = ReportKind::kBegin;
      r.op = i;
      send(fd, r);
      if (Status s = run_op(wal, ops[i]); !s.ok()) child_fail(fd, i, describe(ops[i]), s);
      r.kind = ReportKind::kDone;
      r.first = wal.first_index();
      r.last = wal.last_index();
      send(fd, r);
    }
    r.kind = ReportKind::kFinished;
    send(fd, r);
  }
  ::_exit(0);
}

// --- The parent's side of the process ---

// A file descriptor closed at the end of its scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// A child process that is killed and reaped at the end of its scope if it was not reaped before,
// so a failed assertion never leaves one running.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void kill() { ::kill(pid_, SIGKILL); }
  // waitpid; returns the wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// Reads one report; false at the end of the stream. A child that says nothing for a minute is
// hung, which fails the test rather than hanging it.
bool receive(int fd, Report* r) {
  char* p = reinterpret_cast<char*>(r);
  size_t got = 0;
  while (got < sizeof *r) {
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 60'000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) throw std::runtime_error("the child sent nothing for 60 s");
    const ssize_t n = ::read(fd, p + got, sizeof *r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("read: ") + std::strerror(errno));
    if (n == 0) {
      if (got != 0) throw std::runtime_error("a report cut short");
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

// What happened to one child.
struct Life {
  int done = -1;  // the last operation reported done
  bool opened = false;
  bool finished = false;
  std::string error;
  std::vector<Report> done_reports;
};

// The segment files of `dir` (not the ones being made).
std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  auto names = posix_file_system().list(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".wal") == 0) out.push_back(n);
  }
  return out;
}

bool readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

// When to kill a child: after `after_reports` reports (never when negative; before reading any
// when zero); with `on_segment_change`, not at once but as soon as a segment file appears or
// disappears (a roll published, a compaction under way) or the child sends its next report —
// which lands kills between the writes of an append that spans segments, and between the
// removals of a compaction.
struct KillPlan {
  int after_reports = -1;
  bool on_segment_change = false;
};

// Kills when the set of segment files changes or the child reports (or dies). Polling, not
// sleeping: it waits on what the child does, and gives up after many rounds, then kills anyway.
void kill_on_segment_change(Child& child, const std::string& dir, int fd) {
  const std::vector<std::string> before = segment_files(dir);
  for (int round = 0; round < 1'000'000; ++round) {
    if (readable(fd) || segment_files(dir) != before) break;
  }
  child.kill();
}

// Runs `ops` in a child and kills it as `plan` says. Reads every report the child managed to
// send.
Life run_child(const std::string& dir, const std::vector<Op>& ops, const KillPlan& plan) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    child_main(dir, ops, fds[1]);
  }
  Child child(pid);
  write_end.reset();  // so the stream ends when the child dies

  Life life;
  int reports = 0;
  bool killed = false;
  Report r;
  for (;;) {
    if (!killed && plan.after_reports >= 0 && reports >= plan.after_reports) {
      if (plan.on_segment_change)
        kill_on_segment_change(child, dir, read_end.get());
      else
        child.kill();
      killed = true;
    }
    if (!receive(read_end.get(), &r)) break;
    ++reports;
    switch (r.kind) {
      case ReportKind::kOpened: life.opened = true; break;
      case ReportKind::kBegin: break;
      case ReportKind::kDone:
        life.done = static_cast<int>(r.op);
        life.done_reports.push_back(r);
        break;
      case ReportKind::kFinished: life.finished = true; break;
      case ReportKind::kError: life.error = r.message; break;
    }
  }
  const int status = child.wait();
  if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && life.error.empty()) {
    life.error = "child ended with status " + std::to_string(status);
  }
  return life;
}

// --- Checking a reopened log against the model ---

struct Shown {
  uint64_t first = 0;
  uint64_t last = 0;
  raft::EntryVec entries;
  std::optional<uint64_t> term_before;  // term(first - 1)
};

// Whether the reopened log is what `m` allows: the same last index, a start at or below m's, and
// every entry shown the derived one of the term the model has for its index. "" when it is.
std::string mismatch(const Shown& got, const LogModel& m) {
  std::ostringstream why;
  if (got.last != m.last()) {
    why << "last index " << got.last << " vs " << m.last();
    return why.str();
  }
  if (got.first > m.first) {
    why << "first index " << got.first << " above " << m.first;
    return why.str();
  }
  for (const raft::Entry& e : got.entries) {
    const auto term = m.term_at(e.index());
    if (!term) {
      why << "index " << e.index() << " should not be there";
      return why.str();
    }
    if (!same_entry(e, entry(e.index(), *term))) {
      why << "entry " << describe_entry(e) << " vs term " << *term;
      return why.str();
    }
  }
  if (!got.term_before) return "term(first - 1) failed";
  if (*got.term_before != 0) {
    // 0 means "not known"; anything else must be a term that index really had.
    const uint64_t before = got.first - 1;
    const uint64_t t = *got.term_before;
    const bool known = (before + 1 == m.first && m.prev_term == t) || m.term_at(before) == t ||
                       m.reset == std::make_pair(before, t);
    if (!known) {
      why << "term(" << before << ") = " << *got.term_before;
      return why.str();
    }
  }
  return "";
}

// The segment files of `dir` as tests/wal/support/segment_format.h reads them, one per line.
std::string describe_segments(const std::string& dir) {
  std::ostringstream os;
  for (const Segment& s : parse_wal_dir(dir)) {
    os << "\n  " << s.name << ": chain " << s.header.chain << ", " << s.records.size()
       << " records";
    if (!s.records.empty()) {
      os << " (first: type " << static_cast<int>(s.records.front().type) << " index "
         << s.records.front().index << "; last: type " << static_cast<int>(s.records.back().type)
         << " index " << s.records.back().index << ", crc " << s.records.back().payload_crc << ")";
    }
    os << ", data ends at " << s.data_end;
    if (!s.error.empty()) os << ", " << s.error;
  }
  return os.str();
}

// Counts of what the kills produced, printed at the end.
struct Tally {
  int lives = 0;
  int killed_before_open = 0;
  int in_flight_lost = 0;     // the op in flight left no trace
  int in_flight_partial = 0;  // part of an append survived
  int in_flight_whole = 0;    // it completed, unreported
  int finished = 0;
  int below_first = 0;  // the reopened log started below the model's first index (compaction)
  int torn_tails = 0;
  int tmp_removed = 0;
  uint64_t max_segments = 0;
};

// Runs `lives` children one after another on one WAL directory, each killed at a seeded moment,
// checking the reopened log after each.
void crash_chain(uint64_t seed, int lives, bool append_only, Tally* tally) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << (append_only ? " (appends only)" : ""));
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  LogModel model;
  uint64_t term = 1;
  for (int life_no = 0; life_no < lives; ++life_no) {
    const std::vector<Op> ops = generate_ops(model, &term, rng, append_only, 1 + rng() % 24);
    const uint64_t pick = rng() % 100;
    // Reports: one "opened", then a "begin" and a "done" per operation, then "finished".
    const int total = 2 + 2 * static_cast<int>(ops.size());
    KillPlan plan;
    if (pick < 6) {
      plan.after_reports = 0;
    } else if (pick < 60) {
      plan.after_reports = 1 + static_cast<int>(rng() % total);
    } else if (pick < 92) {
      // Right after a "begin": the (2i + 2)th report.
      plan.after_reports = 2 + 2 * static_cast<int>(rng() % ops.size());
      plan.on_segment_change = true;
    }
    SCOPED_TRACE(::testing::Message() << "life " << life_no << ", " << ops.size()
                                      << " ops, kill after " << plan.after_reports << " reports"
                                      << (plan.on_segment_change ? " and a segment change" : ""));

    const Life life = run_child(dir, ops, plan);
    ASSERT_EQ(life.error, "") << "the child failed";
    ++tally->lives;
    tally->killed_before_open += life.opened ? 0 : 1;
    tally->finished += life.finished ? 1 : 0;

    // The model after every reported operation; the child saw the same last index.
    LogModel durable = model;
    for (int i = 0; i <= life.done; ++i) {
      durable = after(durable, ops[i]);
      const Report& r = life.done_reports[static_cast<size_t>(i)];
      ASSERT_EQ(r.last, durable.last()) << "after " << describe(ops[i]);
      ASSERT_LE(r.first, durable.first) << "after " << describe(ops[i]);
    }
    std::vector<LogModel> candidates = {durable};
    const bool in_flight = life.done + 1 < static_cast<int>(ops.size());
    if (in_flight)
      candidates = possible_after_crash(durable, ops[static_cast<size_t>(life.done + 1)]);

    WalOpenInfo info;
    auto w = Wal::open(dir, options(), &info);
    ASSERT_TRUE(w.ok()) << "reopen: " << describe_status(w.status());
    Wal& wal = *w.value();
    tally->torn_tails += info.torn_bytes > 0 ? 1 : 0;
    tally->tmp_removed += static_cast<int>(info.tmp_files_removed);
    tally->max_segments = std::max(tally->max_segments, info.segments);
    Shown got;
    got.first = wal.first_index();
    got.last = wal.last_index();
    got.entries = read_all(wal);
    const auto before = wal.term(got.first - 1);
    if (before.ok()) got.term_before = *before;

    std::string why_not;
    std::optional<size_t> match;
    for (size_t c = 0; c < candidates.size() && !match; ++c) {
      const std::string why = mismatch(got, candidates[c]);
      if (why.empty())
        match = c;
      else
        why_not += "\n  " + candidates[c].describe() + ": " + why;
    }
    ASSERT_TRUE(match.has_value())
        << "reopened log [" << got.first << ", " << got.last << "] after " << (life.done + 1)
        << " reported ops"
        << (in_flight ? ", in flight: " + describe(ops[static_cast<size_t>(life.done + 1)]) : "")
        << "; no possible state matches:" << why_not << "\nsegments:" << describe_segments(dir);
    if (in_flight) {
      if (*match + 1 == candidates.size())
        ++tally->in_flight_lost;
      else if (*match == 0)
        ++tally->in_flight_whole;
      else
        ++tally->in_flight_partial;
    }
    model = candidates[*match];
    tally->below_first += got.first < model.first ? 1 : 0;
  }
  // A last clean reopen: nothing to cut, the same log.
  WalOpenInfo info;
  auto w = Wal::open(dir, options(), &info);
  ASSERT_TRUE(w.ok()) << describe_status(w.status());
  EXPECT_EQ(info.torn_bytes, 0u);
  EXPECT_EQ(w.value()->last_index(), model.last());
}

uint64_t base_seed() {
  const char* env = std::getenv("WAL_CRASH_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 7'000'001;
}

void print(const char* name, const Tally& t) {
  std::cout << "[ tally    ] " << name << ": " << t.lives << " kills/exits; before open "
            << t.killed_before_open << ", op in flight lost " << t.in_flight_lost << ", partial "
            << t.in_flight_partial << ", whole " << t.in_flight_whole << "; ran to the end "
            << t.finished << "; log shown from below the compaction point " << t.below_first
            << "; torn tails cut " << t.torn_tails << ", tmp files removed " << t.tmp_removed
            << ", most segments " << t.max_segments << "\n";
}

TEST(WalCrash, KilledWhileAppendingAndSyncing) {
  Tally tally;
  const uint64_t seed = base_seed();
  for (uint64_t chain = 0; chain < 4; ++chain) {
    crash_chain(seed + chain, 25, /*append_only=*/true, &tally);
    if (HasFailure()) break;
  }
  print("appends", tally);
}

TEST(WalCrash, KilledWhileOverwritingTruncatingCompactingAndResetting) {
  Tally tally;
  const uint64_t seed = base_seed() + 1000;
  for (uint64_t chain = 0; chain < 8; ++chain) {
    crash_chain(seed + chain, 25, /*append_only=*/false, &tally);
    if (HasFailure()) break;
  }
  print("mixed", tally);
}

}  // namespace
}  // namespace wal::testing
