#include "snapshot/snapshot_format.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "raft/little_endian.h"
#include "snapshot/file_io.h"
#include "snapshot/snapshot_store.h"

namespace snapshot::format {
namespace {

constexpr std::string_view kSuffix = ".snap";
constexpr size_t kHexDigits = 16;
constexpr size_t kNameBytes = 2 * kHexDigits + 1 + kSuffix.size();

std::optional<uint64_t> parse_hex(std::string_view s) {
  if (s.size() != kHexDigits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace

std::string file_name(uint64_t index, uint64_t term) {
  char buf[kNameBytes + 1];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "-%016" PRIx64 ".snap", index, term);
  return buf;
}

std::optional<NameId> parse_name(std::string_view name) {
  if (name.size() != kNameBytes || name[kHexDigits] != '-' ||
      name.substr(2 * kHexDigits + 1) != kSuffix) {
    return std::nullopt;
  }
  const auto index = parse_hex(name.substr(0, kHexDigits));
  const auto term = parse_hex(name.substr(kHexDigits + 1, kHexDigits));
  if (!index || !term || *index == 0) return std::nullopt;
  return NameId{*index, *term};
}

bool is_temp_name(std::string_view name) {
  if (name.size() <= kTempSuffix.size() ||
      name.substr(name.size() - kTempSuffix.size()) != kTempSuffix) {
    return false;
  }
  return parse_name(name.substr(0, name.size() - kTempSuffix.size())).has_value();
}

std::string encode_header(const raft::SnapshotMetadata& metadata) {
  std::string meta;
  if (!metadata.SerializeToString(&meta))
    throw SnapshotError("snapshot: metadata does not serialize");
  if (meta.size() > kMaxMetadataBytes) {
    throw SnapshotError("snapshot: metadata of " + std::to_string(meta.size()) +
                        " bytes exceeds the limit of " + std::to_string(kMaxMetadataBytes));
  }
  std::string out;
  out.reserve(kFixedHeaderBytes + meta.size());
  out.append(kMagic);
  raft::le::append<uint32_t>(out, kVersion);
  raft::le::append<uint32_t>(out, static_cast<uint32_t>(meta.size()));
  out += meta;
  return out;
}

bool magic_prefix_ok(const char* p, size_t n) {
  return std::memcmp(p, kMagic.data(), std::min(n, kMagic.size())) == 0;
}

uint32_t check_fixed_header(const char* p, const std::string& path) {
  if (!magic_prefix_ok(p, kMagic.size())) io::damaged(path, "bad magic (not a snapshot file)");
  const uint32_t version = raft::le::get_u32(p + 8);
  if (version != kVersion) {
    io::damaged(path, "unsupported format version " + std::to_string(version) + " (expected " +
                          std::to_string(kVersion) + ")");
  }
  const uint32_t len = raft::le::get_u32(p + 12);
  if (len > kMaxMetadataBytes) {
    io::damaged(path, "metadata length " + std::to_string(len) + " exceeds the limit of " +
                          std::to_string(kMaxMetadataBytes));
  }
  return len;
}

raft::SnapshotMetadata parse_metadata(const char* p, size_t n, const std::string& path) {
  raft::SnapshotMetadata m;
  if (!m.ParseFromArray(p, static_cast<int>(n))) io::damaged(path, "metadata does not parse");
  return m;
}

std::string encode_trailer(const Trailer& t) {
  std::string out;
  out.reserve(kTrailerBytes);
  raft::le::append<uint64_t>(out, t.body_bytes);
  raft::le::append<uint32_t>(out, t.crc);
  out.append(kTrailerMagic);
  return out;
}

Trailer parse_trailer(const char* p, const std::string& path) {
  if (std::memcmp(p + 12, kTrailerMagic.data(), kTrailerMagic.size()) != 0) {
    io::damaged(path, "bad trailer magic (the file is cut short or overwritten)");
  }
  return Trailer{raft::le::get_u64(p), raft::le::get_u32(p + 8)};
}

bool same_metadata(const raft::SnapshotMetadata& a, const raft::SnapshotMetadata& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

std::string describe(const raft::SnapshotMetadata& m) {
  return "index " + std::to_string(m.index()) + " term " + std::to_string(m.term()) + " (" +
         raft::describe(m.conf_state()) + ")";
}

}  // namespace snapshot::format
