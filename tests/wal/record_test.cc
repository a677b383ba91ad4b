// The WAL's record framing (wal/record.h) and segment names and headers (wal/segment.h).
#include "wal/record.h"

#include <gtest/gtest.h>

#include "raft/crc32c.h"
#include "wal/segment.h"

namespace wal {
namespace {

raft::Entry entry(uint64_t index, uint64_t term, std::string data, std::string context = "",
                  raft::EntryType type = raft::EntryType::EntryNormal) {
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  e.set_context(std::move(context));
  e.set_entry_type(type);
  return e;
}

TEST(Record, EntryRecordRoundTripsWithAChainedCrc) {
  const raft::Entry e = entry(7, 3, "payload bytes", "ctx", raft::EntryType::EntryConfChange);
  std::string buf = "prefix";  // records are appended after what is there
  uint32_t chain = 0x12345678;
  const size_t size = record::append_entry_record(buf, e, &chain);
  ASSERT_EQ(size, record::kHeaderSize + record::kEntryFixedSize + 3 + 13);
  ASSERT_EQ(buf.size(), 6 + size);
  EXPECT_EQ(record::entry_payload_size(e), size - record::kHeaderSize);

  const char* rec = buf.data() + 6;
  record::Header h;
  ASSERT_EQ(record::decode_header(rec, &h), record::HeaderCheck::kOk);
  EXPECT_EQ(h.type, record::Type::kEntry);
  EXPECT_EQ(h.length, size - record::kHeaderSize);
  const std::string_view payload(rec + record::kHeaderSize, h.length);
  EXPECT_EQ(h.payload_crc, raft::crc32c::extend(0x12345678, payload.data(), payload.size()));
  EXPECT_EQ(h.payload_crc, chain);
  EXPECT_EQ(record::stored_payload_crc(rec), chain);

  raft::Entry back;
  ASSERT_TRUE(record::decode_entry(payload, &back));
  EXPECT_EQ(back.SerializeAsString(), e.SerializeAsString());
}

TEST(Record, EncodedSizeMatchesTheCoresEntrySize) {
  const std::vector<raft::Entry> entries = {
      entry(1, 1, ""),
      entry(0, 0, ""),
      entry(1, 0, "x"),
      entry(127, 128, std::string(127, 'a')),
      entry(uint64_t{1} << 40, uint64_t{1} << 63, std::string(300, 'b'), std::string(200, 'c')),
      entry(5, 2, "", "only context", raft::EntryType::EntryConfChangeV2),
      entry(16384, 3, std::string(70000, 'd'), "", raft::EntryType::EntryConfChange),
  };
  for (const raft::Entry& e : entries) {
    std::string buf;
    uint32_t chain = 0;
    record::append_entry_record(buf, e, &chain);
    record::EntryFields f;
    ASSERT_TRUE(record::decode_entry_fields(std::string_view(buf).substr(record::kHeaderSize), &f));
    EXPECT_EQ(record::entry_encoded_size(f), raft::entry_size(e)) << raft::describe(e);
    // The lower bound reads use: what the payload holds beyond the fixed fields.
    EXPECT_LE(buf.size() - record::kHeaderSize - record::kEntryFixedSize, raft::entry_size(e));
  }
}

TEST(Record, HeaderChecksTellEndMarkerTornAndMalformedApart) {
  char zeros[record::kHeaderSize] = {};
  record::Header h;
  EXPECT_EQ(record::decode_header(zeros, &h), record::HeaderCheck::kEndMarker);

  std::string buf;
  uint32_t chain = 0;
  record::append_truncate_record(buf, 42, &chain);
  std::string bad = buf;
  bad[0] ^= 1;  // the length: no longer matches the header CRC
  EXPECT_EQ(record::decode_header(bad.data(), &h), record::HeaderCheck::kBadCrc);

  // A type this code never writes, with a header CRC that matches: not a torn write.
  bad = buf;
  bad[4] = 9;
  record::put_u32(bad.data() + 8, raft::crc32c::value(bad.data(), 8));
  EXPECT_EQ(record::decode_header(bad.data(), &h), record::HeaderCheck::kBadFormat);
  bad = buf;
  bad[6] = 1;  // a reserved byte
  record::put_u32(bad.data() + 8, raft::crc32c::value(bad.data(), 8));
  EXPECT_EQ(record::decode_header(bad.data(), &h), record::HeaderCheck::kBadFormat);
}

TEST(Record, PayloadDecodersRejectMalformedPayloads) {
  std::string buf;
  uint32_t chain = 0;
  record::append_truncate_record(buf, 42, &chain);
  record::append_reset_record(buf, 100, 7, &chain);
  uint64_t from = 0, index = 0, term = 0;
  ASSERT_TRUE(record::decode_truncate(std::string_view(buf).substr(16, 8), &from));
  EXPECT_EQ(from, 42u);
  ASSERT_TRUE(record::decode_reset(std::string_view(buf).substr(40, 16), &index, &term));
  EXPECT_EQ(index, 100u);
  EXPECT_EQ(term, 7u);
  EXPECT_FALSE(record::decode_truncate(std::string_view(buf).substr(16, 7), &from));
  EXPECT_FALSE(record::decode_reset(buf.substr(40, 16) + "x", &index, &term));

  std::string payload(record::kEntryFixedSize + 4, '\0');
  record::EntryFields f;
  EXPECT_TRUE(record::decode_entry_fields(payload, &f));
  EXPECT_FALSE(record::decode_entry_fields(std::string_view(payload).substr(0, 20), &f));
  record::put_u32(payload.data() + 17, 5);  // a context longer than what follows
  EXPECT_FALSE(record::decode_entry_fields(payload, &f));
  record::put_u32(payload.data() + 17, 4);
  EXPECT_TRUE(record::decode_entry_fields(payload, &f));
  EXPECT_EQ(f.data_length, 0u);
  payload[16] = 3;  // no such entry type
  EXPECT_FALSE(record::decode_entry_fields(payload, &f));
}

TEST(Segment, NamesRoundTripAndOtherFilesAreNotSegments) {
  EXPECT_EQ(segment::name(1, 1), "0000000000000001-0000000000000001.wal");
  EXPECT_EQ(segment::name(0x1a, 0xffffffffffffffff), "000000000000001a-ffffffffffffffff.wal");
  auto parsed = segment::parse_name("00000000000000ab-0000000000001a2b.wal");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, 0xabu);
  EXPECT_EQ(parsed->second, 0x1a2bu);
  for (const char* other :
       {"00000000000000AB-0000000000001a2b.wal", "00000000000000ab-0000000000001a2b.wal.tmp",
        "00000000000000ab-0000000000001a2b.wal.torn.80", "00000000000000ab_0000000000001a2b.wal",
        "0000000000000ab-0000000000001a2b.wal", "00000000000000ab-0000000000001a2b.log", "LOCK",
        ""}) {
    EXPECT_FALSE(segment::parse_name(other)) << other;
  }
}

TEST(Segment, HeaderRoundTripsAndEveryFieldIsChecked) {
  const segment::Header h{3, 0x1a2b, 0xdeadbeef};
  const std::string bytes = segment::encode_header(h);
  ASSERT_EQ(bytes.size(), segment::kHeaderSize);
  segment::Header back;
  EXPECT_FALSE(segment::decode_header(bytes, &back));
  EXPECT_EQ(back.sequence, 3u);
  EXPECT_EQ(back.first_index, 0x1a2bu);
  EXPECT_EQ(back.chain, 0xdeadbeefu);

  EXPECT_EQ(segment::decode_header(bytes.substr(0, 39), &back), "segment header cut short");
  std::string bad = bytes;
  bad[20] ^= 1;
  EXPECT_EQ(segment::decode_header(bad, &back), "bad segment header checksum");
  auto with_crc = [](std::string s) {
    record::put_u32(s.data() + 36, raft::crc32c::value(s.data(), 36));
    return s;
  };
  bad = bytes;
  bad[0] = 'X';
  EXPECT_EQ(segment::decode_header(with_crc(bad), &back), "bad segment magic");
  bad = bytes;
  record::put_u32(bad.data() + 8, 2);
  EXPECT_EQ(segment::decode_header(with_crc(bad), &back), "unknown segment version 2");
  bad = bytes;
  record::put_u32(bad.data() + 12, 1);
  EXPECT_EQ(segment::decode_header(with_crc(bad), &back), "unknown segment flags 1");
}

}  // namespace
}  // namespace wal
