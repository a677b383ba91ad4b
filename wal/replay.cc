#include "wal/replay.h"

#include <algorithm>
#include <limits>

#include "raft/types.h"
#include "wal/record.h"
#include "wal/segment.h"

namespace wal::replay {
namespace {

Status corruption(const std::string& path, uint64_t offset, const std::string& why) {
  return Status(Error::kCorruption,
                raft::concat("wal: ", why, " in ", path, " at offset ", offset));
}

// Applies the records of one directory to a LogIndex, checking that they make sense together.
class Replayer {
 public:
  explicit Replayer(LogIndex& index) : index_(index) {}

  // Starts from the first segment read, whose header says where the log stood.
  void start(uint64_t first_index) { index_.restart(first_index); }

  // Applies one good record of segment `sequence`; the reason it makes no sense otherwise.
  std::optional<std::string> apply(const segment::ScannedRecord& rec, uint64_t sequence) {
    switch (rec.type) {
      case record::Type::kEntry: return apply_entry(rec, sequence);
      case record::Type::kTruncate: return apply_truncate(rec.payload);
      case record::Type::kReset: return apply_reset(rec.payload);
    }
    return "unknown record type";
  }

 private:
  std::optional<std::string> apply_entry(const segment::ScannedRecord& rec, uint64_t sequence) {
    record::EntryFields f;
    if (!record::decode_entry_fields(rec.payload, &f)) return "malformed entry record";
    if (rec.offset > std::numeric_limits<uint32_t>::max()) return "record past 4 GiB";
    const uint64_t i = f.index;
    if (i == 0) return "entry with index 0";
    if (i > index_.last() + 1) {
      return raft::concat("gap: entry ", i, " after entry ", index_.last());
    }
    if (i < index_.first()) {
      if (start_known_) {
        return raft::concat("entry ", i, " before the log's start at ", index_.first());
      }
      index_.restart(i);
    } else if (i <= index_.last()) {
      index_.truncate(i);
    }
    index_.append(i, f.term, sequence, static_cast<uint32_t>(rec.offset),
                  static_cast<uint32_t>(rec.payload.size()));
    return std::nullopt;
  }

  std::optional<std::string> apply_truncate(std::string_view payload) {
    uint64_t from;
    if (!record::decode_truncate(payload, &from)) return "malformed truncate record";
    if (from == 0) return "truncation from index 0";
    if (from > index_.last() + 1) {
      return raft::concat("truncation from ", from, " past the last entry ", index_.last());
    }
    if (from < index_.first()) {
      if (start_known_) {
        return raft::concat("truncation from ", from, " before the log's start at ",
                            index_.first());
      }
      index_.restart(from);
    } else {
      index_.truncate(from);
    }
    return std::nullopt;
  }

  std::optional<std::string> apply_reset(std::string_view payload) {
    uint64_t index, term;
    if (!record::decode_reset(payload, &index, &term)) return "malformed reset record";
    if (index == std::numeric_limits<uint64_t>::max()) return "reset to the largest index";
    index_.reset(index, term);
    start_known_ = true;
    return std::nullopt;
  }

  LogIndex& index_;
  bool start_known_ = false;
};

// Lists the segment files of `dir`, in sequence order.
StatusOr<std::vector<SegmentInfo>> list_segments(FileSystem& fs, const std::string& dir) {
  auto names = fs.list(dir);
  if (!names.ok()) return names.status();
  std::vector<SegmentInfo> out;
  for (const std::string& n : *names) {
    auto parsed = segment::parse_name(n);
    if (!parsed) continue;
    SegmentInfo s;
    s.sequence = parsed->first;
    s.first_index = parsed->second;
    s.path = join_path(dir, n);
    out.push_back(std::move(s));
  }
  // Fixed-width hex sorts by sequence already; sorting again does not rely on list()'s order.
  std::sort(out.begin(), out.end(),
            [](const SegmentInfo& a, const SegmentInfo& b) { return a.sequence < b.sequence; });
  return out;
}

}  // namespace

StatusOr<Result> replay(FileSystem& fs, const std::string& dir) {
  auto listed = list_segments(fs, dir);
  if (!listed.ok()) return listed.status();
  Result r;
  r.segments = std::move(listed.value());
  Replayer replayer(r.index);

  for (size_t k = 0; k < r.segments.size(); ++k) {
    SegmentInfo& seg = r.segments[k];
    const bool last = k + 1 == r.segments.size();
    auto opened = fs.open(seg.path, OpenMode::kRead);
    if (!opened.ok()) return opened.status();
    const File& file = **opened;
    auto size = file.size();
    if (!size.ok()) return size.status();
    seg.file_size = *size;

    auto whole_segment_damage = [&](uint64_t offset, const std::string& why) {
      r.damage = Damage{k, 0, seg.file_size, false, corruption(seg.path, offset, why)};
    };
    if (k > 0 && seg.sequence != r.segments[k - 1].sequence + 1) {
      whole_segment_damage(0, raft::concat("segment sequence ", seg.sequence, " follows ",
                                           r.segments[k - 1].sequence));
      return r;
    }
    std::string header_bytes(segment::kHeaderSize, '\0');
    auto got = file.read_at(0, header_bytes.size(), header_bytes.data());
    if (!got.ok()) return got.status();
    header_bytes.resize(*got);
    segment::Header h;
    if (auto why = segment::decode_header(header_bytes, &h)) {
      whole_segment_damage(0, *why);
      return r;
    }
    if (h.sequence != seg.sequence || h.first_index != seg.first_index) {
      whole_segment_damage(
          0, raft::concat("segment header (sequence ", h.sequence, ", first index ", h.first_index,
                          ") does not match the file name"));
      return r;
    }
    if (h.first_index == 0) {
      whole_segment_damage(0, "segment starting at index 0");
      return r;
    }
    if (k == 0) {
      replayer.start(h.first_index);
      r.chain = h.chain;
    } else {
      if (h.chain != r.chain) {
        whole_segment_damage(0, "segment chain does not match the previous segment's last record");
        return r;
      }
      if (h.first_index != r.index.last() + 1) {
        whole_segment_damage(0, raft::concat("segment starts at index ", h.first_index,
                                             " but the log before it ends at ", r.index.last()));
        return r;
      }
    }
    seg.header_chain = h.chain;
    r.bytes += segment::kHeaderSize;
    ++r.segments_replayed;

    segment::RecordScanner scanner(file, seg.file_size, h.chain);
    segment::ScannedRecord rec;
    for (;;) {
      auto more = scanner.next(&rec);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (auto why = replayer.apply(rec, seg.sequence)) {
        auto end = segment::last_nonzero_end(file, rec.offset, seg.file_size);
        if (!end.ok()) return end.status();
        r.damage = Damage{k, rec.offset, *end, false, corruption(seg.path, rec.offset, *why)};
        r.data_end = rec.offset;
        return r;
      }
      r.chain = rec.payload_crc;
      r.bytes += rec.size();
      ++r.records;
    }
    const segment::ScanEnd& end = scanner.end();
    r.data_end = end.data_end;
    if (!end.damage.empty()) {
      r.damage = Damage{k, end.data_end, end.damage_end, end.torn && last,
                        corruption(seg.path, end.damage_offset, end.damage)};
      return r;
    }
  }
  return r;
}

Status cut_range(FileSystem& fs, const std::string& dir, const std::string& path, uint64_t from,
                 uint64_t to, const std::string& copy_path) {
  auto opened = fs.open(path, OpenMode::kReadWrite);
  if (!opened.ok()) return opened.status();
  File& file = **opened;
  if (fs.exists(copy_path)) {
    if (Status st = fs.remove(copy_path); !st.ok()) return st;
  }
  auto copy = fs.open(copy_path, OpenMode::kCreate);
  if (!copy.ok()) return copy.status();

  // The copy is durable before the original bytes are zeroed, so a crash in between loses
  // nothing: the next open finds the same damage and cuts it again.
  std::string buf;
  for (uint64_t at = from; at < to;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(segment::kReadChunk, to - at));
    buf.resize(n);
    auto got = file.read_at(at, n, buf.data());
    if (!got.ok()) return got.status();
    buf.resize(*got);
    if (Status st = (*copy)->write_at(at - from, buf); !st.ok()) return st;
    if (*got < n) break;  // the file ends here
    at += n;
  }
  if (Status st = (*copy)->sync_data(); !st.ok()) return st;
  if (Status st = fs.sync_dir(dir); !st.ok()) return st;

  const std::string zeros(static_cast<size_t>(std::min<uint64_t>(segment::kReadChunk, to - from)),
                          '\0');
  for (uint64_t at = from; at < to;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), to - at));
    if (Status st = file.write_at(at, std::string_view(zeros.data(), n)); !st.ok()) return st;
    at += n;
  }
  return file.sync_data();
}

}  // namespace wal::replay
