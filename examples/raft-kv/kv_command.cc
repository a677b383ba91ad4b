#include "kv_command.h"

#include "raft/little_endian.h"

namespace raftkv {
namespace {

constexpr uint8_t kVersion = 1;

void append_bytes(std::string& out, std::string_view bytes) {
  raft::le::append(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads fields front to back; every read checks what remains, so a truncated or lying length
// fails instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool u8(uint8_t& v) {
    if (rest_.empty()) return false;
    v = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return true;
  }

  bool bytes(std::string& v) {
    if (rest_.size() < 4) return false;
    const uint32_t length = raft::le::get_u32(rest_.data());
    rest_.remove_prefix(4);
    if (rest_.size() < length) return false;
    v.assign(rest_.substr(0, length));
    rest_.remove_prefix(length);
    return true;
  }

  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::string encode_command(const KvCommand& command) {
  std::string out;
  out.reserve(2 + 4 + command.key.size() + 4 + command.value.size() +
              (command.op == Op::kPutIf ? 4 + command.expected.size() : 0));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(command.op));
  append_bytes(out, command.key);
  append_bytes(out, command.value);
  if (command.op == Op::kPutIf) append_bytes(out, command.expected);
  return out;
}

std::optional<KvCommand> decode_command(std::string_view bytes) {
  Reader in(bytes);
  uint8_t version = 0;
  uint8_t op = 0;
  if (!in.u8(version) || version != kVersion || !in.u8(op)) return std::nullopt;
  if (op != static_cast<uint8_t>(Op::kPut) && op != static_cast<uint8_t>(Op::kPutIf) &&
      op != static_cast<uint8_t>(Op::kDelete)) {
    return std::nullopt;
  }
  KvCommand command;
  command.op = static_cast<Op>(op);
  if (!in.bytes(command.key) || !in.bytes(command.value)) return std::nullopt;
  if (command.op == Op::kPutIf && !in.bytes(command.expected)) return std::nullopt;
  // Trailing bytes mean a different layout than this version's: refuse rather than guess.
  if (!in.done()) return std::nullopt;
  return command;
}

std::string encode_result(const KvResult& result) {
  std::string out;
  out.reserve(2 + 4 + result.current.size());
  out.push_back(static_cast<char>(result.outcome));
  out.push_back(result.present ? 1 : 0);
  append_bytes(out, result.current);
  return out;
}

std::optional<KvResult> decode_result(std::string_view bytes) {
  Reader in(bytes);
  uint8_t outcome = 0;
  uint8_t present = 0;
  if (!in.u8(outcome) || outcome > static_cast<uint8_t>(Outcome::kMalformed)) return std::nullopt;
  if (!in.u8(present) || present > 1) return std::nullopt;
  KvResult result;
  result.outcome = static_cast<Outcome>(outcome);
  result.present = present == 1;
  if (!in.bytes(result.current) || !in.done()) return std::nullopt;
  return result;
}

}  // namespace raftkv
