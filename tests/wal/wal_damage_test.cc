// What the WAL does with a damaged directory (wal/wal.h, "Damage"):
//
//   - a torn tail — the last segment cut at any byte of its last records, by ftruncate or by
//     zeros from that byte on, as a crash in a preallocated file leaves it — is cut at open,
//     reported, and kept as a copy; everything before it is served intact and the log goes on;
//   - a bad record anywhere else (bit flips in earlier segments, or in the last one with valid
//     records after it), a bad segment header, a missing middle segment, an index gap, a broken
//     chain, or an end marker followed by data is corruption: open fails naming the file and the
//     offset, and leaves the directory exactly as it was; repair() cuts at the bad record and
//     the log opens with exactly the entries before it.
//
// Record boundaries come from tests/wal/support/segment_format.h, an independent reading of the
// documented format; the first test checks that reading against what the WAL writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/wal/support/derived_entries.h"
#include "tests/wal/support/segment_format.h"
#include "tests/wal/support/temp_dir.h"
#include "wal/file.h"
#include "wal/wal.h"

namespace wal::testing {
namespace {

constexpr uint64_t kSegmentSize = 4096;

WalOptions small_segments() {
  WalOptions o;
  o.segment_size = kSegmentSize;
  o.cache_bytes = 1 << 16;
  return o;
}

// Entries small enough that a segment holds dozens, so cutting every byte of a few stays quick.
raft::Entry small_entry(uint64_t index, uint64_t term) {
  raft::Entry e = derived_entry(index, term);
  e.mutable_data()->resize(1 + e.data().size() % 40);
  return e;
}

raft::EntryVec small_entries(uint64_t first, uint64_t n, uint64_t term) {
  raft::EntryVec out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(small_entry(first + i, term));
  return out;
}

void must(const Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + describe_status(s));
}

struct Opened {
  Status status;
  std::unique_ptr<Wal> wal;
  WalOpenInfo info;
};

Opened open_wal(const std::string& dir) {
  Opened o;
  auto r = Wal::open(dir, small_segments(), &o.info);
  if (r.ok())
    o.wal = std::move(r.value());
  else
    o.status = r.status();
  return o;
}

// The whole log the WAL serves equals `want`: first and last index and every entry.
::testing::AssertionResult serves(const Wal& wal, const ReplayedLog& want) {
  if (wal.first_index() != want.first_index || wal.last_index() != want.last_index()) {
    return ::testing::AssertionFailure()
           << "log is [" << wal.first_index() << ", " << wal.last_index() << "], want ["
           << want.first_index << ", " << want.last_index() << "]";
  }
  const raft::EntryVec got = read_all(wal);
  if (got.size() != want.entries.size()) {
    return ::testing::AssertionFailure()
           << "read " << got.size() << " entries, want " << want.entries.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (!same_entry(got[i], want.entries[i])) {
      return ::testing::AssertionFailure() << "entry " << i << " is " << describe_entry(got[i])
                                           << ", want " << describe_entry(want.entries[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

// Whether `text` holds `n` in decimal as a whole number (not inside a longer run of digits).
bool mentions_number(const std::string& text, uint64_t n) {
  const std::string digits = std::to_string(n);
  for (size_t pos = text.find(digits); pos != std::string::npos; pos = text.find(digits, pos + 1)) {
    const bool before = pos > 0 && std::isdigit(static_cast<unsigned char>(text[pos - 1]));
    const size_t end = pos + digits.size();
    const bool after = end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]));
    if (!before && !after) return true;
  }
  return false;
}

// The message names segment `name` (of directory `dir`) and, outside the file's name and path,
// the offset.
::testing::AssertionResult names_file_and_offset(const Status& s, const std::string& dir,
                                                 const std::string& name, uint64_t offset) {
  std::string rest = s.message();
  if (rest.find(name) == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name " << name << ": " << rest;
  }
  for (const std::string& drop : {join_path(dir, name), name}) {
    for (size_t p = rest.find(drop); p != std::string::npos; p = rest.find(drop)) {
      rest.erase(p, drop.size());
    }
  }
  if (!mentions_number(rest, offset)) {
    return ::testing::AssertionFailure()
           << "message does not give offset " << offset << ": " << s.message();
  }
  return ::testing::AssertionSuccess();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool zeros(const std::string& s, uint64_t from, uint64_t to) {
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from),
                     s.begin() + static_cast<std::ptrdiff_t>(to), [](char c) { return c == 0; });
}

// A WAL written once, kept as bytes so each case starts from an identical copy of it.
struct Pristine {
  DirContents files;
  std::vector<Segment> segments;
  ReplayedLog log;
  uint64_t max_term = 0;
};

// Writes a WAL with `write`, syncs and closes it, and reads back its bytes and its records.
Pristine make_pristine(const std::function<void(Wal&)>& write) {
  TempDir dir;
  const std::string path = dir.sub("wal");
  {
    auto w = Wal::open(path, small_segments());
    must(w.status(), "open");
    write(*w.value());
    must(w.value()->sync(), "sync");
  }
  Pristine p;
  p.files = read_dir(path);
  p.segments = parse_wal_dir(path);
  p.log = replay(p.segments);
  for (const Segment& s : p.segments) {
    for (const Record& r : s.records) p.max_term = std::max(p.max_term, r.term);
  }
  return p;
}

// Appends single entries until the WAL has `segments` segments, then `after` more entries.
void fill_segments(Wal& wal, uint64_t segments, uint64_t after, uint64_t term) {
  uint64_t rolled_at = 0;
  for (uint64_t n = 0; rolled_at == 0 || wal.last_index() < rolled_at + after;) {
    must(wal.append({small_entry(wal.last_index() + 1, term)}), "append");
    if (++n > 10000) throw std::runtime_error("the WAL never reached the segment count");
    if (rolled_at == 0 && wal.stats().segments >= segments) rolled_at = wal.last_index();
  }
}

// Several segments of entries, an overwrite by a new term, a truncation and more entries.
Pristine mixed_log() {
  return make_pristine([](Wal& w) {
    fill_segments(w, 4, 5, 1);
    const uint64_t last = w.last_index();
    must(w.append(small_entries(last - 3, 3, 2)), "overwrite");
    must(w.truncate(last - 2), "truncate");
    must(w.append(small_entries(last - 2, 6, 2)), "append");
  });
}

// --- The format, as written ---

TEST(WalFormat, WhatTheWalWritesIsTheDocumentedFormat) {
  const Pristine p = make_pristine([](Wal& w) {
    fill_segments(w, 3, 2, 1);
    must(w.append(small_entries(w.last_index() - 1, 2, 2)), "overwrite");
    must(w.truncate(w.last_index()), "truncate");
    must(w.reset(w.last_index() + 10, 3), "reset");
    must(w.append(small_entries(w.last_index() + 1, 3, 3)), "append");
  });
  ASSERT_GE(p.segments.size(), 3u);
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const Segment& s = p.segments[i];
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.error, "");
    const auto name = parse_segment_name(s.name);
    ASSERT_TRUE(name.has_value());
    EXPECT_EQ(s.header.sequence, i + 1);
    EXPECT_EQ(name->first, s.header.sequence);
    EXPECT_EQ(name->second, s.header.first_index);
    EXPECT_EQ(s.header.version, 1u);
    EXPECT_EQ(s.header.flags, 0u);
    EXPECT_EQ(s.header.chain, i == 0 ? 0u : p.segments[i - 1].last_crc());
    EXPECT_EQ(s.file_size, kSegmentSize) << "segments are preallocated to segment_size";
    EXPECT_FALSE(s.records.empty());
  }
  // Every record type is there, and the replay of the records is the log the WAL serves.
  std::vector<int> types(4, 0);
  for (const Segment& s : p.segments) {
    for (const Record& r : s.records) ++types[static_cast<int>(r.type)];
  }
  EXPECT_GT(types[1], 0);
  EXPECT_EQ(types[2], 1);
  EXPECT_EQ(types[3], 1);
  TempDir dir;
  write_dir(dir.path(), p.files);
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  EXPECT_EQ(p.log.error, "");
  EXPECT_TRUE(serves(*o.wal, p.log));
  EXPECT_EQ(o.info.segments, p.segments.size());
  EXPECT_EQ(o.info.torn_bytes, 0u);
  uint64_t records = 0;
  for (const Segment& s : p.segments) records += s.records.size();
  EXPECT_EQ(o.info.records, records);
}

// A log built by hand from the prose of wal/wal.h opens as that prose says it should.
TEST(WalFormat, HandBuiltSegmentsReplayByTheDocumentedRules) {
  uint32_t chain = 0;
  std::string seg1 = encode_segment_header(1, 1, 0);
  for (uint64_t i = 1; i <= 5; ++i)
    append_record(&seg1, RecordType::kEntry, entry_payload(small_entry(i, 1)), &chain);
  append_record(&seg1, RecordType::kTruncate, truncate_payload(5), &chain);            // log 1..4
  append_record(&seg1, RecordType::kEntry, entry_payload(small_entry(3, 2)), &chain);  // 1..3
  seg1.resize(kSegmentSize, '\0');
  std::string seg2 = encode_segment_header(2, 4, chain);
  for (uint64_t i = 4; i <= 6; ++i)
    append_record(&seg2, RecordType::kEntry, entry_payload(small_entry(i, 2)), &chain);
  std::string seg2r = seg2;  // the same segment with a reset after its entries, below
  seg2.resize(kSegmentSize, '\0');

  ReplayedLog want;
  want.first_index = 1;
  want.entries = {small_entry(1, 1), small_entry(2, 1), small_entry(3, 2),
                  small_entry(4, 2), small_entry(5, 2), small_entry(6, 2)};
  {
    TempDir dir;
    write_dir(dir.path(), {{segment_name(1, 1), seg1}, {segment_name(2, 4), seg2}});
    Opened o = open_wal(dir.path());
    ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
    EXPECT_TRUE(serves(*o.wal, want));
    EXPECT_EQ(o.info.segments, 2u);
    EXPECT_EQ(o.info.records, 10u);
    EXPECT_EQ(o.info.torn_bytes, 0u);
  }
  // A reset at the end: no entries, and the log continues after (20, 3).
  append_record(&seg2r, RecordType::kReset, reset_payload(20, 3), &chain);
  seg2r.resize(kSegmentSize, '\0');
  TempDir dir;
  write_dir(dir.path(), {{segment_name(1, 1), seg1}, {segment_name(2, 4), seg2r}});
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  EXPECT_EQ(o.wal->first_index(), 21u);
  EXPECT_EQ(o.wal->last_index(), 20u);
  auto t = o.wal->term(20);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(*t, 3u);
  EXPECT_TRUE(o.wal->append({small_entry(21, 3)}).ok());
}

// --- Torn tails: every byte of the last records of the last segment ---

enum class Tear { kTruncateFile, kZeroFromOffset };

const char* to_string(Tear t) { return t == Tear::kTruncateFile ? "ftruncate" : "zero-fill"; }

struct TearOutcome {
  size_t kept_records = 0;  // records of the last segment that survive
  bool torn = false;        // a record is left damaged (rather than fully gone)
};

// What the tear at `cut` of the last segment leaves: which records are untouched, and whether
// the first changed one is damaged (a torn tail) or entirely gone (zeros read as the end marker;
// a file that ends on a record boundary).
TearOutcome expected_tear(const Segment& last, const std::string& bytes, Tear tear, uint64_t cut) {
  TearOutcome out;
  for (const Record& r : last.records) {
    if (r.end() <= cut) {
      ++out.kept_records;
      continue;
    }
    if (tear == Tear::kTruncateFile) {
      out.torn = cut > r.offset;
      return out;
    }
    // Zeros over bytes that were zero change nothing: the record survives whole.
    const uint64_t from = std::max(cut, r.offset);
    if (zeros(bytes, from, r.end())) {
      ++out.kept_records;
      continue;
    }
    out.torn = cut > r.offset;
    return out;
  }
  return out;
}

// Tears the last segment of `p` at `cut`, opens, and checks the cut, the report, the copy, the
// entries, and that the log goes on and reopens cleanly.
void check_tear(const Pristine& p, Tear tear, uint64_t cut) {
  SCOPED_TRACE(::testing::Message() << to_string(tear) << " at offset " << cut);
  const Segment& last = p.segments.back();
  const std::string& original = p.files.at(last.name);
  TempDir dir;
  write_dir(dir.path(), p.files);
  const std::string path = join_path(dir.path(), last.name);
  if (tear == Tear::kTruncateFile) {
    truncate_file(path, cut);
  } else {
    std::string bytes = original;
    std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(cut), bytes.end(), '\0');
    write_file(path, bytes);
  }
  const std::string damaged = read_file(path);
  const TearOutcome want = expected_tear(last, original, tear, cut);
  const ReplayedLog want_log = replay_until(p.segments, p.segments.size() - 1, want.kept_records);

  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  ASSERT_TRUE(serves(*o.wal, want_log));
  if (!want.torn) {
    EXPECT_EQ(o.info.torn_bytes, 0u);
  } else {
    const Record& bad = last.records[want.kept_records];
    EXPECT_EQ(o.info.torn_offset, bad.offset);
    EXPECT_TRUE(ends_with(o.info.torn_path, last.name)) << o.info.torn_path;
    // The cut covers every non-zero byte from the damaged record on (zeros at the end are
    // indistinguishable from preallocated space, so whether they count is the WAL's choice).
    uint64_t last_nonzero = damaged.size();
    while (last_nonzero > bad.offset && damaged[last_nonzero - 1] == 0) --last_nonzero;
    EXPECT_GE(bad.offset + o.info.torn_bytes, std::max(last_nonzero, bad.offset + 1));
    EXPECT_LE(bad.offset + o.info.torn_bytes, damaged.size());
    ASSERT_FALSE(o.info.torn_copy.empty());
    EXPECT_TRUE(ends_with(o.info.torn_copy, last.name + ".torn." + std::to_string(bad.offset)))
        << o.info.torn_copy;
    const std::string copy = read_file(o.info.torn_copy);
    EXPECT_EQ(copy.size(), o.info.torn_bytes);
    EXPECT_EQ(copy, damaged.substr(bad.offset, o.info.torn_bytes))
        << "the copy holds the cut bytes";
    const std::string after = read_file(path);
    EXPECT_TRUE(zeros(after, std::min<uint64_t>(bad.offset, after.size()), after.size()))
        << "the torn bytes are overwritten with zeros";
  }

  // The log goes on from the cut, and a reopen finds nothing more to cut.
  ReplayedLog grown = want_log;
  const raft::EntryVec more = small_entries(want_log.last_index() + 1, 3, p.max_term + 1);
  ASSERT_TRUE(o.wal->append(more).ok());
  ASSERT_TRUE(o.wal->sync().ok());
  grown.entries.insert(grown.entries.end(), more.begin(), more.end());
  o.wal.reset();
  Opened again = open_wal(dir.path());
  ASSERT_TRUE(again.status.ok()) << describe_status(again.status);
  EXPECT_EQ(again.info.torn_bytes, 0u);
  EXPECT_TRUE(serves(*again.wal, grown));
}

// Every byte offset of the last `n` records of the last segment, and the end of its data.
void tear_everywhere(const Pristine& p, size_t n) {
  const Segment& last = p.segments.back();
  ASSERT_EQ(last.error, "");
  ASSERT_GE(last.records.size(), n);
  const uint64_t from = last.records[last.records.size() - n].offset;
  for (Tear tear : {Tear::kTruncateFile, Tear::kZeroFromOffset}) {
    for (uint64_t cut = from; cut <= last.data_end; ++cut) {
      check_tear(p, tear, cut);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(WalTornTail, EveryOffsetOfTheLastRecords) {
  // The last segment holds four records; the first of them chains from the previous segment.
  const Pristine p = make_pristine([](Wal& w) { fill_segments(w, 3, 3, 1); });
  ASSERT_EQ(p.segments.size(), 3u);
  ASSERT_EQ(p.segments.back().records.size(), 4u);
  tear_everywhere(p, 4);
}

TEST(WalTornTail, EveryOffsetOfTruncateAndOverwriteRecords) {
  const Pristine p = make_pristine([](Wal& w) {
    fill_segments(w, 2, 4, 1);
    const uint64_t last = w.last_index();
    must(w.append(small_entries(last - 1, 1, 2)), "overwrite");  // drops `last`
    must(w.truncate(last - 1), "truncate");                      // drops the overwrite
    must(w.append(small_entries(last - 1, 1, 3)), "append");
  });
  const Segment& last = p.segments.back();
  ASSERT_GE(last.records.size(), 3u);
  EXPECT_EQ(last.records[last.records.size() - 2].type, RecordType::kTruncate);
  tear_everywhere(p, 3);
}

TEST(WalTornTail, EveryOffsetOfAResetRecord) {
  const Pristine p = make_pristine([](Wal& w) {
    fill_segments(w, 2, 2, 1);
    must(w.reset(w.last_index() + 5, 4), "reset");
    must(w.append(small_entries(w.last_index() + 1, 1, 4)), "append");
  });
  const Segment& last = p.segments.back();
  ASSERT_GE(last.records.size(), 2u);
  EXPECT_EQ(last.records[last.records.size() - 2].type, RecordType::kReset);
  tear_everywhere(p, 2);
}

TEST(WalTornTail, GarbageWhereTheEndMarkerWasIsATornTail) {
  const Pristine p = make_pristine([](Wal& w) { fill_segments(w, 2, 3, 1); });
  const Segment& last = p.segments.back();
  for (uint64_t at = last.data_end; at < last.data_end + kRecordHeaderSize; ++at) {
    SCOPED_TRACE(::testing::Message() << "garbage at " << at);
    TempDir dir;
    DirContents files = p.files;
    files[last.name][at] = '\x5a';
    write_dir(dir.path(), files);
    Opened o = open_wal(dir.path());
    ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
    EXPECT_TRUE(serves(*o.wal, p.log));
    EXPECT_EQ(o.info.torn_offset, last.data_end);
    EXPECT_GE(o.info.torn_bytes, at + 1 - last.data_end);
    EXPECT_EQ(read_file(join_path(dir.path(), last.name)), p.files.at(last.name));
  }
}

TEST(WalTornTail, LeftoverTmpSegmentIsRemoved) {
  const Pristine p = make_pristine([](Wal& w) { fill_segments(w, 2, 3, 1); });
  TempDir dir;
  DirContents files = p.files;
  const std::string tmp = segment_name(3, p.log.last_index() + 1) + ".tmp";
  files[tmp] = std::string(100, 'x');
  write_dir(dir.path(), files);
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  EXPECT_EQ(o.info.tmp_files_removed, 1u);
  EXPECT_FALSE(posix_file_system().exists(dir.sub(tmp)));
  EXPECT_TRUE(serves(*o.wal, p.log));
  EXPECT_TRUE(o.wal->append(small_entries(p.log.last_index() + 1, 40, 2)).ok());
  EXPECT_TRUE(o.wal->sync().ok());
}

// --- Corruption ---

// Opening `files` fails with kCorruption naming `name` (unless it is empty) and `offset` (unless
// it is npos), and leaves every file as it was.
void expect_corruption(const DirContents& files, const std::string& name, uint64_t offset) {
  TempDir dir;
  write_dir(dir.path(), files);
  Opened o = open_wal(dir.path());
  ASSERT_FALSE(o.status.ok()) << "open succeeded on a corrupt log";
  EXPECT_EQ(o.status.code(), make_error_code(Error::kCorruption)) << describe_status(o.status);
  EXPECT_FALSE(o.status.message().empty());
  if (name.empty()) {
    // A gap between files: which of the two the message names is the implementation's choice.
  } else if (offset == std::string::npos) {
    EXPECT_NE(o.status.message().find(name), std::string::npos) << o.status.message();
  } else {
    EXPECT_TRUE(names_file_and_offset(o.status, dir.path(), name, offset));
  }
  EXPECT_TRUE(read_dir(dir.path()) == files) << "open modified a corrupt log";
}

// repair() of `files` (a corrupt copy of `p`) succeeds, after which open serves exactly the
// records of p's segments before `segment_pos` and the first `records` of that one, and the log
// goes on.
void expect_repair(const Pristine& p, const DirContents& files, size_t segment_pos,
                   size_t records) {
  TempDir dir;
  write_dir(dir.path(), files);
  uint64_t cut_bytes = 0;
  const Status repaired = Wal::repair(dir.path(), small_segments(), &cut_bytes);
  ASSERT_TRUE(repaired.ok()) << describe_status(repaired);
  EXPECT_GT(cut_bytes, 0u);
  ReplayedLog want = replay_until(p.segments, segment_pos, records);
  if (segment_pos == 0 && records == 0) want = ReplayedLog{};  // nothing left: a new log
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  EXPECT_TRUE(serves(*o.wal, want));
  EXPECT_TRUE(o.wal->append(small_entries(want.last_index() + 1, 2, p.max_term + 1)).ok());
  EXPECT_TRUE(o.wal->sync().ok());
}

// Flips one bit of record `rec` of segment `seg`, then: open fails and touches nothing; repair
// cuts there; open serves exactly the records before; the log goes on.
void check_flip(const Pristine& p, size_t seg, size_t rec, uint64_t byte, int bit) {
  const Segment& s = p.segments[seg];
  const Record& r = s.records[rec];
  SCOPED_TRACE(::testing::Message() << "bit " << bit << " of byte " << byte << " in record at "
                                    << r.offset << " of " << s.name);
  DirContents files = p.files;
  files[s.name][byte] = static_cast<char>(files[s.name][byte] ^ (1 << bit));
  expect_corruption(files, s.name, r.offset);
  if (::testing::Test::HasFailure()) return;

  TempDir dir;
  write_dir(dir.path(), files);
  uint64_t cut_bytes = 0;
  const Status repaired = Wal::repair(dir.path(), small_segments(), &cut_bytes);
  ASSERT_TRUE(repaired.ok()) << describe_status(repaired);
  EXPECT_GE(cut_bytes, r.size());
  const DirContents after = read_dir(dir.path());
  const std::string cut_copy = s.name + ".cut." + std::to_string(r.offset);
  ASSERT_EQ(after.count(cut_copy), 1u) << "no " << cut_copy;
  EXPECT_TRUE(starts_with(after.at(cut_copy), files[s.name].substr(r.offset, r.size())));
  ASSERT_EQ(after.count(s.name), 1u);
  const std::string& cut_segment = after.at(s.name);
  EXPECT_TRUE(
      zeros(cut_segment, std::min<uint64_t>(r.offset, cut_segment.size()), cut_segment.size()))
      << "the bad record and what follows are still in " << s.name;
  for (size_t later = seg + 1; later < p.segments.size(); ++later) {
    EXPECT_EQ(after.count(p.segments[later].name), 0u) << p.segments[later].name << " survived";
  }

  const ReplayedLog want = replay_until(p.segments, seg, rec);
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  EXPECT_EQ(o.info.torn_bytes, 0u);
  EXPECT_TRUE(serves(*o.wal, want));
  ASSERT_TRUE(o.wal->append(small_entries(want.last_index() + 1, 2, p.max_term + 1)).ok());
  ASSERT_TRUE(o.wal->sync().ok());
  o.wal.reset();
  uint64_t again = 1;
  EXPECT_TRUE(Wal::repair(dir.path(), small_segments(), &again).ok());
  EXPECT_EQ(again, 0u) << "a second repair found something to cut";
  Opened reopened = open_wal(dir.path());
  ASSERT_TRUE(reopened.status.ok()) << describe_status(reopened.status);
  EXPECT_EQ(reopened.wal->last_index(), want.last_index() + 2);
}

TEST(WalCorruption, BitFlipsInRecordsBeforeTheTail) {
  const Pristine p = mixed_log();
  ASSERT_GE(p.segments.size(), 4u);
  const uint32_t seed = 20240611;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  int flips = 0;
  for (int i = 0; i < 160; ++i) {
    const size_t seg = rng() % p.segments.size();
    const bool last = seg + 1 == p.segments.size();
    // In the last segment a bad record is corruption only with records after it.
    const size_t usable = p.segments[seg].records.size() - (last ? 1 : 0);
    const size_t rec = rng() % usable;
    const Record& r = p.segments[seg].records[rec];
    // Half of the flips land in the 16-byte record header.
    const uint64_t byte =
        r.offset + (rng() % 2 == 0 ? rng() % kRecordHeaderSize : rng() % r.size());
    check_flip(p, seg, rec, byte, static_cast<int>(rng() % 8));
    ++flips;
    if (HasFailure()) break;
  }
  EXPECT_EQ(flips, 160);
}

TEST(WalCorruption, FirstAndLastRecordOfEachSegment) {
  const Pristine p = mixed_log();
  for (size_t seg = 0; seg < p.segments.size(); ++seg) {
    const auto& recs = p.segments[seg].records;
    const bool last = seg + 1 == p.segments.size();
    if (recs.size() < (last ? 2u : 1u)) continue;
    const size_t final_rec = recs.size() - (last ? 2 : 1);
    for (size_t rec : {size_t{0}, final_rec}) {
      check_flip(p, seg, rec, recs[rec].end() - 1, 0);    // payload, last byte
      check_flip(p, seg, rec, recs[rec].offset + 12, 7);  // payload CRC field
      if (HasFailure()) return;
    }
  }
}

TEST(WalCorruption, DamagedSegmentHeaders) {
  const Pristine p = mixed_log();
  std::mt19937_64 rng(7);
  for (size_t seg : {size_t{0}, p.segments.size() / 2, p.segments.size() - 1}) {
    const std::string& name = p.segments[seg].name;
    for (uint64_t byte = 0; byte < kSegmentHeaderSize; ++byte) {
      SCOPED_TRACE(::testing::Message() << name << " header byte " << byte);
      DirContents files = p.files;
      files[name][byte] = static_cast<char>(files[name][byte] ^ (1 << (rng() % 8)));
      expect_corruption(files, name, std::string::npos);
      if (byte % 8 == 0) expect_repair(p, files, seg, 0);  // the segment goes whole
      if (HasFailure()) return;
    }
    SCOPED_TRACE(name + " cut inside its header");
    DirContents files = p.files;
    files[name].resize(kSegmentHeaderSize / 2);
    expect_corruption(files, name, std::string::npos);
    expect_repair(p, files, seg, 0);
  }
}

TEST(WalCorruption, MissingMiddleSegment) {
  const Pristine p = mixed_log();
  DirContents files = p.files;
  files.erase(p.segments[1].name);
  expect_corruption(files, "", std::string::npos);
  expect_repair(p, files, 1, 0);  // segments after the gap go
}

TEST(WalCorruption, MissingFirstSegmentIsWhatCompactionLeaves) {
  const Pristine p = mixed_log();
  DirContents files = p.files;
  files.erase(p.segments[0].name);
  TempDir dir;
  write_dir(dir.path(), files);
  Opened o = open_wal(dir.path());
  ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
  const std::vector<Segment> rest(p.segments.begin() + 1, p.segments.end());
  EXPECT_TRUE(serves(*o.wal, replay(rest)));
}

TEST(WalCorruption, EndMarkerFollowedByData) {
  const Pristine p = mixed_log();
  std::mt19937_64 rng(11);
  // The earlier segment with the most room after its data, and the last one.
  size_t roomy = 0;
  for (size_t i = 0; i + 1 < p.segments.size(); ++i) {
    if (p.segments[i].data_end < p.segments[roomy].data_end) roomy = i;
  }
  for (size_t seg : {roomy, p.segments.size() - 1}) {
    const Segment& s = p.segments[seg];
    ASSERT_GT(s.file_size, s.data_end + kRecordHeaderSize + 1);
    const uint64_t room = s.file_size - s.data_end - kRecordHeaderSize;
    for (uint64_t at : {s.data_end + kRecordHeaderSize,
                        s.data_end + kRecordHeaderSize + rng() % room, s.file_size - 1}) {
      SCOPED_TRACE(::testing::Message() << s.name << " byte " << at);
      DirContents files = p.files;
      files[s.name][at] = '\x01';
      expect_corruption(files, s.name, std::string::npos);
      expect_repair(p, files, seg, s.records.size());
    }
  }
  // In an earlier segment even a bad record header where the end marker was is corruption.
  DirContents files = p.files;
  files[p.segments[roomy].name][p.segments[roomy].data_end + 3] = '\x01';
  expect_corruption(files, p.segments[roomy].name, p.segments[roomy].data_end);
}

// Two hand-built segments: entries 1..4, then three entries from `first2` in a segment numbered
// `seq2`, whose header chain is wrong when `break_chain`.
DirContents two_segments(uint64_t seq2, uint64_t first2, bool break_chain) {
  uint32_t chain = 0;
  std::string seg1 = encode_segment_header(1, 1, 0);
  for (uint64_t i = 1; i <= 4; ++i)
    append_record(&seg1, RecordType::kEntry, entry_payload(small_entry(i, 1)), &chain);
  seg1.resize(kSegmentSize, '\0');
  if (break_chain) chain ^= 0x5a5a5a5a;  // records consistent among themselves, header wrong
  std::string seg2 = encode_segment_header(seq2, first2, chain);
  for (uint64_t i = first2; i < first2 + 3; ++i)
    append_record(&seg2, RecordType::kEntry, entry_payload(small_entry(i, 1)), &chain);
  seg2.resize(kSegmentSize, '\0');
  return {{segment_name(1, 1), seg1}, {segment_name(seq2, first2), seg2}};
}

TEST(WalCorruption, HandBuiltGapsAndBrokenChain) {
  {
    SCOPED_TRACE("well formed");
    TempDir dir;
    write_dir(dir.path(), two_segments(2, 5, false));
    Opened o = open_wal(dir.path());
    ASSERT_TRUE(o.status.ok()) << describe_status(o.status);
    EXPECT_EQ(o.wal->last_index(), 7u);
  }
  {
    SCOPED_TRACE("sequence gap");
    expect_corruption(two_segments(3, 5, false), "", std::string::npos);
  }
  {
    SCOPED_TRACE("index gap between segments");
    expect_corruption(two_segments(2, 6, false), segment_name(2, 6), std::string::npos);
  }
  {
    SCOPED_TRACE("segment from another chain");
    expect_corruption(two_segments(2, 5, true), segment_name(2, 5), std::string::npos);
  }
  {
    SCOPED_TRACE("index gap inside a segment, records valid");
    uint32_t chain = 0;
    std::string seg = encode_segment_header(1, 1, 0);
    append_record(&seg, RecordType::kEntry, entry_payload(small_entry(1, 1)), &chain);
    append_record(&seg, RecordType::kEntry, entry_payload(small_entry(2, 1)), &chain);
    const uint64_t gap_at = seg.size();
    append_record(&seg, RecordType::kEntry, entry_payload(small_entry(4, 1)), &chain);
    append_record(&seg, RecordType::kEntry, entry_payload(small_entry(5, 1)), &chain);
    seg.resize(kSegmentSize, '\0');
    expect_corruption({{segment_name(1, 1), seg}}, segment_name(1, 1), gap_at);
  }
}

}  // namespace
}  // namespace wal::testing
