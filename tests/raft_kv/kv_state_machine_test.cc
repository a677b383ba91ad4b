// raft-kv's state machine (kv_state_machine.h): command results, copy-on-write snapshots that
// keep their view while applies go on, restore's validation, and readers during applies.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "examples/raft-kv/kv_command.h"
#include "examples/raft-kv/kv_state_machine.h"

namespace raftkv {
namespace {

using Map = std::map<std::string, std::string>;

std::string put(std::string key, std::string value) {
  KvCommand c;
  c.op = Op::kPut;
  c.key = std::move(key);
  c.value = std::move(value);
  return encode_command(c);
}

std::string put_if(std::string key, std::string value, std::string expected) {
  KvCommand c;
  c.op = Op::kPutIf;
  c.key = std::move(key);
  c.value = std::move(value);
  c.expected = std::move(expected);
  return encode_command(c);
}

std::string del(std::string key) {
  KvCommand c;
  c.op = Op::kDelete;
  c.key = std::move(key);
  return encode_command(c);
}

// Applies `encoded` as one batch and returns the decoded results.
std::vector<KvResult> apply_batch(KvStateMachine& kv, const std::vector<std::string>& encoded) {
  static uint64_t index = 0;
  std::vector<framework::Command> commands;
  for (const auto& data : encoded) commands.push_back(framework::Command{++index, 1, data});
  std::vector<KvResult> results;
  for (const auto& bytes : kv.apply(commands)) {
    auto result = decode_result(bytes);
    EXPECT_TRUE(result.has_value());
    results.push_back(result.value_or(KvResult{}));
  }
  EXPECT_EQ(results.size(), encoded.size());
  return results;
}

KvResult apply_one(KvStateMachine& kv, const std::string& encoded) {
  return apply_batch(kv, {encoded}).at(0);
}

std::string snapshot_bytes(KvStateMachine& kv) {
  std::ostringstream out;
  kv.snapshot()->write(out);
  return out.str();
}

// The whole state, read back through a snapshot and a fresh state machine's restore.
Map contents_of_snapshot(const std::string& bytes) {
  KvStateMachine fresh;
  std::istringstream in(bytes);
  fresh.restore(in);
  // Parse the stream directly too, so the check does not rely on get() alone.
  Map map;
  size_t pos = 4 + 8;
  auto u32 = [&] {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + i])) << (8 * i);
    pos += 4;
    return v;
  };
  while (pos < bytes.size()) {
    const uint32_t kl = u32();
    std::string key = bytes.substr(pos, kl);
    pos += kl;
    const uint32_t vl = u32();
    map[key] = bytes.substr(pos, vl);
    pos += vl;
  }
  EXPECT_EQ(fresh.size(), map.size());
  for (const auto& [key, value] : map) EXPECT_EQ(fresh.get(key), value) << key;
  return map;
}

// Keys spread over every shard.
Map sample(int n, const std::string& tag) {
  Map map;
  for (int i = 0; i < n; ++i) map["key-" + std::to_string(i)] = tag + std::to_string(i);
  return map;
}

void load(KvStateMachine& kv, const Map& map) {
  std::vector<std::string> batch;
  for (const auto& [key, value] : map) batch.push_back(put(key, value));
  apply_batch(kv, batch);
}

void expect_state(const KvStateMachine& kv, const Map& map) {
  EXPECT_EQ(kv.size(), map.size());
  for (const auto& [key, value] : map) EXPECT_EQ(kv.get(key), value) << key;
}

TEST(KvStateMachine, PutGetOverwriteDelete) {
  KvStateMachine kv;
  EXPECT_EQ(kv.get("a"), std::nullopt);
  EXPECT_EQ(kv.size(), 0u);

  KvResult r = apply_one(kv, put("a", "1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(kv.get("a"), "1");
  EXPECT_EQ(kv.size(), 1u);

  apply_one(kv, put("a", "2"));
  EXPECT_EQ(kv.get("a"), "2");
  EXPECT_EQ(kv.size(), 1u);

  r = apply_one(kv, del("a"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_TRUE(r.present);
  EXPECT_EQ(kv.get("a"), std::nullopt);
  EXPECT_EQ(kv.size(), 0u);

  r = apply_one(kv, del("a"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_FALSE(r.present);
  EXPECT_EQ(kv.size(), 0u);
}

TEST(KvStateMachine, CompareAndSwap) {
  KvStateMachine kv;
  // Absent key: a conflict, whatever is expected (even the empty value).
  KvResult r = apply_one(kv, put_if("a", "1", ""));
  EXPECT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_FALSE(r.present);
  EXPECT_EQ(kv.get("a"), std::nullopt);

  apply_one(kv, put("a", "1"));
  r = apply_one(kv, put_if("a", "2", "wrong"));
  EXPECT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.current, "1");
  EXPECT_EQ(kv.get("a"), "1");

  r = apply_one(kv, put_if("a", "2", "1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(kv.get("a"), "2");
  EXPECT_EQ(kv.size(), 1u);
}

TEST(KvStateMachine, MalformedCommandIsAResultNotAThrow) {
  KvStateMachine kv;
  std::string truncated = put("b", "2");
  truncated.pop_back();
  const auto results = apply_batch(kv, {put("a", "1"), "garbage", "", truncated, put("c", "3")});
  EXPECT_EQ(results[0].outcome, Outcome::kOk);
  EXPECT_EQ(results[1].outcome, Outcome::kMalformed);
  EXPECT_EQ(results[2].outcome, Outcome::kMalformed);
  EXPECT_EQ(results[3].outcome, Outcome::kMalformed);
  EXPECT_EQ(results[4].outcome, Outcome::kOk);
  expect_state(kv, {{"a", "1"}, {"c", "3"}});
}

TEST(KvStateMachine, SnapshotFormat) {
  KvStateMachine kv;
  EXPECT_EQ(snapshot_bytes(kv), std::string("RKV1\0\0\0\0\0\0\0\0", 12));
  apply_one(kv, put("ab", "c"));
  EXPECT_EQ(snapshot_bytes(kv), std::string("RKV1\x01\0\0\0\0\0\0\0"
                                            "\x02\0\0\0ab"
                                            "\x01\0\0\0c",
                                            12 + 6 + 5));
}

TEST(KvStateMachine, SnapshotKeepsItsViewWhileWritesGoOn) {
  KvStateMachine kv;
  const Map before = sample(500, "old");
  load(kv, before);
  auto snapshot = kv.snapshot();

  // Overwrite, delete and add in every shard after the view was taken.
  Map after = before;
  std::vector<std::string> batch;
  for (int i = 0; i < 500; ++i) {
    const std::string key = "key-" + std::to_string(i);
    if (i % 3 == 0) {
      batch.push_back(del(key));
      after.erase(key);
    } else {
      batch.push_back(put(key, "new" + std::to_string(i)));
      after[key] = "new" + std::to_string(i);
    }
    batch.push_back(put("added-" + std::to_string(i), "x"));
    after["added-" + std::to_string(i)] = "x";
  }
  apply_batch(kv, batch);
  expect_state(kv, after);

  std::ostringstream out;
  snapshot->write(out);
  EXPECT_EQ(contents_of_snapshot(out.str()), before);
  // Writing it again gives the same bytes: the view is frozen.
  std::ostringstream again;
  snapshot->write(again);
  EXPECT_EQ(again.str(), out.str());

  snapshot.reset();
  expect_state(kv, after);
  EXPECT_EQ(contents_of_snapshot(snapshot_bytes(kv)), after);
}

TEST(KvStateMachine, SeveralSnapshotsEachKeepTheirView) {
  KvStateMachine kv;
  const Map first = sample(200, "a");
  load(kv, first);
  auto s1 = kv.snapshot();
  const Map second = sample(200, "b");
  load(kv, second);
  auto s2 = kv.snapshot();
  // Writes after the first view died but the second lives must still copy.
  s1.reset();
  load(kv, sample(200, "c"));
  std::ostringstream out;
  s2->write(out);
  EXPECT_EQ(contents_of_snapshot(out.str()), second);
  s2.reset();
  // With no view alive, writes go in place and later views see them.
  load(kv, sample(200, "d"));
  EXPECT_EQ(contents_of_snapshot(snapshot_bytes(kv)), sample(200, "d"));
}

TEST(KvStateMachine, SnapshotWrittenOnAnotherThreadWhileApplying) {
  KvStateMachine kv;
  const Map before = sample(2000, "old");
  load(kv, before);
  std::shared_ptr<framework::StateSnapshot> snapshot = kv.snapshot();
  std::string written;
  std::thread writer([&] {
    std::ostringstream out;
    snapshot->write(out);
    written = out.str();
    snapshot.reset();  // dies on this thread, as on the node's snapshot thread
  });
  for (int round = 0; round < 20; ++round) load(kv, sample(2000, "r" + std::to_string(round)));
  writer.join();
  EXPECT_EQ(contents_of_snapshot(written), before);
  expect_state(kv, sample(2000, "r19"));
}

TEST(KvStateMachine, RestoreRoundTripReplacesTheState) {
  KvStateMachine source;
  Map map = sample(300, "v");
  map[std::string("nul\0key", 7)] = std::string("\0\1\2", 3);
  map[""] = "empty key";
  map["empty value"] = "";
  load(source, map);
  const std::string bytes = snapshot_bytes(source);

  KvStateMachine target;
  load(target, {{"stale", "gone after restore"}, {"key-1", "overwritten"}});
  std::istringstream in(bytes);
  target.restore(in);
  expect_state(target, map);
  EXPECT_EQ(target.get("stale"), std::nullopt);
  EXPECT_EQ(snapshot_bytes(target), bytes);

  // The restored state takes writes as usual.
  apply_one(target, put("key-1", "after"));
  EXPECT_EQ(target.get("key-1"), "after");
}

TEST(KvStateMachine, RestoreRejectsEveryTruncationAndKeepsTheState) {
  KvStateMachine source;
  load(source, sample(5, "value"));
  const std::string bytes = snapshot_bytes(source);

  KvStateMachine target;
  const Map existing = {{"mine", "kept"}};
  load(target, existing);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::istringstream in(bytes.substr(0, n));
    EXPECT_THROW(target.restore(in), std::runtime_error) << "prefix of " << n;
  }
  expect_state(target, existing);
}

TEST(KvStateMachine, RestoreRejectsBadHeadersAndLengthsAndKeepsTheState) {
  KvStateMachine source;
  load(source, {{"k", "v"}});
  const std::string good = snapshot_bytes(source);  // RKV1 | 1 | 1 "k" | 1 "v"
  ASSERT_EQ(good.size(), 12u + 5 + 5);

  std::vector<std::pair<std::string, std::string>> bad;
  bad.emplace_back("bad magic", "XKV1" + good.substr(4));
  std::string more = good;
  more[4] = 2;  // two entries announced, one present
  bad.emplace_back("count above the entries", more);
  std::string huge_count = good;
  huge_count.replace(4, 8, std::string(8, '\xff'));
  bad.emplace_back("huge count", huge_count);
  std::string key_len = good;
  key_len[12] = 9;  // key length beyond what remains
  bad.emplace_back("key length", key_len);
  std::string huge_key = good;
  huge_key.replace(12, 4, std::string(4, '\xff'));  // 4 GiB: must fail without allocating it
  bad.emplace_back("huge key length", huge_key);
  std::string value_len = good;
  value_len[17] = 2;  // value length one past the end
  bad.emplace_back("value length", value_len);
  bad.emplace_back("trailing bytes", good + "x");
  std::string dup = good;
  dup[4] = 2;
  dup += good.substr(12);
  bad.emplace_back("duplicate key", dup);

  KvStateMachine target;
  const Map existing = sample(50, "kept");
  load(target, existing);
  for (const auto& [what, bytes] : bad) {
    std::istringstream in(bytes);
    EXPECT_THROW(target.restore(in), std::runtime_error) << what;
    expect_state(target, existing);
  }
  // The unchanged good stream still restores.
  std::istringstream in(good);
  target.restore(in);
  expect_state(target, {{"k", "v"}});
}

TEST(KvStateMachine, ReadersDuringApplySeeWholeBatches) {
  KvStateMachine kv;
  constexpr int kRounds = 3000;
  std::atomic<bool> done{false};
  // Each batch sets "a" to its round number and adds then removes "b": a reader never sees a round
  // go backwards, nor "b", which exists only in the middle of a batch.
  auto reader = [&] {
    int last = -1;
    while (!done.load()) {
      EXPECT_LE(kv.size(), 1u);
      EXPECT_EQ(kv.get("b"), std::nullopt);
      const auto a = kv.get("a");
      if (!a) continue;
      const int round = std::stoi(*a);
      EXPECT_GE(round, last);
      last = round;
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);
  for (int round = 0; round < kRounds; ++round) {
    const std::string v = std::to_string(round);
    apply_batch(kv, {put("a", v), put("b", v), del("b"), put_if("a", v, v)});
    if (round % 500 == 0) {
      std::ostringstream out;
      kv.snapshot()->write(out);
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(kv.get("a"), std::to_string(kRounds - 1));
  EXPECT_EQ(kv.size(), 1u);
}

}  // namespace
}  // namespace raftkv
