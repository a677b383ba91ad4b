#include "tests/snapshot/support/snapshot_util.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "raft/little_endian.h"

namespace snapshot::testing {

raft::SnapshotMetadata metadata(uint64_t index, uint64_t term,
                                std::initializer_list<uint64_t> voters) {
  raft::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  for (uint64_t v : voters) m.mutable_conf_state()->add_voters(v);
  return m;
}

namespace {

// The 8 bytes at word `i` of the stream of `seed`: a splitmix64 of (seed, i), so any part of the
// stream can be made without the parts before it.
uint64_t word(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + i + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void fill_body(char* buf, size_t n, uint64_t offset, uint64_t seed) {
  for (size_t i = 0; i < n; i += 8) raft::le::put_u64(buf + i, word(seed, (offset + i) / 8));
}

std::string body_bytes(size_t n, uint64_t seed) {
  std::string out((n + 7) / 8 * 8, '\0');
  fill_body(out.data(), out.size(), 0, seed);
  out.resize(n);
  return out;
}

SnapshotInfo write_snapshot(SnapshotStore& store, const raft::SnapshotMetadata& m,
                            const std::string& body, size_t piece) {
  auto w = store.create(m);
  for (size_t at = 0; at < body.size(); at += piece) {
    w->body().write(body.data() + at,
                    static_cast<std::streamsize>(std::min(piece, body.size() - at)));
  }
  return w->commit();
}

std::string read_body(const SnapshotStore& store, const SnapshotInfo& info) {
  auto r = store.open(info);
  return std::string(std::istreambuf_iterator<char>(r->body()), std::istreambuf_iterator<char>());
}

SnapshotInfo receive_bytes(SnapshotStore& to, const raft::SnapshotMetadata& expected,
                           const std::string& bytes, size_t piece) {
  auto w = to.receive(expected);
  for (size_t at = 0; at < bytes.size(); at += piece) {
    w->write(bytes.data() + at, std::min(piece, bytes.size() - at));
  }
  return w->commit();
}

SnapshotInfo copy_raw(const SnapshotStore& from, const SnapshotInfo& info, SnapshotStore& to,
                      size_t piece) {
  auto r = from.open_raw(info);
  auto w = to.receive(r->info().metadata);
  std::vector<char> buf(piece);
  while (const size_t n = r->read(buf.data(), buf.size())) w->write(buf.data(), n);
  return w->commit();
}

std::vector<std::string> file_names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw std::runtime_error("opendir " + dir + ": " + std::strerror(errno));
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace snapshot::testing
