#include "framework/command_codec.h"

#include "raft/little_endian.h"

namespace framework {
namespace {

constexpr uint8_t kCommandKind = 1;
constexpr uint8_t kConfKind = 2;

void put_tag(std::string& out, RequestTag tag) {
  raft::le::append<uint64_t>(out, tag.origin);
  raft::le::append<uint64_t>(out, tag.request);
}

// Reads fixed-size fields from a byte string, failing (instead of reading past the end) when
// the input is short.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(uint8_t& v) { return take(1, [&](const char* p) { v = static_cast<uint8_t>(*p); }); }
  bool u16(uint16_t& v) { return take(2, [&](const char* p) { v = raft::le::get_u16(p); }); }
  bool u32(uint32_t& v) { return take(4, [&](const char* p) { v = raft::le::get_u32(p); }); }
  bool u64(uint64_t& v) { return take(8, [&](const char* p) { v = raft::le::get_u64(p); }); }
  bool bytes(size_t n, std::string_view& v) {
    return take(n, [&](const char* p) { v = std::string_view(p, n); });
  }
  std::string_view rest() const { return data_.substr(pos_); }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  template <typename F>
  bool take(size_t n, F f) {
    if (data_.size() - pos_ < n) return false;
    f(data_.data() + pos_);
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_command(RequestTag tag, std::string_view command) {
  std::string out;
  out.reserve(kCommandHeaderBytes + command.size());
  out.push_back(static_cast<char>(kCommandKind));
  put_tag(out, tag);
  out.append(command);
  return out;
}

std::optional<DecodedCommand> decode_command(std::string_view data) {
  Reader r(data);
  uint8_t kind = 0;
  DecodedCommand c;
  if (!r.u8(kind) || kind != kCommandKind || !r.u64(c.tag.origin) || !r.u64(c.tag.request)) {
    return std::nullopt;
  }
  c.command = r.rest();
  return c;
}

std::string encode_conf_context(const ConfContext& context) {
  std::string out;
  out.push_back(static_cast<char>(kConfKind));
  put_tag(out, context.tag);
  raft::le::append<uint32_t>(out, static_cast<uint32_t>(context.addresses.size()));
  for (const auto& [id, address] : context.addresses) {
    raft::le::append<uint64_t>(out, id);
    raft::le::append<uint16_t>(out, address.port);
    raft::le::append<uint16_t>(out, static_cast<uint16_t>(address.host.size()));
    out.append(address.host);
  }
  return out;
}

std::optional<ConfContext> decode_conf_context(std::string_view data) {
  Reader r(data);
  uint8_t kind = 0;
  uint32_t count = 0;
  ConfContext c;
  if (!r.u8(kind) || kind != kConfKind || !r.u64(c.tag.origin) || !r.u64(c.tag.request) ||
      !r.u32(count)) {
    return std::nullopt;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t id = 0;
    uint16_t port = 0;
    uint16_t host_len = 0;
    std::string_view host;
    if (!r.u64(id) || !r.u16(port) || !r.u16(host_len) || !r.bytes(host_len, host)) {
      return std::nullopt;
    }
    c.addresses[id] = net::PeerAddress{std::string(host), port};
  }
  if (!r.at_end()) return std::nullopt;
  return c;
}

std::string encode_read_context(RequestTag tag) {
  std::string out;
  put_tag(out, tag);
  return out;
}

std::optional<RequestTag> decode_read_context(std::string_view data) {
  if (data.size() != 16) return std::nullopt;
  return RequestTag{raft::le::get_u64(data.data()), raft::le::get_u64(data.data() + 8)};
}

}  // namespace framework
