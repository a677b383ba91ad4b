#include "tests/wal/support/segment_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "raft/crc32c.h"
#include "tests/wal/support/temp_dir.h"
#include "wal/file.h"

namespace wal::testing {
namespace {

uint32_t get32(std::string_view b, uint64_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

uint64_t get64(std::string_view b, uint64_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

void put32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool all_zero(std::string_view b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
}

// Decodes a record's payload into its fields; false when it does not fit its type.
bool decode_payload(Record* r) {
  const std::string_view p = r->payload;
  switch (r->type) {
    case RecordType::kEntry: {
      if (p.size() < 21) return false;
      const uint32_t ctx_len = get32(p, 17);
      if (p.size() < 21ull + ctx_len) return false;
      r->index = get64(p, 0);
      r->term = get64(p, 8);
      r->entry.set_index(r->index);
      r->entry.set_term(r->term);
      r->entry.set_entry_type(static_cast<raft::EntryType>(static_cast<uint8_t>(p[16])));
      r->entry.set_context(std::string(p.substr(21, ctx_len)));
      r->entry.set_data(std::string(p.substr(21 + ctx_len)));
      return true;
    }
    case RecordType::kTruncate:
      if (p.size() != 8) return false;
      r->index = get64(p, 0);
      return true;
    case RecordType::kReset:
      if (p.size() != 16) return false;
      r->index = get64(p, 0);
      r->term = get64(p, 8);
      return true;
  }
  return false;
}

std::string at(uint64_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

std::string segment_name(uint64_t sequence, uint64_t first_index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx-%016llx.wal", static_cast<unsigned long long>(sequence),
                static_cast<unsigned long long>(first_index));
  return buf;
}

std::optional<std::pair<uint64_t, uint64_t>> parse_segment_name(std::string_view name) {
  if (name.size() != 37 || name[16] != '-' || name.substr(33) != ".wal") return std::nullopt;
  auto hex = [](std::string_view s, uint64_t* out) {
    *out = 0;
    for (char c : s) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else return false;
      *out = (*out << 4) | static_cast<uint64_t>(d);
    }
    return true;
  };
  uint64_t seq, first;
  if (!hex(name.substr(0, 16), &seq) || !hex(name.substr(17, 16), &first)) return std::nullopt;
  return std::make_pair(seq, first);
}

Segment parse_segment(std::string_view b) {
  Segment s;
  s.file_size = b.size();
  if (b.size() < kSegmentHeaderSize) {
    s.error = "segment header cut short";
    return s;
  }
  if (raft::crc32c::value(b.data(), 36) != get32(b, 36)) {
    s.error = "bad segment header CRC";
    return s;
  }
  if (b.substr(0, 8) != kSegmentMagic) {
    s.error = "bad magic";
    return s;
  }
  s.header.version = get32(b, 8);
  s.header.flags = get32(b, 12);
  s.header.sequence = get64(b, 16);
  s.header.first_index = get64(b, 24);
  s.header.chain = get32(b, 32);
  uint32_t chain = s.header.chain;
  uint64_t pos = kSegmentHeaderSize;
  while (pos < b.size()) {
    s.data_end = pos;
    if (b.size() - pos < kRecordHeaderSize) {
      if (!all_zero(b.substr(pos))) s.error = "record header cut short", s.error_offset = pos;
      return s;
    }
    const std::string_view h = b.substr(pos, kRecordHeaderSize);
    if (all_zero(h)) return s;  // the end marker
    if (raft::crc32c::value(h.data(), 8) != get32(h, 8)) {
      s.error = "bad record header CRC" + at(pos), s.error_offset = pos;
      return s;
    }
    if (h[5] != 0 || h[6] != 0 || h[7] != 0) {
      s.error = "non-zero padding in record header" + at(pos), s.error_offset = pos;
      return s;
    }
    Record r;
    r.offset = pos;
    r.type = static_cast<RecordType>(static_cast<uint8_t>(h[4]));
    const uint64_t len = get32(h, 0);
    if (b.size() - pos - kRecordHeaderSize < len) {
      s.error = "payload past the end of the file" + at(pos), s.error_offset = pos;
      return s;
    }
    r.payload = std::string(b.substr(pos + kRecordHeaderSize, len));
    r.payload_crc = get32(h, 12);
    if (raft::crc32c::extend(chain, r.payload.data(), r.payload.size()) != r.payload_crc) {
      s.error = "bad payload CRC" + at(pos), s.error_offset = pos;
      return s;
    }
    if (!decode_payload(&r)) {
      s.error = "undecodable payload" + at(pos), s.error_offset = pos;
      return s;
    }
    chain = r.payload_crc;
    pos = r.end();
    s.records.push_back(std::move(r));
  }
  s.data_end = pos;
  return s;
}

std::vector<Segment> parse_wal_dir(const std::string& dir) {
  std::vector<Segment> out;
  auto names = posix_file_system().list(dir);
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    if (!parse_segment_name(name)) continue;
    Segment s = parse_segment(read_file(join_path(dir, name)));
    s.name = name;
    out.push_back(std::move(s));
  }
  // Names are fixed-width hex, so the sorted listing is already in sequence order.
  return out;
}

std::string encode_segment_header(uint64_t sequence, uint64_t first_index, uint32_t chain) {
  std::string h(kSegmentMagic);
  put32(&h, 1);
  put32(&h, 0);
  put64(&h, sequence);
  put64(&h, first_index);
  put32(&h, chain);
  put32(&h, raft::crc32c::value(h.data(), h.size()));
  return h;
}

std::string entry_payload(const raft::Entry& e) {
  std::string p;
  put64(&p, e.index());
  put64(&p, e.term());
  p.push_back(static_cast<char>(e.entry_type()));
  put32(&p, static_cast<uint32_t>(e.context().size()));
  p += e.context();
  p += e.data();
  return p;
}

std::string truncate_payload(uint64_t from_index) {
  std::string p;
  put64(&p, from_index);
  return p;
}

std::string reset_payload(uint64_t index, uint64_t term) {
  std::string p;
  put64(&p, index);
  put64(&p, term);
  return p;
}

void append_record(std::string* segment, RecordType type, std::string_view payload,
                   uint32_t* chain) {
  std::string h;
  put32(&h, static_cast<uint32_t>(payload.size()));
  h.push_back(static_cast<char>(type));
  h.append(3, '\0');
  put32(&h, raft::crc32c::value(h.data(), h.size()));
  *chain = raft::crc32c::extend(*chain, payload.data(), payload.size());
  put32(&h, *chain);
  *segment += h;
  *segment += payload;
}

namespace {

// Applies one record to the log; false (with log->error set) for a record that breaks the rules.
bool apply(const Record& r, ReplayedLog* log) {
  const uint64_t last = log->last_index();
  switch (r.type) {
    case RecordType::kEntry:
      if (r.index > last + 1 || r.index < log->first_index) {
        log->error = "entry " + std::to_string(r.index) + " outside [" +
                     std::to_string(log->first_index) + ", " + std::to_string(last + 1) + "]";
        return false;
      }
      log->entries.resize(r.index - log->first_index);
      log->entries.push_back(r.entry);
      return true;
    case RecordType::kTruncate:
      if (r.index > last + 1 || r.index < log->first_index) {
        log->error = "truncate from " + std::to_string(r.index) + " outside the log";
        return false;
      }
      log->entries.resize(r.index - log->first_index);
      return true;
    case RecordType::kReset:
      log->entries.clear();
      log->first_index = r.index + 1;
      return true;
  }
  return false;
}

}  // namespace

ReplayedLog replay_until(const std::vector<Segment>& segments, size_t segment_pos,
                         size_t record_count) {
  ReplayedLog log;
  if (segments.empty()) return log;
  log.first_index = segments.front().header.first_index;
  for (size_t i = 0; i < segments.size() && i <= segment_pos; ++i) {
    const auto& recs = segments[i].records;
    const size_t n = i == segment_pos ? std::min(record_count, recs.size()) : recs.size();
    for (size_t k = 0; k < n; ++k) {
      if (!apply(recs[k], &log)) return log;
    }
  }
  return log;
}

ReplayedLog replay(const std::vector<Segment>& segments) {
  return replay_until(segments, segments.size(), 0);
}

}  // namespace wal::testing
