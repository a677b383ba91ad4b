// The lock service's commands and their results, as the bytes that go through the Raft log and
// come back from LockStateMachine::apply.
//
// A command is one line of text:
//
//     acquire <name> <owner>
//     release <name> <owner>
//
// A result is one line too:
//
//     acquired <token>          the owner holds the lock; <token> is its fencing token
//     held <holder>             someone else holds it
//     released                  the owner released it
//     not-holder <holder>       a release by someone who does not hold it
//     not-held                  a release of a lock that nobody holds
//     invalid <reason>          the command does not parse; nothing changed
//
// Text keeps the log readable in a debugger and the example short; names and owners are
// restricted (see valid_name) so that a space can separate fields without any escaping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lock_service {

// The longest lock name or owner accepted.
inline constexpr size_t kMaxNameBytes = 256;

// Whether `s` can be a lock name or an owner: 1 to kMaxNameBytes printable ASCII characters,
// no spaces.
bool valid_name(std::string_view s) noexcept;

// A fencing token written in decimal: digits only, no sign or leading zero, above 0 and within
// uint64_t; nullopt otherwise.
std::optional<uint64_t> parse_token(std::string_view s) noexcept;

struct LockCommand {
  enum class Op { kAcquire, kRelease };
  Op op = Op::kAcquire;
  std::string name;
  std::string owner;
};

// The bytes to propose. The caller checks valid_name() first (an invalid name yields a command
// that apply() answers with "invalid").
std::string encode_command(const LockCommand& command);
// The command, or nullopt with `why` set when the bytes are not a valid command.
std::optional<LockCommand> decode_command(std::string_view bytes, std::string* why = nullptr);

struct LockResult {
  enum class Outcome { kAcquired, kHeld, kReleased, kNotHolder, kNotHeld, kInvalid };
  Outcome outcome = Outcome::kInvalid;
  uint64_t token = 0;    // kAcquired
  std::string holder;    // kHeld, kNotHolder: who holds the lock
  std::string reason;    // kInvalid

  bool operator==(const LockResult&) const = default;
};

std::string encode_result(const LockResult& result);
// The result, or nullopt when the bytes are not one encode_result() wrote.
std::optional<LockResult> decode_result(std::string_view bytes);

}  // namespace lock_service
