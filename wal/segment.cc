#include "wal/segment.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "raft/crc32c.h"
#include "raft/types.h"

namespace wal::segment {
namespace {

using record::get_u32;
using record::get_u64;
using record::put_u32;
using record::put_u64;

constexpr size_t kHexDigits = 16;
constexpr std::string_view kSuffix = ".wal";
constexpr size_t kNameSize = 2 * kHexDigits + 1 + kSuffix.size();

void put_hex(char* out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = kHexDigits; i-- > 0; v >>= 4) out[i] = kDigits[v & 0xF];
}

std::optional<uint64_t> parse_hex(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;  // upper case too: names are written in lower case only
    }
    v = v << 4 | static_cast<uint64_t>(digit);
  }
  return v;
}

// The index of the first non-zero byte of [p, p + n), or n.
size_t first_nonzero(const char* p, size_t n) {
  size_t i = 0;
  // Eight bytes at a time: zero runs are most of a preallocated segment.
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) break;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return i;
  }
  return n;
}

Status short_read(const File& file, uint64_t offset) {
  return Status::from_errno(EIO, raft::concat("read ", file.path(), " at offset ", offset,
                                              ": the file ended before its size"));
}

}  // namespace

std::string name(uint64_t sequence, uint64_t first_index) {
  std::string s(kNameSize, '-');
  put_hex(s.data(), sequence);
  put_hex(s.data() + kHexDigits + 1, first_index);
  s.replace(2 * kHexDigits + 1, kSuffix.size(), kSuffix);
  return s;
}

std::optional<std::pair<uint64_t, uint64_t>> parse_name(std::string_view n) {
  if (n.size() != kNameSize || n[kHexDigits] != '-' || !n.ends_with(kSuffix)) return std::nullopt;
  const auto seq = parse_hex(n.substr(0, kHexDigits));
  const auto first = parse_hex(n.substr(kHexDigits + 1, kHexDigits));
  if (!seq || !first) return std::nullopt;
  return std::make_pair(*seq, *first);
}

std::string encode_header(const Header& h) {
  std::string out(kHeaderSize, '\0');
  char* p = out.data();
  std::memcpy(p, kMagic.data(), kMagic.size());
  put_u32(p + 8, kVersion);
  put_u32(p + 12, 0);  // flags
  put_u64(p + 16, h.sequence);
  put_u64(p + 24, h.first_index);
  put_u32(p + 32, h.chain);
  put_u32(p + 36, raft::crc32c::value(p, 36));
  return out;
}

std::optional<std::string> decode_header(std::string_view bytes, Header* out) {
  if (bytes.size() < kHeaderSize) return "segment header cut short";
  const char* p = bytes.data();
  if (get_u32(p + 36) != raft::crc32c::value(p, 36)) return "bad segment header checksum";
  if (bytes.substr(0, kMagic.size()) != kMagic) return "bad segment magic";
  if (get_u32(p + 8) != kVersion) {
    return raft::concat("unknown segment version ", get_u32(p + 8));
  }
  if (get_u32(p + 12) != 0) return raft::concat("unknown segment flags ", get_u32(p + 12));
  out->sequence = get_u64(p + 16);
  out->first_index = get_u64(p + 24);
  out->chain = get_u32(p + 32);
  return std::nullopt;
}

// --- RecordScanner ---

RecordScanner::RecordScanner(const File& file, uint64_t file_size, uint32_t chain)
    : file_(file), file_size_(file_size), chain_(chain) {}

StatusOr<bool> RecordScanner::fill(uint64_t offset, size_t n) {
  if (offset >= buf_offset_ && offset + n <= buf_offset_ + buf_len_) return true;
  const uint64_t want_end = std::min<uint64_t>(file_size_, offset + std::max(n, kReadChunk));
  const size_t want = static_cast<size_t>(want_end - offset);
  // Keep what is already read of the new window, read the rest after it.
  size_t kept = 0;
  if (offset >= buf_offset_ && offset < buf_offset_ + buf_len_) {
    kept = static_cast<size_t>(buf_offset_ + buf_len_ - offset);
    std::memmove(buf_.data(), view(offset), kept);
  }
  if (buf_.size() < want) buf_.resize(want);
  buf_offset_ = offset;
  buf_len_ = kept;
  if (want > kept) {
    auto got = file_.read_at(offset + kept, want - kept, buf_.data() + kept);
    if (!got.ok()) return got.status();
    if (*got != want - kept) return short_read(file_, offset + kept + *got);
    buf_len_ = want;
  }
  return offset + n <= want_end;
}

StatusOr<uint64_t> RecordScanner::find_nonzero(uint64_t from) {
  for (uint64_t at = from; at < file_size_;) {
    auto filled = fill(at, static_cast<size_t>(std::min<uint64_t>(kReadChunk, file_size_ - at)));
    if (!filled.ok()) return filled.status();
    const size_t n = available(at);
    const size_t i = first_nonzero(view(at), n);
    if (i < n) return at + i;
    at += n;
  }
  return file_size_;
}

Status RecordScanner::stop_damaged(uint64_t offset, uint64_t region_end, std::string why,
                                   bool may_be_torn) {
  done_ = true;
  end_.data_end = offset;
  end_.damage = std::move(why);
  end_.damage_offset = offset;
  auto after = find_nonzero(region_end);
  if (!after.ok()) return after.status();
  end_.torn = may_be_torn && *after == file_size_;
  auto last = last_nonzero_end(file_, offset, end_.torn ? region_end : file_size_);
  if (!last.ok()) return last.status();
  end_.damage_end = *last;
  return {};
}

StatusOr<bool> RecordScanner::next(ScannedRecord* out) {
  if (done_) return false;
  const uint64_t p = offset_;
  const uint64_t remaining = file_size_ - p;
  auto finish_clean = [&] {
    done_ = true;
    end_.data_end = end_.damage_end = p;
    return false;
  };
  if (remaining == 0) return finish_clean();  // a full segment ends with its last record

  const size_t header_bytes =
      static_cast<size_t>(std::min<uint64_t>(remaining, record::kHeaderSize));
  if (auto f = fill(p, header_bytes); !f.ok()) return f.status();
  if (remaining < record::kHeaderSize) {
    // Too little room for a header: fine if it is zeros, the start of a header otherwise.
    if (first_nonzero(view(p), header_bytes) == header_bytes) return finish_clean();
    Status st = stop_damaged(p, file_size_, "record header cut short by the end of the file", true);
    if (!st.ok()) return st;
    return false;
  }

  record::Header h;
  switch (record::decode_header(view(p), &h)) {
    case record::HeaderCheck::kEndMarker: {
      auto q = find_nonzero(p + record::kHeaderSize);
      if (!q.ok()) return q.status();
      if (*q == file_size_) return finish_clean();
      done_ = true;
      end_.data_end = p;
      end_.damage = "non-zero bytes after the end marker";
      end_.damage_offset = *q;
      auto last = last_nonzero_end(file_, *q, file_size_);
      if (!last.ok()) return last.status();
      end_.damage_end = *last;
      return false;
    }
    case record::HeaderCheck::kBadCrc: {
      // The length cannot be trusted, so what follows the header counts as following it.
      Status st = stop_damaged(p, p + record::kHeaderSize, "bad record header checksum", true);
      if (!st.ok()) return st;
      return false;
    }
    case record::HeaderCheck::kBadFormat: {
      Status st = stop_damaged(p, p + record::kHeaderSize,
                               "unknown record type or reserved bytes set", false);
      if (!st.ok()) return st;
      return false;
    }
    case record::HeaderCheck::kOk: break;
  }

  const uint64_t size = record::kHeaderSize + h.length;
  if (size > remaining) {
    Status st = stop_damaged(p, file_size_, "record payload past the end of the file", true);
    if (!st.ok()) return st;
    return false;
  }
  if (auto f = fill(p, static_cast<size_t>(size)); !f.ok()) return f.status();
  const char* payload = view(p) + record::kHeaderSize;
  const uint32_t crc = raft::crc32c::extend(chain_, payload, h.length);
  if (crc != h.payload_crc) {
    Status st = stop_damaged(p, p + size, "bad record checksum", true);
    if (!st.ok()) return st;
    return false;
  }
  chain_ = crc;
  offset_ = p + size;
  out->offset = p;
  out->type = h.type;
  out->payload = std::string_view(payload, h.length);
  out->payload_crc = crc;
  return true;
}

StatusOr<uint64_t> last_nonzero_end(const File& file, uint64_t from, uint64_t to) {
  std::vector<char> buf;
  while (to > from) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, to - from));
    if (buf.size() < n) buf.resize(n);
    auto got = file.read_at(to - n, n, buf.data());
    if (!got.ok()) return got.status();
    if (*got != n) return short_read(file, to - n + *got);
    for (size_t i = n; i-- > 0;) {
      if (buf[i] != 0) return to - n + i + 1;
    }
    to -= n;
  }
  return from;
}

// --- Creating ---

StatusOr<Prepared> prepare(FileSystem& fs, const std::string& dir, const Header& header,
                           uint64_t capacity, bool* no_space) {
  *no_space = false;
  Prepared p;
  p.path = join_path(dir, name(header.sequence, header.first_index));
  p.tmp_path = p.path + std::string(kTmpSuffix);
  if (fs.exists(p.tmp_path)) {
    if (Status st = fs.remove(p.tmp_path); !st.ok()) return st;
  }
  auto file = fs.open(p.tmp_path, OpenMode::kCreate);
  if (!file.ok()) return file.status();
  p.file = std::move(file.value());
  auto fail = [&](Status st) {
    p.file.reset();
    (void)fs.remove(p.tmp_path);  // best effort: open() removes leftovers anyway
    return st;
  };
  if (Status st = p.file->allocate(capacity); !st.ok()) {
    *no_space = st.code() == std::errc::no_space_on_device;
    return fail(std::move(st));
  }
  if (Status st = p.file->write_at(0, encode_header(header)); !st.ok()) return fail(std::move(st));
  if (Status st = p.file->sync_data(); !st.ok()) return fail(std::move(st));
  return p;
}

StatusOr<std::unique_ptr<File>> publish(FileSystem& fs, const std::string& dir, Prepared& p) {
  p.file.reset();
  if (Status st = fs.rename(p.tmp_path, p.path); !st.ok()) return st;
  if (Status st = fs.sync_dir(dir); !st.ok()) return st;
  // Opened again under its name so that later errors name the segment, not the tmp file.
  return fs.open(p.path, OpenMode::kReadWrite);
}

}  // namespace wal::segment
