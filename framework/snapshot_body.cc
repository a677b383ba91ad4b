#include "framework/snapshot_body.h"

#include <stdexcept>
#include <string>

#include "framework/command_codec.h"
#include "raft/little_endian.h"

namespace framework {

namespace {
// A section is a few addresses; anything larger is damage, not data.
constexpr uint32_t kMaxSectionBytes = 16u << 20;
}  // namespace

void write_snapshot_body(std::ostream& out, const AddressMap& addresses, StateSnapshot& view) {
  ConfContext section;
  section.addresses = addresses;
  const std::string bytes = encode_conf_context(section);
  std::string header;
  raft::le::append<uint32_t>(header, static_cast<uint32_t>(bytes.size()));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  view.write(out);
  out.flush();
  if (!out) throw std::runtime_error("writing the snapshot body failed");
}

AddressMap read_snapshot_section(std::istream& in) {
  char header[4];
  if (!in.read(header, sizeof header)) throw std::runtime_error("snapshot body too short");
  const uint32_t n = raft::le::get_u32(header);
  if (n > kMaxSectionBytes) throw std::runtime_error("snapshot body: bad section length");
  std::string bytes(n, '\0');
  if (!in.read(bytes.data(), n)) throw std::runtime_error("snapshot body: section cut short");
  std::optional<ConfContext> section = decode_conf_context(bytes);
  if (!section) throw std::runtime_error("snapshot body: malformed section");
  return std::move(section->addresses);
}

}  // namespace framework
