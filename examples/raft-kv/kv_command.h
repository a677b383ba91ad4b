// The commands raft-kv replicates and the results its state machine returns for them, as bytes.
//
// A command is what HTTP handlers propose and every replica applies; its encoding is part of the
// log, so it must stay readable by later versions: one version byte, then the fields.
//
//   command: u8 version (1) | u8 op | u32 key length | key | u32 value length | value
//            | u32 expected length | expected            (expected only for kPutIf)
//   result:  u8 outcome | u8 present | u32 length | current value
//
// Integers are little-endian. decode_* never throw: a malformed input yields nullopt. The state
// machine answers a command it cannot decode with Outcome::kMalformed instead of throwing,
// because every replica must reach the same outcome for every entry in the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raftkv {

enum class Op : uint8_t {
  kPut = 1,     // set key to value
  kPutIf = 2,   // set key to value if its current value is `expected` (compare-and-swap)
  kDelete = 3,  // remove key (absent is not an error)
};

struct KvCommand {
  Op op = Op::kPut;
  std::string key;
  std::string value;     // kPut, kPutIf
  std::string expected;  // kPutIf
};

std::string encode_command(const KvCommand& command);
std::optional<KvCommand> decode_command(std::string_view bytes);

enum class Outcome : uint8_t {
  kOk = 0,         // applied
  kConflict = 1,   // kPutIf: the current value was not `expected`; nothing changed
  kMalformed = 2,  // the entry was not a command of this version; nothing changed
};

struct KvResult {
  Outcome outcome = Outcome::kOk;
  // For kConflict: whether the key existed, and its value then. For kDelete: whether it existed
  // before the delete.
  bool present = false;
  std::string current;
};

std::string encode_result(const KvResult& result);
std::optional<KvResult> decode_result(std::string_view bytes);

}  // namespace raftkv
