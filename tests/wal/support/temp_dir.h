// Files for WAL tests: a fresh directory per test, and whole-file reads and writes for damaging
// and restoring a WAL directory byte for byte.
//
// Helpers throw std::runtime_error on a failed system call (GoogleTest reports it as a failure
// of the test that called them).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace wal::testing {

// A directory made with mkdtemp under ${TMPDIR:-/tmp}, removed with everything in it at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string sub(const std::string& name) const;

 private:
  std::string path_;
};

// Removes `path` and everything under it; OK if it does not exist.
void remove_tree(const std::string& path);

std::string read_file(const std::string& path);
// Creates or replaces the file with exactly `bytes` (no fsync: test set-up only).
void write_file(const std::string& path, const std::string& bytes);
// ftruncate(2) by path.
void truncate_file(const std::string& path, uint64_t size);

// The regular files of a directory (not recursive): name -> contents.
using DirContents = std::map<std::string, std::string>;
DirContents read_dir(const std::string& dir);
// Makes `dir` hold exactly `contents`: creates it if needed, removes other files, writes the rest.
void write_dir(const std::string& dir, const DirContents& contents);

}  // namespace wal::testing
