#include "wal/status.h"

#include <cstring>

namespace wal {
namespace {

class WalCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "wal"; }
  std::string message(int code) const override {
    switch (static_cast<Error>(code)) {
      case Error::kOk: return "ok";
      case Error::kCorruption: return "corrupt data";
      case Error::kWrongCluster: return "data directory belongs to another cluster";
      case Error::kWrongNode: return "data directory belongs to another node";
      case Error::kInvalidArgument: return "invalid argument";
      case Error::kFailed: return "an earlier write or sync failed; reopen the log";
      case Error::kMetaStore: return "meta store (LevelDB) error";
    }
    return "unknown wal error";
  }
};

}  // namespace

const std::error_category& wal_category() noexcept {
  static const WalCategory category;
  return category;
}

Status Status::from_errno(int err, const std::string& what) {
  return Status(std::error_code(err, std::generic_category()),
                what + ": " + std::strerror(err));
}

}  // namespace wal
