#include "wal/wal.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <system_error>
#include <vector>

#include "raft/crc32c.h"
#include "wal/entry_cache.h"
#include "wal/log_index.h"
#include "wal/record.h"
#include "wal/replay.h"
#include "wal/segment.h"

namespace wal {
namespace {

// Room for a segment header and one record header; offsets in the index are 32 bits.
constexpr uint64_t kMinSegmentSize = segment::kHeaderSize + record::kHeaderSize;
constexpr uint64_t kMaxSegmentSize = uint64_t{1} << 32;

Status invalid(const std::string& what) { return Status(Error::kInvalidArgument, "wal: " + what); }

std::string parent_dir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : d.substr(0, slash);
}

}  // namespace

struct Wal::Impl {
  struct Segment {
    uint64_t sequence = 0;
    uint64_t first_index = 0;
    std::string path;
    uint32_t header_chain = 0;
    uint64_t capacity = 0;  // the file's size: records are placed within it
  };

  // A record of the batch being written: where it is in the batch's bytes, and where it goes.
  struct Planned {
    size_t buf_offset = 0;
    uint32_t size = 0;
    uint64_t next_index = 0;  // last_index() + 1 once it is applied
    uint64_t sequence = 0;
    uint64_t file_offset = 0;
  };

  // A segment the batch is about to start.
  struct NewSegment {
    segment::Header header;
    uint64_t capacity = 0;
    segment::Prepared prepared;
    std::shared_ptr<File> file;
  };

  // An entry of a read from a segment file.
  struct FileRead {
    uint64_t index;
    uint64_t term;
    EntryLocation location;
  };

  Impl(std::string d, const WalOptions& o, FileSystem& f)
      : dir(std::move(d)), options(o), fs(f), cache(o.cache_bytes) {}

  Status failed_status() const {
    return Status(Error::kFailed,
                  "wal: " + dir + ": an earlier write or sync failed: " + failure.message());
  }
  Status fail(Status st) {
    if (failure.ok()) failure = st;
    return st;
  }

  const Segment& segment_of(uint64_t sequence) const {
    return segments[sequence - segments.front().sequence];
  }

  template <typename Apply>
  Status write_planned(const std::string& records, Apply&& apply);
  Status append(const raft::EntryVec& entries);
  Status truncate(uint64_t from);
  Status reset(uint64_t index, uint64_t term);
  Status sync();
  Status compact(uint64_t index);
  raft::Result<raft::EntryVec> entries(uint64_t lo, uint64_t hi, uint64_t max_size) const;
  // Reads entries [reads) from segment files into *out, checking every record.
  std::error_code read_files(const std::vector<FileRead>& reads,
                             const std::vector<std::shared_ptr<File>>& files,
                             const std::vector<uint32_t>& header_chains, uint64_t first_sequence,
                             std::optional<uint64_t> pred_crc_offset, raft::EntryVec* out) const;

  const std::string dir;
  const WalOptions options;
  FileSystem& fs;

  // Readers take mu shared; the writer takes it exclusively only to change what is below. The
  // writer reads these without the lock: nobody else changes them.
  mutable std::shared_mutex mu;
  std::deque<Segment> segments;
  std::shared_ptr<File> last_file;  // the last segment, open for writing
  LogIndex index;
  EntryCache cache;

  // The writer's own state.
  uint64_t write_offset = 0;  // where the next record goes in the last segment
  uint32_t chain = 0;         // payload CRC of the last record written
  bool dirty = false;         // written since the last segment sync
  Status failure;             // the first failed write or sync
  std::string small_records;  // a truncate or reset record being written
  std::vector<Planned> planned;
  std::vector<NewSegment> new_segments;

  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> bytes_written{0};
  mutable std::atomic<uint64_t> cache_hits{0};
  mutable std::atomic<uint64_t> cache_misses{0};
};

// Writes the records in `records` / `planned` after the last one, starting segments as needed,
// then applies them to memory with `apply` under the lock. Records go to the last segment
// while they fit; a record that does not starts a new segment, which is sized for it if it is
// bigger than segment_size. Each segment touched gets one write.
template <typename Apply>
Status Wal::Impl::write_planned(const std::string& records, Apply&& apply) {
  // Place the records.
  new_segments.clear();
  uint64_t sequence = segments.back().sequence;
  uint64_t capacity = segments.back().capacity;
  uint64_t pos = write_offset;
  uint64_t next_index = index.last() + 1;
  uint32_t crc = chain;
  for (Planned& r : planned) {
    if (pos + r.size > capacity) {
      NewSegment s;
      s.header = {++sequence, next_index, crc};
      s.capacity = std::max<uint64_t>(options.segment_size, segment::kHeaderSize + r.size);
      capacity = s.capacity;
      pos = segment::kHeaderSize;
      new_segments.push_back(std::move(s));
    }
    r.sequence = sequence;
    r.file_offset = pos;
    pos += r.size;
    next_index = r.next_index;
    crc = record::stored_payload_crc(records.data() + r.buf_offset);
  }

  // Make the new segments' files before writing anything, so that a full disk (fallocate's
  // ENOSPC) fails the call with nothing written and the log still usable.
  for (NewSegment& s : new_segments) {
    bool no_space = false;
    auto prepared = segment::prepare(fs, dir, s.header, s.capacity, &no_space);
    if (!prepared.ok()) {
      for (NewSegment& made : new_segments) {
        if (!made.prepared.file) continue;
        made.prepared.file.reset();
        (void)fs.remove(made.prepared.tmp_path);  // best effort; open() removes leftovers
      }
      new_segments.clear();
      if (no_space) return prepared.status();
      return fail(prepared.status());
    }
    s.prepared = std::move(prepared.value());
  }

  // Write, one piece per segment. An earlier segment is synced before the next one appears,
  // so only the last segment can ever hold a torn record.
  File* target = last_file.get();
  uint64_t target_sequence = segments.back().sequence;
  size_t next_new = 0;
  for (size_t i = 0; i < planned.size();) {
    size_t j = i + 1;
    while (j < planned.size() && planned[j].sequence == planned[i].sequence) ++j;
    if (planned[i].sequence != target_sequence) {
      if (Status st = target->sync_data(); !st.ok()) return fail(std::move(st));
      syncs.fetch_add(1, std::memory_order_relaxed);
      NewSegment& s = new_segments[next_new++];
      auto file = segment::publish(fs, dir, s.prepared);
      if (!file.ok()) return fail(file.status());
      s.file = std::move(file.value());
      target = s.file.get();
      target_sequence = s.header.sequence;
    }
    const size_t begin = planned[i].buf_offset;
    const size_t end = planned[j - 1].buf_offset + planned[j - 1].size;
    Status st = target->write_at(planned[i].file_offset,
                                 std::string_view(records.data() + begin, end - begin));
    if (!st.ok()) return fail(std::move(st));
    bytes_written.fetch_add(end - begin, std::memory_order_relaxed);
    i = j;
  }

  {
    std::unique_lock lock(mu);
    for (NewSegment& s : new_segments) {
      segments.push_back(
          {s.header.sequence, s.header.first_index, s.prepared.path, s.header.chain, s.capacity});
      last_file = std::move(s.file);
    }
    apply();
  }
  new_segments.clear();
  write_offset = pos;
  chain = crc;
  dirty = true;
  return {};
}

Status Wal::Impl::append(const raft::EntryVec& entries) {
  if (!failure.ok()) return failed_status();
  if (entries.empty()) return {};
  const uint64_t first = entries.front().index();
  if (first < index.first() || first > index.last() + 1) {
    return invalid(raft::concat("append: entry ", first, " is outside [", index.first(), ", ",
                                index.last() + 1, "]"));
  }
  size_t batch_bytes = 0;
  for (size_t k = 0; k < entries.size(); ++k) {
    const raft::Entry& e = entries[k];
    if (e.index() != first + k) {
      return invalid(raft::concat("append: entry ", e.index(), " follows entry ", first + k - 1,
                                  " (entries must be contiguous)"));
    }
    const uint64_t payload = record::entry_payload_size(e);
    if (payload > record::kMaxPayloadSize) {
      return invalid(
          raft::concat("append: entry ", e.index(), " is too big (", payload, " bytes)"));
    }
    batch_bytes += record::kHeaderSize + payload;
  }
  // The batch is encoded into a buffer the cache then keeps as it is: the records are written
  // to memory once. take_buffer() needs no lock (see entry_cache.h).
  EntryCache::Buffer batch = cache.take_buffer(batch_bytes);
  planned.clear();
  uint32_t crc = chain;
  for (const raft::Entry& e : entries) {
    const size_t offset = batch->size();
    const size_t size = record::append_entry_record(*batch, e, &crc);
    planned.push_back({offset, static_cast<uint32_t>(size), e.index() + 1, 0, 0});
  }
  return write_planned(*batch, [&] {
    if (first <= index.last()) {
      index.truncate(first);
      cache.truncate(first);
    }
    for (size_t k = 0; k < entries.size(); ++k) {
      const Planned& r = planned[k];
      index.append(first + k, entries[k].term(), r.sequence, static_cast<uint32_t>(r.file_offset),
                   r.size - static_cast<uint32_t>(record::kHeaderSize));
    }
    cache.add(first, std::move(batch));
  });
}

Status Wal::Impl::truncate(uint64_t from) {
  if (!failure.ok()) return failed_status();
  if (from < index.first() || from > index.last() + 1) {
    return invalid(raft::concat("truncate: index ", from, " is outside [", index.first(), ", ",
                                index.last() + 1, "]"));
  }
  if (from == index.last() + 1) return {};  // nothing to drop
  small_records.clear();
  planned.clear();
  uint32_t crc = chain;
  const size_t size = record::append_truncate_record(small_records, from, &crc);
  planned.push_back({0, static_cast<uint32_t>(size), from, 0, 0});
  return write_planned(small_records, [&] {
    index.truncate(from);
    cache.truncate(from);
  });
}

Status Wal::Impl::reset(uint64_t at, uint64_t term) {
  if (!failure.ok()) return failed_status();
  if (at == std::numeric_limits<uint64_t>::max()) return invalid("reset: index too large");
  small_records.clear();
  planned.clear();
  uint32_t crc = chain;
  const size_t size = record::append_reset_record(small_records, at, term, &crc);
  planned.push_back({0, static_cast<uint32_t>(size), at + 1, 0, 0});
  return write_planned(small_records, [&] {
    index.reset(at, term);
    cache.clear();
  });
}

Status Wal::Impl::sync() {
  if (!failure.ok()) return failed_status();
  if (!dirty) return {};
  // Without the lock: readers go on while the disk works.
  if (Status st = last_file->sync_data(); !st.ok()) return fail(std::move(st));
  syncs.fetch_add(1, std::memory_order_relaxed);
  dirty = false;
  return {};
}

Status Wal::Impl::compact(uint64_t at) {
  if (!failure.ok()) return failed_status();
  if (at + 1 < index.first() || at > index.last()) {
    return invalid(raft::concat("compact: index ", at, " is outside [", index.first() - 1, ", ",
                                index.last(), "]"));
  }
  // Segments before the one holding the first entry kept hold nothing else; the last segment
  // always stays.
  const uint64_t last_sequence = segments.back().sequence;
  const uint64_t keep = at < index.last() ? index.sequence(at + 1) : last_sequence;
  std::vector<std::string> doomed;
  {
    std::unique_lock lock(mu);
    index.compact(at);
    cache.drop_through(at);
    while (segments.front().sequence < std::min(keep, last_sequence)) {
      doomed.push_back(segments.front().path);
      segments.pop_front();
    }
  }
  // Oldest first, each removal durable before the next: a crash part way leaves a log whose
  // oldest segments are gone and that replays to the same entries.
  for (const std::string& path : doomed) {
    if (Status st = fs.remove(path); !st.ok()) return fail(std::move(st));
    if (Status st = fs.sync_dir(dir); !st.ok()) return fail(std::move(st));
  }
  return {};
}

raft::Result<raft::EntryVec> Wal::Impl::entries(uint64_t lo, uint64_t hi, uint64_t max_size) const {
  std::vector<FileRead> reads;
  std::vector<std::shared_ptr<File>> files;  // by sequence - first_sequence
  std::vector<uint32_t> header_chains;
  uint64_t first_sequence = 0;
  std::optional<uint64_t> pred_crc_offset;
  raft::EntryVec from_cache;
  {
    std::shared_lock lock(mu);
    if (lo < index.first()) return raft::Error::kCompacted;
    if (hi > index.last() + 1) return raft::Error::kUnavailable;
    if (lo >= hi) return raft::EntryVec{};
    // The cache holds the newest entries, so the range splits into a part in files and a part
    // in the cache. Which entries fit in max_size is decided here from a lower bound of their
    // size (payload minus the fixed fields) and exactly once they are decoded.
    const uint64_t cache_start = cache.empty() ? hi : std::clamp(cache.first(), lo, hi);
    uint64_t size_bound = 0;
    bool full = false;
    if (lo < cache_start) {
      auto terms = index.terms_from(lo);
      for (uint64_t i = lo; i < cache_start; ++i) {
        const EntryLocation loc = index.location(i);
        const uint64_t bound = loc.length - record::kEntryFixedSize;
        if (!reads.empty() && size_bound + bound > max_size) {
          full = true;
          break;
        }
        size_bound += bound;
        reads.push_back({i, terms.next(), loc});
      }
      // Files of the segments the read touches; older ones are opened now, under the lock, so
      // a compaction cannot remove them before they are open.
      first_sequence = reads.front().location.sequence;
      for (uint64_t s = first_sequence; s <= reads.back().location.sequence; ++s) {
        const Segment& seg = segment_of(s);
        header_chains.push_back(seg.header_chain);
        if (s == segments.back().sequence) {
          files.push_back(last_file);
          continue;
        }
        auto opened = fs.open(seg.path, OpenMode::kRead);
        if (!opened.ok()) return opened.status().code();
        files.push_back(std::move(opened.value()));
      }
      // The chained CRC of the first record needs the one before it, when it is the entry
      // just before in the same segment.
      const EntryLocation& first_loc = reads.front().location;
      if (lo > index.first() && first_loc.offset != segment::kHeaderSize) {
        const EntryLocation prev = index.location(lo - 1);
        if (prev.sequence == first_loc.sequence &&
            prev.offset + record::kHeaderSize + prev.length == first_loc.offset) {
          pred_crc_offset = prev.offset + 12;
        }
      }
    }
    if (!full) {
      for (uint64_t i = cache_start; i < hi; ++i) {
        const std::string_view rec = cache.record(i);
        const std::string_view payload = rec.substr(record::kHeaderSize);
        record::EntryFields f;
        if (!record::decode_entry_fields(payload, &f)) return make_error_code(Error::kCorruption);
        const uint64_t size = record::entry_encoded_size(f);
        if ((!reads.empty() || !from_cache.empty()) && size_bound + size > max_size) break;
        size_bound += size;
        record::decode_entry(payload, &from_cache.emplace_back());
      }
    }
  }

  raft::EntryVec out;
  out.reserve(reads.size() + from_cache.size());
  if (!reads.empty()) {
    if (std::error_code ec =
            read_files(reads, files, header_chains, first_sequence, pred_crc_offset, &out)) {
      return ec;
    }
  }
  for (raft::Entry& e : from_cache) out.push_back(std::move(e));
  raft::limit_size(out, max_size);
  // Count what is returned: every file entry comes before every cached one.
  const uint64_t from_files = std::min<uint64_t>(out.size(), reads.size());
  cache_misses.fetch_add(from_files, std::memory_order_relaxed);
  cache_hits.fetch_add(out.size() - from_files, std::memory_order_relaxed);
  return out;
}

std::error_code Wal::Impl::read_files(const std::vector<FileRead>& reads,
                                      const std::vector<std::shared_ptr<File>>& files,
                                      const std::vector<uint32_t>& header_chains,
                                      uint64_t first_sequence,
                                      std::optional<uint64_t> pred_crc_offset,
                                      raft::EntryVec* out) const {
  const std::error_code corrupt = make_error_code(Error::kCorruption);
  std::string bytes;
  for (size_t i = 0; i < reads.size();) {
    // A run of records back to back in one segment is read with one call.
    const EntryLocation& start = reads[i].location;
    const File& file = *files[start.sequence - first_sequence];
    size_t j = i + 1;
    uint64_t end = start.offset + record::kHeaderSize + start.length;
    while (j < reads.size() && reads[j].location.sequence == start.sequence &&
           reads[j].location.offset == end) {
      end += record::kHeaderSize + reads[j].location.length;
      ++j;
    }
    // The payload CRC before the run's first record, when it is known.
    std::optional<uint32_t> chain;
    if (start.offset == segment::kHeaderSize) {
      chain = header_chains[start.sequence - first_sequence];
    } else if (i == 0 && pred_crc_offset) {
      char crc[4];
      auto got = file.read_at(*pred_crc_offset, sizeof crc, crc);
      if (!got.ok()) return got.status().code();
      if (*got != sizeof crc) return corrupt;
      chain = record::get_u32(crc);
    }
    bytes.resize(end - start.offset);
    auto got = file.read_at(start.offset, bytes.size(), bytes.data());
    if (!got.ok()) return got.status().code();
    if (*got != bytes.size()) return corrupt;
    const char* p = bytes.data();
    for (; i < j; ++i) {
      record::Header h;
      if (record::decode_header(p, &h) != record::HeaderCheck::kOk ||
          h.type != record::Type::kEntry || h.length != reads[i].location.length) {
        return corrupt;
      }
      const std::string_view payload(p + record::kHeaderSize, h.length);
      if (chain && raft::crc32c::extend(*chain, payload.data(), payload.size()) != h.payload_crc) {
        return corrupt;
      }
      chain = h.payload_crc;
      raft::Entry& e = out->emplace_back();
      if (!record::decode_entry(payload, &e) || e.index() != reads[i].index ||
          e.term() != reads[i].term) {
        return corrupt;
      }
      p += record::kHeaderSize + h.length;
    }
  }
  return {};
}

// --- Wal ---

Wal::Wal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Wal::~Wal() = default;

StatusOr<std::unique_ptr<Wal>> Wal::open(const std::string& dir, const WalOptions& options,
                                         WalOpenInfo* info_out) {
  if (options.segment_size < kMinSegmentSize || options.segment_size > kMaxSegmentSize) {
    return invalid(raft::concat("segment_size ", options.segment_size, " is outside [",
                                kMinSegmentSize, ", ", kMaxSegmentSize, "]"));
  }
  FileSystem& fs = options.fs != nullptr ? *options.fs : posix_file_system();
  if (Status st = fs.create_dirs(dir); !st.ok()) return st;
  WalOpenInfo info;

  // Leftovers of segments a crash interrupted before they were renamed into place.
  auto names = fs.list(dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (!name.ends_with(segment::kTmpSuffix)) continue;
    if (Status st = fs.remove(join_path(dir, name)); !st.ok()) return st;
    ++info.tmp_files_removed;
  }
  if (info.tmp_files_removed > 0) {
    if (Status st = fs.sync_dir(dir); !st.ok()) return st;
  }

  auto replayed = replay::replay(fs, dir);
  if (!replayed.ok()) return replayed.status();
  replay::Result& r = replayed.value();
  if (r.damage) {
    if (!r.damage->torn) return r.damage->status;
    const replay::Damage& d = *r.damage;
    const std::string& path = r.segments[d.segment].path;
    const std::string copy = raft::concat(path, ".torn.", d.offset);
    if (Status st = replay::cut_range(fs, dir, path, d.offset, d.end, copy); !st.ok()) return st;
    info.torn_bytes = d.end - d.offset;
    info.torn_path = path;
    info.torn_offset = d.offset;
    info.torn_copy = copy;
  }

  auto impl = std::make_unique<Impl>(dir, options, fs);
  if (r.segments.empty()) {
    const segment::Header first{1, 1, 0};
    bool no_space = false;
    auto prepared = segment::prepare(fs, dir, first, options.segment_size, &no_space);
    if (!prepared.ok()) return prepared.status();
    auto file = segment::publish(fs, dir, prepared.value());
    if (!file.ok()) return file.status();
    // The directory itself may be new.
    if (Status st = fs.sync_dir(parent_dir(dir)); !st.ok()) return st;
    impl->segments.push_back({1, 1, prepared->path, 0, options.segment_size});
    impl->last_file = std::move(file.value());
    impl->write_offset = segment::kHeaderSize;
  } else {
    for (const replay::SegmentInfo& s : r.segments) {
      impl->segments.push_back({s.sequence, s.first_index, s.path, s.header_chain, s.file_size});
    }
    auto file = fs.open(r.segments.back().path, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    impl->last_file = std::move(file.value());
    // A killed process may have left records in the page cache that were never synced; they
    // are served from now on, so they must be durable first. Earlier segments were synced
    // before the segment after them was made.
    if (Status st = impl->last_file->sync_data(); !st.ok()) return st;
    impl->index = std::move(r.index);
    impl->write_offset = r.data_end;
    impl->chain = r.chain;
  }
  info.segments = r.segments_replayed;
  info.records = r.records;
  info.bytes = r.bytes;
  if (info_out != nullptr) *info_out = std::move(info);
  return std::unique_ptr<Wal>(new Wal(std::move(impl)));
}

Status Wal::repair(const std::string& dir, const WalOptions& options, uint64_t* cut_bytes) {
  *cut_bytes = 0;
  FileSystem& fs = options.fs != nullptr ? *options.fs : posix_file_system();
  if (!fs.exists(dir)) return {};
  auto replayed = replay::replay(fs, dir);
  if (!replayed.ok()) return replayed.status();
  const replay::Result& r = replayed.value();
  if (!r.damage) return {};
  const replay::Damage& d = *r.damage;

  // Whole segments first, newest first, so that a crash part way leaves sequence numbers
  // without a gap; then the damaged segment's tail.
  const size_t first_whole = d.offset == 0 ? d.segment : d.segment + 1;
  for (size_t k = r.segments.size(); k-- > first_whole;) {
    const replay::SegmentInfo& s = r.segments[k];
    if (Status st = fs.rename(s.path, s.path + ".cut.0"); !st.ok()) return st;
    *cut_bytes += s.file_size;
  }
  if (first_whole < r.segments.size()) {
    if (Status st = fs.sync_dir(dir); !st.ok()) return st;
  }
  if (d.offset > 0) {
    const std::string& path = r.segments[d.segment].path;
    const std::string copy = raft::concat(path, ".cut.", d.offset);
    if (Status st = replay::cut_range(fs, dir, path, d.offset, d.end, copy); !st.ok()) return st;
    *cut_bytes += d.end - d.offset;
  }
  return {};
}

Status Wal::append(const raft::EntryVec& entries) { return impl_->append(entries); }
Status Wal::truncate(uint64_t from_index) { return impl_->truncate(from_index); }
Status Wal::reset(uint64_t index, uint64_t term) { return impl_->reset(index, term); }
Status Wal::sync() { return impl_->sync(); }
Status Wal::compact(uint64_t index) { return impl_->compact(index); }

uint64_t Wal::first_index() const {
  std::shared_lock lock(impl_->mu);
  return impl_->index.first();
}

uint64_t Wal::last_index() const {
  std::shared_lock lock(impl_->mu);
  return impl_->index.last();
}

raft::Result<raft::EntryVec> Wal::entries(uint64_t lo, uint64_t hi, uint64_t max_size) const {
  return impl_->entries(lo, hi, max_size);
}

raft::Result<uint64_t> Wal::term(uint64_t index) const {
  std::shared_lock lock(impl_->mu);
  const LogIndex& log = impl_->index;
  if (index + 1 < log.first()) return raft::Error::kCompacted;
  if (index > log.last()) return raft::Error::kUnavailable;
  return log.term(index);
}

WalStats Wal::stats() const {
  WalStats s;
  {
    std::shared_lock lock(impl_->mu);
    s.segments = impl_->segments.size();
    s.cache_bytes = impl_->cache.bytes();
    s.index_bytes = impl_->index.memory_bytes();
  }
  s.syncs = impl_->syncs.load(std::memory_order_relaxed);
  s.bytes_written = impl_->bytes_written.load(std::memory_order_relaxed);
  s.cache_hits = impl_->cache_hits.load(std::memory_order_relaxed);
  s.cache_misses = impl_->cache_misses.load(std::memory_order_relaxed);
  return s;
}

const std::string& Wal::dir() const { return impl_->dir; }

}  // namespace wal
