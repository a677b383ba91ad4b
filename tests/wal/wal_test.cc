// Functional tests of wal::Wal (wal/wal.h): writing and reading back across segments, what
// survives a reopen, truncation, reset and compaction, read limits and errors, the entry cache,
// concurrent readers, the file names and headers the header documents, and repair().
//
// Damage at every offset, bit flips, injected I/O failures and crashes are covered by
// wal_damage_test.cc, wal_faults_test.cc and wal_crash_test.cc.
#include "wal/wal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "raft/crc32c.h"
#include "tests/wal/support/temp_dir.h"

namespace wal {
namespace {

using testing::TempDir;

constexpr uint64_t kSegmentHeaderSize = 40;
constexpr uint64_t kRecordHeaderSize = 16;
constexpr uint64_t kEntryFixedSize = 21;

// --- Entries whose bytes follow from (index, term), so any read can be checked on its own ---

std::string data_for(uint64_t index, uint64_t term, size_t size) {
  std::string s(size, '\0');
  for (size_t k = 0; k < size; ++k) s[k] = static_cast<char>((index * 131 + term * 31 + k) & 0xFF);
  return s;
}

// Sizes vary with the index: mostly small, some empty, some with a context.
raft::Entry make_entry(uint64_t index, uint64_t term, size_t size = 0) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  if (size == 0) size = (index * 37) % 97;
  e.set_data(data_for(index, term, size));
  if (index % 5 == 0) e.set_context("ctx" + std::to_string(index));
  if (index % 7 == 0) e.set_entry_type(eraftpb::EntryConfChangeV2);
  return e;
}

raft::EntryVec make_entries(uint64_t first, uint64_t n, uint64_t term, size_t size = 0) {
  raft::EntryVec v;
  for (uint64_t i = first; i < first + n; ++i) v.push_back(make_entry(i, term, size));
  return v;
}

// Whether an entry is the one make_entry() builds for its index and term.
bool intact(const raft::Entry& e) {
  raft::Entry want = make_entry(e.index(), e.term(), e.data().size());
  if (e.data().empty()) want.clear_data();
  return e.SerializeAsString() == want.SerializeAsString();
}

bool same(const raft::Entry& a, const raft::Entry& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

WalOptions small_segments(uint64_t segment_size = 512, uint64_t cache_bytes = 0) {
  WalOptions o;
  o.segment_size = segment_size;
  o.cache_bytes = cache_bytes;
  return o;
}

std::unique_ptr<Wal> open_ok(const std::string& dir, const WalOptions& o,
                             WalOpenInfo* info = nullptr) {
  auto w = Wal::open(dir, o, info);
  EXPECT_TRUE(w.ok()) << w.status().message();
  if (!w.ok()) return nullptr;
  return std::move(w.value());
}

// The whole log through the public interface.
raft::EntryVec read_all(const Wal& w) {
  if (w.last_index() < w.first_index()) return {};
  auto r = w.entries(w.first_index(), w.last_index() + 1, raft::kNoLimit);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? r.value() : raft::EntryVec{};
}

void expect_log(const Wal& w, uint64_t first, const raft::EntryVec& want) {
  ASSERT_EQ(w.first_index(), first);
  ASSERT_EQ(w.last_index(), first + want.size() - 1);
  const raft::EntryVec got = read_all(w);
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_TRUE(same(got[k], want[k])) << "entry " << want[k].index();
    auto t = w.term(want[k].index());
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, want[k].term()) << "term of " << want[k].index();
  }
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() == 37 && n.ends_with(".wal")) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool has_file_containing(const std::string& dir, const std::string& part) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(part) != std::string::npos) return true;
  }
  return false;
}

uint32_t u32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}
uint64_t u64(const std::string& s, size_t at) {
  uint64_t v;
  std::memcpy(&v, s.data() + at, 8);
  return v;
}

// Applies an append to a model of the log.
void model_append(raft::EntryVec& model, uint64_t first_index, const raft::EntryVec& batch) {
  model.resize(batch.front().index() - first_index);
  model.insert(model.end(), batch.begin(), batch.end());
}

// --- A new log ---

TEST(Wal, NewLogIsEmptyAndHasOneDocumentedSegment) {
  TempDir tmp;
  const std::string dir = tmp.sub("wal/nested");  // open() creates missing directories
  WalOpenInfo info;
  auto w = open_ok(dir, small_segments(4096), &info);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->dir(), dir);
  EXPECT_EQ(w->first_index(), 1u);
  EXPECT_EQ(w->last_index(), 0u);
  EXPECT_EQ(*w->term(0), 0u);
  EXPECT_EQ(w->term(1).error(), raft::Error::kUnavailable);
  auto none = w->entries(1, 1, raft::kNoLimit);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(w->entries(1, 2, raft::kNoLimit).error(), raft::Error::kUnavailable);
  EXPECT_EQ(info.segments, 0u);
  EXPECT_EQ(info.records, 0u);
  EXPECT_EQ(info.torn_bytes, 0u);
  EXPECT_EQ(w->stats().segments, 1u);

  ASSERT_EQ(segment_files(dir), std::vector<std::string>{"0000000000000001-0000000000000001.wal"});
  const std::string bytes = testing::read_file(dir + "/0000000000000001-0000000000000001.wal");
  ASSERT_EQ(bytes.size(), 4096u);  // preallocated
  EXPECT_EQ(bytes.substr(0, 8), "RAFTWAL1");
  EXPECT_EQ(u32(bytes, 8), 1u);   // version
  EXPECT_EQ(u32(bytes, 12), 0u);  // flags
  EXPECT_EQ(u64(bytes, 16), 1u);  // sequence
  EXPECT_EQ(u64(bytes, 24), 1u);  // first index
  EXPECT_EQ(u32(bytes, 32), 0u);  // chain of the first segment
  EXPECT_EQ(u32(bytes, 36), raft::crc32c::value(bytes.data(), 36));
  EXPECT_EQ(bytes.find_first_not_of('\0', kSegmentHeaderSize), std::string::npos);
}

TEST(Wal, RejectsBadOptions) {
  TempDir tmp;
  WalOptions o;
  o.segment_size = 55;
  EXPECT_EQ(Wal::open(tmp.path(), o).status().code(), Error::kInvalidArgument);
  o.segment_size = (uint64_t{1} << 32) + 1;
  EXPECT_EQ(Wal::open(tmp.path(), o).status().code(), Error::kInvalidArgument);
  o.segment_size = 56;  // a header and one record header: every entry gets its own segment
  auto w = open_ok(tmp.sub("tiny"), o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(make_entries(1, 3, 1)).ok());
  EXPECT_EQ(read_all(*w).size(), 3u);
}

// --- Writing and reading back ---

TEST(Wal, AppendsAndReadsBackAcrossManySegmentsAndReopens) {
  TempDir tmp;
  const uint64_t seed = 20240611;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  raft::EntryVec model;
  uint64_t syncs = 0;
  {
    auto w = open_ok(tmp.path(), small_segments(512));
    ASSERT_TRUE(w);
    uint64_t next = 1;
    for (int batch = 0; batch < 60; ++batch) {
      const uint64_t n = 1 + rng() % 8;
      raft::EntryVec v = make_entries(next, n, 1 + batch / 10);
      ASSERT_TRUE(w->append(v).ok());
      model_append(model, 1, v);
      next += n;
      if (rng() % 3 == 0) {
        ASSERT_TRUE(w->sync().ok());
        ++syncs;
      }
    }
    ASSERT_TRUE(w->sync().ok());
    expect_log(*w, 1, model);
    EXPECT_GT(w->stats().segments, 20u);
    EXPECT_GE(w->stats().syncs, syncs);
  }
  WalOpenInfo info;
  auto w = open_ok(tmp.path(), small_segments(512), &info);
  ASSERT_TRUE(w);
  expect_log(*w, 1, model);
  EXPECT_EQ(info.records, model.size());
  EXPECT_EQ(info.segments, segment_files(tmp.path()).size());
  EXPECT_EQ(info.torn_bytes, 0u);
  EXPECT_EQ(info.tmp_files_removed, 0u);
  EXPECT_EQ(w->stats().segments, info.segments);

  // The log goes on after a reopen, in the segment it stopped in, and reopens again.
  const raft::EntryVec more = make_entries(model.size() + 1, 30, 9);
  ASSERT_TRUE(w->append(more).ok());
  ASSERT_TRUE(w->sync().ok());
  model_append(model, 1, more);
  w.reset();
  w = open_ok(tmp.path(), small_segments(512));
  ASSERT_TRUE(w);
  expect_log(*w, 1, model);
}

TEST(Wal, SegmentNamesHeadersAndRecordsAreAsDocumented) {
  TempDir tmp;
  raft::EntryVec model;
  {
    auto w = open_ok(tmp.path(), small_segments(600));
    ASSERT_TRUE(w);
    for (uint64_t i = 1; i <= 80; i += 4) {
      raft::EntryVec v = make_entries(i, 4, 2);
      ASSERT_TRUE(w->append(v).ok());
      model_append(model, 1, v);
    }
    ASSERT_TRUE(w->sync().ok());
  }
  const std::vector<std::string> names = segment_files(tmp.path());
  ASSERT_GT(names.size(), 5u);
  uint32_t chain = 0;
  uint64_t next_index = 1;
  for (size_t k = 0; k < names.size(); ++k) {
    SCOPED_TRACE(names[k]);
    char want_name[64];
    std::snprintf(want_name, sizeof want_name, "%016llx-%016llx.wal",
                  static_cast<unsigned long long>(k + 1),
                  static_cast<unsigned long long>(next_index));
    EXPECT_EQ(names[k], want_name);  // sequence from 1 without gaps; first index = next entry
    const std::string bytes = testing::read_file(tmp.path() + "/" + names[k]);
    EXPECT_EQ(bytes.size(), 600u);
    EXPECT_EQ(u64(bytes, 16), k + 1);
    EXPECT_EQ(u64(bytes, 24), next_index);
    EXPECT_EQ(u32(bytes, 32), chain);  // the previous segment's last payload CRC
    EXPECT_EQ(u32(bytes, 36), raft::crc32c::value(bytes.data(), 36));
    // Records back to back, each header checksummed, each payload CRC chained.
    size_t at = kSegmentHeaderSize;
    while (at + kRecordHeaderSize <= bytes.size() &&
           bytes.find_first_not_of('\0', at) < at + kRecordHeaderSize) {
      const uint32_t length = u32(bytes, at);
      EXPECT_EQ(bytes[at + 4], 1);  // entry
      EXPECT_EQ(bytes.substr(at + 5, 3), std::string(3, '\0'));
      EXPECT_EQ(u32(bytes, at + 8), raft::crc32c::value(bytes.data() + at, 8));
      chain = raft::crc32c::extend(chain, bytes.data() + at + kRecordHeaderSize, length);
      EXPECT_EQ(u32(bytes, at + 12), chain);
      const std::string payload = bytes.substr(at + kRecordHeaderSize, length);
      const raft::Entry& want = model[next_index - 1];
      EXPECT_EQ(u64(payload, 0), want.index());
      EXPECT_EQ(u64(payload, 8), want.term());
      EXPECT_EQ(static_cast<int>(payload[16]), want.entry_type());
      EXPECT_EQ(u32(payload, 17), want.context().size());
      EXPECT_EQ(payload.substr(kEntryFixedSize), want.context() + want.data());
      ++next_index;
      at += kRecordHeaderSize + length;
    }
    // Zeros to the end of the preallocated file.
    EXPECT_EQ(bytes.find_first_not_of('\0', at), std::string::npos);
  }
  EXPECT_EQ(next_index, model.size() + 1);
}

TEST(Wal, RecordBiggerThanASegmentGetsItsOwnSegment) {
  TempDir tmp;
  const WalOptions o = small_segments(256, 1 << 20);
  raft::EntryVec model;
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(make_entries(1, 2, 1, 10)).ok());
    raft::EntryVec big = {make_entry(3, 1, 5000)};
    ASSERT_TRUE(w->append(big).ok());
    ASSERT_TRUE(w->append(make_entries(4, 2, 1, 10)).ok());
    ASSERT_TRUE(w->sync().ok());
    model = make_entries(1, 2, 1, 10);
    model.push_back(big[0]);
    for (auto& e : make_entries(4, 2, 1, 10)) model.push_back(e);
    expect_log(*w, 1, model);
  }
  const std::vector<std::string> names = segment_files(tmp.path());
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[1], "0000000000000002-0000000000000003.wal");
  const uint64_t big_record = kRecordHeaderSize + kEntryFixedSize + 5000;
  EXPECT_EQ(std::filesystem::file_size(tmp.path() + "/" + names[1]),
            kSegmentHeaderSize + big_record);  // just large enough
  EXPECT_EQ(std::filesystem::file_size(tmp.path() + "/" + names[2]), 256u);
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  expect_log(*w, 1, model);
}

// --- Truncation, reset, compaction ---

TEST(Wal, AppendingAtALowerIndexReplacesTheSuffixAndSurvivesReopen) {
  TempDir tmp;
  const WalOptions o = small_segments(400, 2000);
  raft::EntryVec model;
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    raft::EntryVec v = make_entries(1, 40, 1);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    // A new leader overwrites from 31 (in a later segment than most of the log)...
    v = make_entries(31, 3, 2);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    expect_log(*w, 1, model);
    EXPECT_EQ(w->term(35).error(), raft::Error::kUnavailable);
    // ...and another from 5, far back, in the first segment.
    v = make_entries(5, 10, 3);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    expect_log(*w, 1, model);
    // Overwriting the very first entry is allowed too.
    v = make_entries(1, 2, 4);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    v = make_entries(3, 20, 4);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    ASSERT_TRUE(w->sync().ok());
    expect_log(*w, 1, model);
  }
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  expect_log(*w, 1, model);
}

TEST(Wal, TruncateDropsTheSuffixAndSurvivesReopen) {
  TempDir tmp;
  const WalOptions o = small_segments(400, 1 << 20);
  raft::EntryVec model = make_entries(1, 30, 1);
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(model).ok());
    const uint64_t written = w->stats().bytes_written;
    ASSERT_TRUE(w->truncate(31).ok());  // nothing to drop: writes nothing
    EXPECT_EQ(w->stats().bytes_written, written);
    EXPECT_EQ(w->truncate(0).code(), Error::kInvalidArgument);
    EXPECT_EQ(w->truncate(32).code(), Error::kInvalidArgument);
    ASSERT_TRUE(w->truncate(12).ok());
    model.resize(11);
    expect_log(*w, 1, model);
    EXPECT_EQ(w->entries(5, 13, raft::kNoLimit).error(), raft::Error::kUnavailable);
    // Appending after a truncation continues at the cut.
    raft::EntryVec v = make_entries(12, 5, 2);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    ASSERT_TRUE(w->sync().ok());
    expect_log(*w, 1, model);
  }
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    expect_log(*w, 1, model);
    // Truncating everything leaves an empty log that still starts at 1.
    ASSERT_TRUE(w->truncate(1).ok());
    ASSERT_TRUE(w->sync().ok());
    EXPECT_EQ(w->last_index(), 0u);
  }
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->first_index(), 1u);
  EXPECT_EQ(w->last_index(), 0u);
}

TEST(Wal, ResetMovesTheStartAndSurvivesReopen) {
  TempDir tmp;
  const WalOptions o = small_segments(400, 1 << 20);
  raft::EntryVec model;
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(make_entries(1, 20, 1)).ok());
    ASSERT_TRUE(w->reset(100, 7).ok());
    EXPECT_EQ(w->first_index(), 101u);
    EXPECT_EQ(w->last_index(), 100u);
    EXPECT_EQ(*w->term(100), 7u);
    EXPECT_EQ(w->term(99).error(), raft::Error::kCompacted);
    EXPECT_EQ(w->term(101).error(), raft::Error::kUnavailable);
    EXPECT_EQ(w->entries(20, 21, raft::kNoLimit).error(), raft::Error::kCompacted);
    EXPECT_EQ(w->append(make_entries(102, 1, 7)).code(), Error::kInvalidArgument);  // a gap
    EXPECT_EQ(w->append(make_entries(100, 1, 7)).code(), Error::kInvalidArgument);  // before
    model = make_entries(101, 10, 8);
    ASSERT_TRUE(w->append(model).ok());
    ASSERT_TRUE(w->sync().ok());
    expect_log(*w, 101, model);
  }
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    expect_log(*w, 101, model);
    EXPECT_EQ(*w->term(100), 7u);
    // A reset may also go back, below the current log.
    ASSERT_TRUE(w->reset(50, 3).ok());
    EXPECT_EQ(w->first_index(), 51u);
    EXPECT_EQ(w->last_index(), 50u);
    ASSERT_TRUE(w->sync().ok());
  }
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->first_index(), 51u);
  EXPECT_EQ(w->last_index(), 50u);
  EXPECT_EQ(*w->term(50), 3u);
  EXPECT_EQ(w->term(49).error(), raft::Error::kCompacted);
}

TEST(Wal, CompactRemovesOnlyWholeOldSegmentsAndNeverTheLast) {
  TempDir tmp;
  const WalOptions o = small_segments(500);
  raft::EntryVec model = make_entries(1, 120, 1);
  for (uint64_t i = 61; i <= 120; ++i) model[i - 1] = make_entry(i, 2);
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(raft::EntryVec(model.begin(), model.begin() + 60)).ok());
  ASSERT_TRUE(w->append(raft::EntryVec(model.begin() + 60, model.end())).ok());
  ASSERT_TRUE(w->sync().ok());
  const size_t segments_before = segment_files(tmp.path()).size();
  ASSERT_GT(segments_before, 10u);

  EXPECT_EQ(w->compact(121).code(), Error::kInvalidArgument);
  ASSERT_TRUE(w->compact(0).ok());  // first_index() - 1: nothing to forget
  EXPECT_EQ(segment_files(tmp.path()).size(), segments_before);

  ASSERT_TRUE(w->compact(70).ok());
  EXPECT_EQ(w->first_index(), 71u);
  EXPECT_EQ(*w->term(70), 2u);
  EXPECT_EQ(w->term(69).error(), raft::Error::kCompacted);
  EXPECT_EQ(w->entries(70, 72, raft::kNoLimit).error(), raft::Error::kCompacted);
  EXPECT_EQ(w->compact(69).code(), Error::kInvalidArgument);
  expect_log(*w, 71, raft::EntryVec(model.begin() + 70, model.end()));
  // Only segments before the one holding entry 71 went: the first left starts at or before it.
  std::vector<std::string> names = segment_files(tmp.path());
  EXPECT_LT(names.size(), segments_before);
  EXPECT_EQ(w->stats().segments, names.size());
  const uint64_t first_left = std::stoull(names.front().substr(17, 16), nullptr, 16);
  EXPECT_LE(first_left, 71u);
  EXPECT_GT(first_left, 60u);  // ...and the ones holding only older entries are gone

  // Reopen: whole segments only, so the log may start earlier, with the same entries.
  w.reset();
  w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->first_index(), first_left);
  expect_log(*w, first_left, raft::EntryVec(model.begin() + (first_left - 1), model.end()));
  EXPECT_EQ(*w->term(first_left - 1), 0u);  // not known after a reopen

  // Compacting everything keeps the last segment.
  ASSERT_TRUE(w->compact(120).ok());
  EXPECT_EQ(w->first_index(), 121u);
  EXPECT_EQ(w->last_index(), 120u);
  EXPECT_EQ(*w->term(120), 2u);
  names = segment_files(tmp.path());
  ASSERT_EQ(names.size(), 1u);
  // The log goes on from there and replays consistently.
  raft::EntryVec more = make_entries(121, 5, 3);
  ASSERT_TRUE(w->append(more).ok());
  ASSERT_TRUE(w->sync().ok());
  w.reset();
  w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  const uint64_t first = w->first_index();
  EXPECT_LE(first, 121u);
  model.insert(model.end(), more.begin(), more.end());
  expect_log(*w, first, raft::EntryVec(model.begin() + (first - 1), model.end()));
}

TEST(Wal, CompactAfterOverwritesAndTruncationsReplaysTheSameEntries) {
  TempDir tmp;
  const WalOptions o = small_segments(300);
  raft::EntryVec model;
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    raft::EntryVec v = make_entries(1, 40, 1);
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    ASSERT_TRUE(w->truncate(25).ok());  // a truncate record in a later segment
    model.resize(24);
    v = make_entries(20, 30, 2);  // overwrites entries held in earlier segments
    ASSERT_TRUE(w->append(v).ok());
    model_append(model, 1, v);
    ASSERT_TRUE(w->compact(30).ok());
    ASSERT_TRUE(w->sync().ok());
    expect_log(*w, 31, raft::EntryVec(model.begin() + 30, model.end()));
  }
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  const uint64_t first = w->first_index();
  EXPECT_LE(first, 31u);
  expect_log(*w, first, raft::EntryVec(model.begin() + (first - 1), model.end()));
}

TEST(Wal, ResetThenCompactDropsTheOldSegments) {
  TempDir tmp;
  const WalOptions o = small_segments(300);
  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(make_entries(1, 40, 1)).ok());
  ASSERT_TRUE(w->reset(1000, 5).ok());
  ASSERT_GT(segment_files(tmp.path()).size(), 3u);
  ASSERT_TRUE(w->compact(w->first_index() - 1).ok());
  EXPECT_EQ(segment_files(tmp.path()).size(), 1u);
  EXPECT_EQ(*w->term(1000), 5u);
  ASSERT_TRUE(w->append(make_entries(1001, 3, 5)).ok());
  ASSERT_TRUE(w->sync().ok());
  w.reset();
  w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  expect_log(*w, 1001, make_entries(1001, 3, 5));
  EXPECT_EQ(*w->term(1000), 5u);  // the reset record is in the segment kept
}

// --- Reads ---

class WalReads : public ::testing::TestWithParam<uint64_t> {};  // cache_bytes

TEST_P(WalReads, EntriesHonourMaxSizeAsRaftStorageDoes) {
  TempDir tmp;
  auto w = open_ok(tmp.path(), small_segments(700, GetParam()));
  ASSERT_TRUE(w);
  raft::EntryVec model = make_entries(1, 60, 3);
  ASSERT_TRUE(w->append(model).ok());
  for (uint64_t lo : {1, 7, 40, 59}) {
    for (uint64_t hi : {lo + 1, lo + 2, uint64_t{61}}) {
      for (uint64_t max_size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, uint64_t{250},
                                uint64_t{1000}, raft::kNoLimit}) {
        SCOPED_TRACE(raft::concat("lo ", lo, " hi ", hi, " max_size ", max_size));
        raft::EntryVec want(model.begin() + (lo - 1), model.begin() + (hi - 1));
        raft::limit_size(want, max_size);
        auto got = w->entries(lo, hi, max_size);
        ASSERT_TRUE(got.ok());
        ASSERT_EQ(got->size(), want.size());
        for (size_t k = 0; k < want.size(); ++k) ASSERT_TRUE(same((*got)[k], want[k]));
      }
    }
  }
  EXPECT_EQ(w->entries(1, 62, raft::kNoLimit).error(), raft::Error::kUnavailable);
  ASSERT_TRUE(w->compact(10).ok());
  EXPECT_EQ(w->entries(10, 12, raft::kNoLimit).error(), raft::Error::kCompacted);
  EXPECT_EQ(w->entries(10, 100, raft::kNoLimit).error(), raft::Error::kCompacted);
  EXPECT_TRUE(w->entries(11, 12, raft::kNoLimit).ok());
  EXPECT_EQ(w->term(9).error(), raft::Error::kCompacted);
  EXPECT_EQ(*w->term(10), 3u);
}

INSTANTIATE_TEST_SUITE_P(CacheSizes, WalReads, ::testing::Values(0, 1500, 64 << 10));

TEST(Wal, CacheServesRecentEntriesAndStaysWithinItsBudget) {
  TempDir tmp;
  const uint64_t budget = 3000;
  auto w = open_ok(tmp.path(), small_segments(1024, budget));
  ASSERT_TRUE(w);
  for (uint64_t i = 1; i <= 200; i += 5) {
    ASSERT_TRUE(w->append(make_entries(i, 5, 1)).ok());
    const WalStats s = w->stats();
    ASSERT_LE(s.cache_bytes, budget);
    ASSERT_GT(s.cache_bytes, 0u);
  }
  WalStats before = w->stats();
  // The newest entries come from the cache...
  auto newest = w->entries(198, 201, raft::kNoLimit);
  ASSERT_TRUE(newest.ok());
  for (const auto& e : *newest) EXPECT_TRUE(intact(e));
  WalStats after = w->stats();
  EXPECT_EQ(after.cache_hits - before.cache_hits, 3u);
  EXPECT_EQ(after.cache_misses, before.cache_misses);
  // ...the oldest from files, and a read across both is in order.
  before = after;
  auto all = w->entries(1, 201, raft::kNoLimit);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 200u);
  for (uint64_t i = 1; i <= 200; ++i) {
    EXPECT_EQ((*all)[i - 1].index(), i);
    EXPECT_TRUE(intact((*all)[i - 1]));
  }
  after = w->stats();
  const uint64_t hits = after.cache_hits - before.cache_hits;
  const uint64_t misses = after.cache_misses - before.cache_misses;
  EXPECT_EQ(hits + misses, 200u);
  EXPECT_GT(hits, 0u);
  EXPECT_GT(misses, 100u);
  // Every cached entry's record is in the budget, so at most budget / smallest record of them.
  EXPECT_LT(hits, budget / kRecordHeaderSize);

  // An overwrite replaces cached entries; the cache never serves the old ones.
  ASSERT_TRUE(w->append(make_entries(199, 1, 2)).ok());
  before = w->stats();
  auto replaced = w->entries(198, 200, raft::kNoLimit);
  EXPECT_EQ(w->stats().cache_hits - before.cache_hits, 2u);  // entry 198 stayed cached
  ASSERT_TRUE(replaced.ok());
  ASSERT_EQ(replaced->size(), 2u);
  EXPECT_EQ((*replaced)[0].term(), 1u);
  EXPECT_EQ((*replaced)[1].term(), 2u);
  EXPECT_TRUE(intact((*replaced)[1]));
  EXPECT_EQ(w->stats().index_bytes > 0, true);

  // An entry bigger than the whole cache is served from its file.
  ASSERT_TRUE(w->append({make_entry(200, 2, 2 * budget)}).ok());
  before = w->stats();
  auto big = w->entries(200, 201, raft::kNoLimit);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(intact((*big)[0]));
  EXPECT_EQ(w->stats().cache_misses - before.cache_misses, 1u);
  EXPECT_LE(w->stats().cache_bytes, budget);
}

TEST(Wal, ZeroCacheBytesReadsEverythingFromFiles) {
  TempDir tmp;
  auto w = open_ok(tmp.path(), small_segments(1024, 0));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(make_entries(1, 50, 1)).ok());
  EXPECT_EQ(w->stats().cache_bytes, 0u);
  const raft::EntryVec all = read_all(*w);
  ASSERT_EQ(all.size(), 50u);
  for (const auto& e : all) EXPECT_TRUE(intact(e));
  EXPECT_EQ(w->stats().cache_hits, 0u);
  EXPECT_EQ(w->stats().cache_misses, 50u);
}

// Bytes that go bad after open are caught when read from a file: the header CRC, and the
// payload CRC chained from the record before (or from the segment header for the first).
TEST(Wal, ARecordDamagedAfterOpenIsCorruptionOnRead) {
  TempDir tmp;
  const std::string seg = tmp.sub("0000000000000001-0000000000000001.wal");
  auto w = open_ok(tmp.path(), small_segments(1 << 20, 0));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(make_entries(1, 10, 1, 30)).ok());
  ASSERT_TRUE(w->sync().ok());
  const std::string good = testing::read_file(seg);
  std::vector<uint64_t> offsets;  // of each record
  for (uint64_t at = kSegmentHeaderSize; offsets.size() < 10;) {
    offsets.push_back(at);
    at += kRecordHeaderSize + u32(good, at);
  }
  const std::error_code corrupt = make_error_code(Error::kCorruption);
  auto expect_reads = [&](uint64_t bad) {
    SCOPED_TRACE("bad entry " + std::to_string(bad));
    EXPECT_EQ(w->entries(bad, bad + 1, raft::kNoLimit).error(), corrupt);  // alone
    EXPECT_EQ(w->entries(1, 11, raft::kNoLimit).error(), corrupt);         // in a run
    if (bad > 1) {
      EXPECT_TRUE(w->entries(1, bad, raft::kNoLimit).ok());
    }
    // The next record's CRC is chained from the stored one, which is intact.
    if (bad < 10) {
      EXPECT_TRUE(w->entries(bad + 1, 11, raft::kNoLimit).ok());
    }
  };

  std::string bytes = good;
  bytes[offsets[4] + kRecordHeaderSize + kEntryFixedSize + 2] ^= 0x04;  // entry 5's data
  testing::write_file(seg, bytes);
  expect_reads(5);

  bytes = good;
  bytes[offsets[0] + kRecordHeaderSize + 3] ^= 0x01;  // entry 1's index field
  testing::write_file(seg, bytes);
  expect_reads(1);

  bytes = good;
  bytes[offsets[7] + 1] ^= 0x01;  // entry 8's length: its header CRC fails
  testing::write_file(seg, bytes);
  expect_reads(8);

  testing::write_file(seg, good);
  EXPECT_EQ(read_all(*w).size(), 10u);
}

TEST(Wal, GapsAndBadBatchesAreInvalidArgumentsAndWriteNothing) {
  TempDir tmp;
  auto w = open_ok(tmp.path(), small_segments(1024, 1 << 20));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(make_entries(1, 5, 1)).ok());
  ASSERT_TRUE(w->sync().ok());
  const testing::DirContents files = testing::read_dir(tmp.path());
  const WalStats before = w->stats();

  EXPECT_EQ(w->append(make_entries(7, 2, 1)).code(), Error::kInvalidArgument);  // gap
  raft::EntryVec jumpy = make_entries(6, 2, 1);
  jumpy[1].set_index(9);
  EXPECT_EQ(w->append(jumpy).code(), Error::kInvalidArgument);  // not contiguous
  raft::EntryVec backwards = make_entries(4, 2, 1);
  backwards[1].set_index(3);
  EXPECT_EQ(w->append(backwards).code(), Error::kInvalidArgument);
  ASSERT_TRUE(w->compact(2).ok());
  EXPECT_EQ(w->append(make_entries(2, 2, 1)).code(), Error::kInvalidArgument);  // compacted
  EXPECT_TRUE(w->append({}).ok());

  EXPECT_EQ(w->stats().bytes_written, before.bytes_written);
  EXPECT_EQ(testing::read_dir(tmp.path()), files);
  EXPECT_EQ(w->last_index(), 5u);
  // Still usable: a bad argument is not a failure.
  ASSERT_TRUE(w->append(make_entries(6, 1, 1)).ok());
  ASSERT_TRUE(w->sync().ok());
  EXPECT_EQ(w->last_index(), 6u);
}

TEST(Wal, SyncCountsAndSkipsWhenNothingWasWritten) {
  TempDir tmp;
  auto w = open_ok(tmp.path(), small_segments(1 << 20));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->sync().ok());
  EXPECT_EQ(w->stats().syncs, 0u);
  ASSERT_TRUE(w->append(make_entries(1, 3, 1)).ok());
  ASSERT_TRUE(w->append(make_entries(4, 3, 1)).ok());
  ASSERT_TRUE(w->sync().ok());
  EXPECT_EQ(w->stats().syncs, 1u);  // one sync for both appends: group commit
  ASSERT_TRUE(w->sync().ok());
  EXPECT_EQ(w->stats().syncs, 1u);
  EXPECT_GT(w->stats().bytes_written, 6 * (kRecordHeaderSize + kEntryFixedSize));
}

// --- Threads ---

// A reader reads while the writer appends (overwriting suffixes now and then), syncs and
// compacts; everything it reads must be a consistent view: contiguous indexes from where it
// asked, each entry intact, terms never decreasing along the log.
TEST(Wal, ReadersSeeConsistentLogsWhileTheWriterWrites) {
  TempDir tmp;
  auto w = open_ok(tmp.path(), small_segments(2048, 4096));
  ASSERT_TRUE(w);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::string reader_error;  // written by the reader before it sets reader_failed
  std::atomic<bool> reader_failed{false};
  auto report = [&](std::string what) {
    reader_error = std::move(what);
    reader_failed.store(true);
  };
  std::thread reader([&] {
    uint64_t round = 0;
    while (!done.load()) {
      ++round;
      const uint64_t first = w->first_index();
      const uint64_t last = w->last_index();
      if (last < first) continue;
      const uint64_t lo = first + round % (last - first + 1);
      auto got = w->entries(lo, last + 1, round % 3 == 0 ? 2000 : raft::kNoLimit);
      if (!got.ok()) {
        // The log moved on between the calls: only these two are possible.
        if (got.error() != raft::Error::kCompacted && got.error() != raft::Error::kUnavailable) {
          report("entries: " + got.error().message());
          return;
        }
        continue;
      }
      if (got->empty()) {
        report("no entries");
        return;
      }
      uint64_t prev_term = 0;
      for (size_t k = 0; k < got->size(); ++k) {
        const raft::Entry& e = (*got)[k];
        if (e.index() != lo + k || !intact(e) || e.term() < prev_term) {
          report("inconsistent entry " + std::to_string(e.index()));
          return;
        }
        prev_term = e.term();
      }
      auto t = w->term(lo);
      if (!t.ok() && t.error() != raft::Error::kCompacted &&
          t.error() != raft::Error::kUnavailable) {
        report("term: " + t.error().message());
        return;
      }
      reads.fetch_add(1);
    }
  });

  // A failed ASSERT below returns early: stop and join the reader on the way out.
  struct JoinOnExit {
    std::atomic<bool>& done;
    std::thread& thread;
    ~JoinOnExit() {
      done.store(true);
      if (thread.joinable()) thread.join();
    }
  } join_on_exit{done, reader};

  std::mt19937_64 rng(7);
  uint64_t term = 1;
  for (int round = 0; round < 600 && !reader_failed.load(); ++round) {
    uint64_t from = w->last_index() + 1;
    if (round % 10 == 9 && w->last_index() > w->first_index() + 5) {
      from = w->last_index() - rng() % 5;  // a new leader overwrites a suffix
      ++term;
    }
    ASSERT_TRUE(w->append(make_entries(from, 1 + rng() % 6, term)).ok());
    if (round % 3 == 0) {
      ASSERT_TRUE(w->sync().ok());
    }
    if (round % 50 == 49) {
      ASSERT_TRUE(w->compact(w->last_index() - 20).ok());
    }
  }
  // Make sure the reader got a few reads done (it may not have, on a busy machine); no timeouts.
  while (reads.load() < 3 && !reader_failed.load()) std::this_thread::yield();
  done.store(true);
  reader.join();
  EXPECT_EQ(reader_error, "");
  EXPECT_GE(reads.load(), 3u);
}

// --- Open-time housekeeping, damage reporting and repair ---

TEST(Wal, TmpLeftoversAreRemovedAtOpen) {
  TempDir tmp;
  {
    auto w = open_ok(tmp.path(), small_segments(1024));
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(make_entries(1, 3, 1)).ok());
    ASSERT_TRUE(w->sync().ok());
  }
  const std::string leftover = tmp.sub("0000000000000002-0000000000000004.wal.tmp");
  testing::write_file(leftover, std::string(100, 'x'));
  testing::write_file(tmp.sub("unrelated.txt"), "keep");
  WalOpenInfo info;
  auto w = open_ok(tmp.path(), small_segments(1024), &info);
  ASSERT_TRUE(w);
  EXPECT_EQ(info.tmp_files_removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_TRUE(std::filesystem::exists(tmp.sub("unrelated.txt")));
  expect_log(*w, 1, make_entries(1, 3, 1));
}

TEST(Wal, TornLastRecordIsCutAndReported) {
  TempDir tmp;
  const std::string seg = tmp.sub("0000000000000001-0000000000000001.wal");
  {
    auto w = open_ok(tmp.path(), small_segments(4096));
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(make_entries(1, 3, 1, 50)).ok());
    ASSERT_TRUE(w->sync().ok());
  }
  // A crash part way through writing the last record: its payload's second half never arrived.
  const uint64_t record = kRecordHeaderSize + kEntryFixedSize + 50;
  const uint64_t third = kSegmentHeaderSize + 2 * record;
  std::string bytes = testing::read_file(seg);
  const std::string torn = bytes.substr(third, record);
  std::fill(bytes.begin() + third + record / 2, bytes.begin() + third + record, '\0');
  testing::write_file(seg, bytes);

  WalOpenInfo info;
  auto w = open_ok(tmp.path(), small_segments(4096), &info);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->last_index(), 2u);
  EXPECT_EQ(info.torn_offset, third);
  EXPECT_EQ(info.torn_path, seg);
  EXPECT_EQ(info.torn_copy, seg + ".torn." + std::to_string(third));
  EXPECT_EQ(info.torn_bytes, record / 2);  // to the end of the (non-zero) data
  EXPECT_EQ(testing::read_file(info.torn_copy), torn.substr(0, record / 2));
  // Cut, so the next record goes where the torn one was, and the log reopens cleanly.
  ASSERT_TRUE(w->append(make_entries(3, 1, 2)).ok());
  ASSERT_TRUE(w->sync().ok());
  w.reset();
  w = open_ok(tmp.path(), small_segments(4096), &info);
  ASSERT_TRUE(w);
  EXPECT_EQ(info.torn_bytes, 0u);
  EXPECT_EQ(w->last_index(), 3u);
  EXPECT_EQ(*w->term(3), 2u);
}

TEST(Wal, RepairCutsAtABadRecordInTheMiddle) {
  TempDir tmp;
  const WalOptions o = small_segments(512);
  {
    auto w = open_ok(tmp.path(), o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(make_entries(1, 100, 1, 40)).ok());
    ASSERT_TRUE(w->sync().ok());
  }
  uint64_t cut = 99;
  ASSERT_TRUE(Wal::repair(tmp.path(), o, &cut).ok());
  EXPECT_EQ(cut, 0u);  // nothing to cut in a good log

  // Flip a payload byte of the second record of the fourth segment.
  const std::vector<std::string> names = segment_files(tmp.path());
  ASSERT_GT(names.size(), 6u);
  const std::string victim = tmp.sub(names[3]);
  const uint64_t first_in_victim = std::stoull(names[3].substr(17, 16), nullptr, 16);
  std::string bytes = testing::read_file(victim);
  const uint64_t bad_offset = kSegmentHeaderSize + kRecordHeaderSize + u32(bytes, 40);
  bytes[bad_offset + kRecordHeaderSize + kEntryFixedSize + 3] ^= 0x10;
  testing::write_file(victim, bytes);

  auto refused = Wal::open(tmp.path(), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Error::kCorruption);
  EXPECT_NE(refused.status().message().find(victim), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("offset " + std::to_string(bad_offset)),
            std::string::npos)
      << refused.status().message();

  ASSERT_TRUE(Wal::repair(tmp.path(), o, &cut).ok());
  EXPECT_GT(cut, 0u);
  EXPECT_TRUE(std::filesystem::exists(victim + ".cut." + std::to_string(bad_offset)));
  EXPECT_TRUE(has_file_containing(tmp.path(), names.back() + ".cut.0"));
  EXPECT_EQ(segment_files(tmp.path()).size(), 4u);  // later segments moved aside

  auto w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  expect_log(*w, 1, make_entries(1, first_in_victim, 1, 40));  // up to the bad record
  // A repaired log takes new entries after the cut, and reopens.
  ASSERT_TRUE(w->append(make_entries(first_in_victim + 1, 20, 2)).ok());
  ASSERT_TRUE(w->sync().ok());
  w.reset();
  w = open_ok(tmp.path(), o);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->last_index(), first_in_victim + 20);
  ASSERT_TRUE(Wal::repair(tmp.path(), o, &cut).ok());
  EXPECT_EQ(cut, 0u);
}

}  // namespace
}  // namespace wal
