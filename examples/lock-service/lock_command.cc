#include "examples/lock-service/lock_command.h"

#include <charconv>
#include <vector>

namespace lock_service {
namespace {

// Splits at single spaces; an empty field (two spaces, a leading or trailing one) stays empty,
// so that valid_name() rejects it.
std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t sp = s.find(' ');
    out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) return out;
    s.remove_prefix(sp + 1);
  }
}

}  // namespace

bool valid_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

std::optional<uint64_t> parse_token(std::string_view s) noexcept {
  if (s.empty() || s.front() == '0') return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string encode_command(const LockCommand& command) {
  const char* op = command.op == LockCommand::Op::kAcquire ? "acquire " : "release ";
  return op + command.name + ' ' + command.owner;
}

std::optional<LockCommand> decode_command(std::string_view bytes, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<LockCommand> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const std::vector<std::string_view> f = fields(bytes);
  if (f.size() != 3) return fail("expected: acquire|release <name> <owner>");
  LockCommand c;
  if (f[0] == "acquire") {
    c.op = LockCommand::Op::kAcquire;
  } else if (f[0] == "release") {
    c.op = LockCommand::Op::kRelease;
  } else {
    return fail("unknown operation");
  }
  if (!valid_name(f[1])) return fail("bad lock name");
  if (!valid_name(f[2])) return fail("bad owner");
  c.name = f[1];
  c.owner = f[2];
  return c;
}

std::string encode_result(const LockResult& r) {
  using O = LockResult::Outcome;
  switch (r.outcome) {
    case O::kAcquired: return "acquired " + std::to_string(r.token);
    case O::kHeld: return "held " + r.holder;
    case O::kReleased: return "released";
    case O::kNotHolder: return "not-holder " + r.holder;
    case O::kNotHeld: return "not-held";
    case O::kInvalid: break;
  }
  return "invalid " + r.reason;
}

std::optional<LockResult> decode_result(std::string_view bytes) {
  using O = LockResult::Outcome;
  const size_t sp = bytes.find(' ');
  const std::string_view word = bytes.substr(0, sp);
  const std::string_view rest =
      sp == std::string_view::npos ? std::string_view{} : bytes.substr(sp + 1);
  const bool has_rest = sp != std::string_view::npos;
  LockResult r;
  if (word == "acquired" && has_rest) {
    std::optional<uint64_t> token = parse_token(rest);
    if (!token) return std::nullopt;
    r.outcome = O::kAcquired;
    r.token = *token;
  } else if ((word == "held" || word == "not-holder") && has_rest && valid_name(rest)) {
    r.outcome = word == "held" ? O::kHeld : O::kNotHolder;
    r.holder = rest;
  } else if (word == "released" && !has_rest) {
    r.outcome = O::kReleased;
  } else if (word == "not-held" && !has_rest) {
    r.outcome = O::kNotHeld;
  } else if (word == "invalid" && has_rest) {
    r.outcome = O::kInvalid;
    r.reason = rest;
  } else {
    return std::nullopt;
  }
  return r;
}

}  // namespace lock_service
