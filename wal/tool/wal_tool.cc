// wal_tool: look at a WAL directory, and repair it when a person decides to.
//
//   wal_tool check  DIR   open the log as a node would at start (a torn tail is cut, and a copy
//                         of it kept) and print what was found; exit 1 on corruption
//   wal_tool dump   DIR   check, then print one line per entry: index, term, type, sizes
//   wal_tool repair DIR   cut the log at its first bad record (moving what follows aside) so a
//                         node can start; entries after the cut are lost
#include <cstdio>
#include <cstring>
#include <string>

#include "wal/wal.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: wal_tool check DIR    open the log (cutting a torn tail) and report\n"
               "       wal_tool dump DIR     print every entry: index term type size\n"
               "       wal_tool repair DIR   cut the log at its first bad record; entries after\n"
               "                             it are lost, acknowledged or not\n");
  return 2;
}

void print_open_info(const std::string& dir, const wal::Wal& log, const wal::WalOpenInfo& info) {
  std::printf("%s: %llu segments, %llu records, %llu bytes; entries %llu..%llu\n", dir.c_str(),
              static_cast<unsigned long long>(info.segments),
              static_cast<unsigned long long>(info.records),
              static_cast<unsigned long long>(info.bytes),
              static_cast<unsigned long long>(log.first_index()),
              static_cast<unsigned long long>(log.last_index()));
  if (info.torn_bytes > 0) {
    std::printf("torn tail: %llu bytes cut at offset %llu of %s; copy kept in %s\n",
                static_cast<unsigned long long>(info.torn_bytes),
                static_cast<unsigned long long>(info.torn_offset), info.torn_path.c_str(),
                info.torn_copy.c_str());
  }
  if (info.tmp_files_removed > 0) {
    std::printf("removed %llu unfinished segment file(s)\n",
                static_cast<unsigned long long>(info.tmp_files_removed));
  }
}

int dump(const wal::Wal& log) {
  constexpr uint64_t kBatch = 4ull << 20;
  for (uint64_t i = log.first_index(); i <= log.last_index();) {
    auto entries = log.entries(i, log.last_index() + 1, kBatch);
    if (!entries.ok()) {
      std::fprintf(stderr, "wal_tool: reading entry %llu: %s\n",
                   static_cast<unsigned long long>(i), entries.error().message().c_str());
      return 1;
    }
    for (const raft::Entry& e : *entries) {
      std::printf("%llu\t%llu\t%s\tdata=%zu\tcontext=%zu\n",
                  static_cast<unsigned long long>(e.index()),
                  static_cast<unsigned long long>(e.term()),
                  eraftpb::EntryType_Name(e.entry_type()).c_str(), e.data().size(),
                  e.context().size());
    }
    i += entries->size();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  const std::string command = argv[1];
  const std::string dir = argv[2];
  if (command != "check" && command != "dump" && command != "repair") return usage();
  if (!wal::posix_file_system().exists(dir)) {
    std::fprintf(stderr, "wal_tool: %s does not exist\n", dir.c_str());
    return 1;
  }

  if (command == "repair") {
    uint64_t cut = 0;
    const wal::Status st = wal::Wal::repair(dir, wal::WalOptions{}, &cut);
    if (!st.ok()) {
      std::fprintf(stderr, "wal_tool: repair failed: %s\n", st.message().c_str());
      return 1;
    }
    std::printf(cut == 0 ? "%s: nothing to repair\n" : "%s: cut %llu bytes\n", dir.c_str(),
                static_cast<unsigned long long>(cut));
    return 0;
  }

  wal::WalOpenInfo info;
  wal::WalOptions options;
  options.cache_bytes = 0;  // every entry is read once
  auto log = wal::Wal::open(dir, options, &info);
  if (!log.ok()) {
    std::fprintf(stderr, "wal_tool: %s\n", log.status().message().c_str());
    return 1;
  }
  print_open_info(dir, **log, info);
  return command == "dump" ? dump(**log) : 0;
}
