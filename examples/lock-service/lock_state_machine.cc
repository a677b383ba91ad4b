#include "examples/lock-service/lock_state_machine.h"

#include <iterator>
#include <stdexcept>
#include <utility>

namespace lock_service {
namespace {

constexpr std::string_view kHeader = "lock-service snapshot 1";

// An immutable copy of the table, serialized on the snapshot thread.
class LockTableSnapshot final : public framework::StateSnapshot {
 public:
  explicit LockTableSnapshot(LockTable locks) : locks_(std::move(locks)) {}
  void write(std::ostream& out) override { write_locks(out, locks_); }

 private:
  const LockTable locks_;
};

[[noreturn]] void bad_snapshot(const std::string& why) {
  throw std::runtime_error("bad lock-service snapshot: " + why);
}

// The next '\n'-terminated line of `text` from `pos`; a line without its '\n' is truncated input.
std::string_view next_line(std::string_view text, size_t& pos, const char* what) {
  const size_t nl = text.find('\n', pos);
  if (nl == std::string_view::npos) bad_snapshot(std::string("missing or truncated ") + what);
  std::string_view line = text.substr(pos, nl - pos);
  pos = nl + 1;
  return line;
}

}  // namespace

void write_locks(std::ostream& out, const LockTable& locks) {
  out << kHeader << '\n' << locks.size() << '\n';
  for (const auto& [name, h] : locks) out << name << ' ' << h.owner << ' ' << h.token << '\n';
  if (!out) throw std::runtime_error("cannot write the lock table");
}

LockTable read_locks(std::istream& in) {
  // The table is small: reading it whole keeps the parser a plain loop over lines.
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) bad_snapshot("read failed");
  size_t pos = 0;
  if (next_line(text, pos, "header") != kHeader) bad_snapshot("wrong header");
  const std::string_view count_line = next_line(text, pos, "count");
  uint64_t count = 0;
  if (count_line != "0") {
    std::optional<uint64_t> n = parse_token(count_line);
    if (!n) bad_snapshot("bad count");
    count = *n;
  }
  LockTable locks;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string_view line = next_line(text, pos, "lock line");
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) bad_snapshot("lock line " + std::to_string(i) + ": fields");
    const std::string_view name = line.substr(0, a);
    const std::string_view owner = line.substr(a + 1, b - a - 1);
    const std::optional<uint64_t> token = parse_token(line.substr(b + 1));
    if (!valid_name(name) || !valid_name(owner) || !token) {
      bad_snapshot("lock line " + std::to_string(i) + ": bad name, owner or token");
    }
    // Ascending order (as write_locks produces) also rules out duplicates.
    if (!locks.empty() && std::prev(locks.end())->first >= name) {
      bad_snapshot("lock line " + std::to_string(i) + ": names out of order");
    }
    locks.emplace_hint(locks.end(), std::string(name), LockHolder{std::string(owner), *token});
  }
  if (pos != text.size()) bad_snapshot("bytes after the last lock");
  return locks;
}

std::vector<std::string> LockStateMachine::apply(std::span<const framework::Command> commands) {
  std::lock_guard lock(mu_);
  std::vector<std::string> results;
  results.reserve(commands.size());
  for (const framework::Command& c : commands) {
    results.push_back(encode_result(execute(c.index, c.data)));
  }
  return results;
}

LockResult LockStateMachine::execute(uint64_t index, std::string_view bytes) {
  using O = LockResult::Outcome;
  LockResult r;
  std::string why;
  std::optional<LockCommand> c = decode_command(bytes, &why);
  if (!c) {
    r.outcome = O::kInvalid;
    r.reason = why;
    return r;
  }
  auto it = locks_.find(c->name);
  if (c->op == LockCommand::Op::kAcquire) {
    if (it == locks_.end()) {
      locks_.emplace(std::move(c->name), LockHolder{std::move(c->owner), index});
      r.outcome = O::kAcquired;
      r.token = index;
    } else if (it->second.owner == c->owner) {
      // The same tenure: its token, not a new one.
      r.outcome = O::kAcquired;
      r.token = it->second.token;
    } else {
      r.outcome = O::kHeld;
      r.holder = it->second.owner;
    }
    return r;
  }
  if (it == locks_.end()) {
    r.outcome = O::kNotHeld;
  } else if (it->second.owner != c->owner) {
    r.outcome = O::kNotHolder;
    r.holder = it->second.owner;
  } else {
    locks_.erase(it);
    r.outcome = O::kReleased;
  }
  return r;
}

std::unique_ptr<framework::StateSnapshot> LockStateMachine::snapshot() {
  std::lock_guard lock(mu_);
  return std::make_unique<LockTableSnapshot>(locks_);
}

void LockStateMachine::restore(std::istream& in) {
  LockTable locks = read_locks(in);  // throws on bad input, before anything changes
  std::lock_guard lock(mu_);
  locks_ = std::move(locks);
}

std::optional<LockHolder> LockStateMachine::holder(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = locks_.find(name);
  if (it == locks_.end()) return std::nullopt;
  return it->second;
}

LockTable LockStateMachine::locks() const {
  std::lock_guard lock(mu_);
  return locks_;
}

}  // namespace lock_service
