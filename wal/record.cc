#include "wal/record.h"

#include <bit>
#include <cstring>

#include "raft/crc32c.h"

namespace wal::record {
namespace {

uint64_t varint_size(uint64_t v) noexcept {
  // Seven bits per byte; at least one byte.
  return static_cast<uint64_t>((std::bit_width(v | 1) + 6) / 7);
}

// Fills the 16-byte header at `out` for a payload already in place after it.
void finish_record(char* out, Type type, uint32_t length, uint32_t* chain) noexcept {
  put_u32(out, length);
  out[4] = static_cast<char>(type);
  out[5] = out[6] = out[7] = 0;
  put_u32(out + 8, raft::crc32c::value(out, 8));
  *chain = raft::crc32c::extend(*chain, out + kHeaderSize, length);
  put_u32(out + 12, *chain);
}

}  // namespace

HeaderCheck decode_header(const char* in, Header* out) noexcept {
  uint64_t a, b;
  std::memcpy(&a, in, 8);
  std::memcpy(&b, in + 8, 8);
  if ((a | b) == 0) return HeaderCheck::kEndMarker;
  if (get_u32(in + 8) != raft::crc32c::value(in, 8)) return HeaderCheck::kBadCrc;
  const auto type = static_cast<uint8_t>(in[4]);
  if (in[5] != 0 || in[6] != 0 || in[7] != 0 || type < 1 || type > 3) {
    return HeaderCheck::kBadFormat;
  }
  out->length = get_u32(in);
  out->type = static_cast<Type>(type);
  out->payload_crc = get_u32(in + 12);
  return HeaderCheck::kOk;
}

uint64_t entry_payload_size(const raft::Entry& e) noexcept {
  return kEntryFixedSize + e.context().size() + e.data().size();
}

size_t append_entry_record(std::string& out, const raft::Entry& e, uint32_t* chain) {
  const size_t start = out.size();
  const std::string& context = e.context();
  const std::string& data = e.data();
  const size_t length = kEntryFixedSize + context.size() + data.size();
  char fixed[kHeaderSize + kEntryFixedSize];
  put_u64(fixed + kHeaderSize, e.index());
  put_u64(fixed + kHeaderSize + 8, e.term());
  fixed[kHeaderSize + 16] = static_cast<char>(e.entry_type());
  put_u32(fixed + kHeaderSize + 17, static_cast<uint32_t>(context.size()));
  // Appending pieces (rather than resizing and copying) never zero-fills the buffer first.
  out.append(fixed, sizeof fixed);
  out.append(context);
  out.append(data);
  finish_record(out.data() + start, Type::kEntry, static_cast<uint32_t>(length), chain);
  return kHeaderSize + length;
}

size_t append_truncate_record(std::string& out, uint64_t from_index, uint32_t* chain) {
  char rec[kHeaderSize + kTruncateSize];
  put_u64(rec + kHeaderSize, from_index);
  finish_record(rec, Type::kTruncate, kTruncateSize, chain);
  out.append(rec, sizeof rec);
  return sizeof rec;
}

size_t append_reset_record(std::string& out, uint64_t index, uint64_t term, uint32_t* chain) {
  char rec[kHeaderSize + kResetSize];
  put_u64(rec + kHeaderSize, index);
  put_u64(rec + kHeaderSize + 8, term);
  finish_record(rec, Type::kReset, kResetSize, chain);
  out.append(rec, sizeof rec);
  return sizeof rec;
}

uint32_t stored_payload_crc(const char* record) noexcept { return get_u32(record + 12); }

bool decode_entry_fields(std::string_view payload, EntryFields* out) noexcept {
  if (payload.size() < kEntryFixedSize) return false;
  const char* p = payload.data();
  out->index = get_u64(p);
  out->term = get_u64(p + 8);
  out->entry_type = static_cast<uint8_t>(p[16]);
  out->context_length = get_u32(p + 17);
  if (!eraftpb::EntryType_IsValid(out->entry_type)) return false;
  if (out->context_length > payload.size() - kEntryFixedSize) return false;
  out->data_length = payload.size() - kEntryFixedSize - out->context_length;
  return true;
}

bool decode_entry(std::string_view payload, raft::Entry* out) {
  EntryFields f;
  if (!decode_entry_fields(payload, &f)) return false;
  out->set_index(f.index);
  out->set_term(f.term);
  out->set_entry_type(static_cast<raft::EntryType>(f.entry_type));
  const char* context = payload.data() + kEntryFixedSize;
  out->set_context(context, f.context_length);
  out->set_data(context + f.context_length, f.data_length);
  return true;
}

bool decode_truncate(std::string_view payload, uint64_t* from_index) noexcept {
  if (payload.size() != kTruncateSize) return false;
  *from_index = get_u64(payload.data());
  return true;
}

bool decode_reset(std::string_view payload, uint64_t* index, uint64_t* term) noexcept {
  if (payload.size() != kResetSize) return false;
  *index = get_u64(payload.data());
  *term = get_u64(payload.data() + 8);
  return true;
}

uint64_t entry_encoded_size(const EntryFields& f) noexcept {
  // Proto3 leaves out fields at their default; each present field is a one-byte tag (fields
  // 1..6) and a varint or a length-prefixed run of bytes.
  uint64_t size = 0;
  if (f.entry_type != 0) size += 1 + varint_size(f.entry_type);
  if (f.term != 0) size += 1 + varint_size(f.term);
  if (f.index != 0) size += 1 + varint_size(f.index);
  if (f.data_length != 0) size += 1 + varint_size(f.data_length) + f.data_length;
  if (f.context_length != 0) size += 1 + varint_size(f.context_length) + f.context_length;
  return size;
}

}  // namespace wal::record
