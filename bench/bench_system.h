// Facts about the machine a benchmark reports with its figures.
#pragma once

#include <sys/vfs.h>

#include <string>

namespace bench {

// The kind of file system `path` is on: a benchmark of syncs on tmpfs measures nothing.
inline const char* filesystem_name(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794C7630: return "overlayfs";
    default: return "other";
  }
}

}  // namespace bench
