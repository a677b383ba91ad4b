// Errors of the storage layer: an error code a caller can compare, and the sentence a person
// reads ("wal: bad checksum in /data/wal/0000000000000003-0000000000001a2b.wal at offset 81920").
//
// Storage failures must name what failed and where, because the usual answer to one is a person
// looking at a data directory; a bare errno is not enough.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace wal {

enum class Error {
  kOk = 0,
  kCorruption,      // a record or file that fails its checks where a torn tail cannot be
  kWrongCluster,    // the data directory belongs to another cluster
  kWrongNode,       // the data directory belongs to another node of this cluster
  kInvalidArgument, // a call that breaks its contract (a gap in appended indexes, a bad option)
  kFailed,          // an earlier write or sync failed; the log must be closed and reopened
  kMetaStore,       // LevelDB reported an error (its message is in Status::message)
};

const std::error_category& wal_category() noexcept;

inline std::error_code make_error_code(Error e) noexcept {
  return {static_cast<int>(e), wal_category()};
}

// OK, or an error code with a message. I/O failures carry the system's errno
// (std::generic_category: ENOSPC, EIO, ...), the rest carry wal::Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(std::error_code code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(Error e, std::string message) : Status(make_error_code(e), std::move(message)) {}
  // An errno failure of `what` ("fdatasync /data/wal/...: No space left on device").
  static Status from_errno(int err, const std::string& what);

  bool ok() const noexcept { return !code_; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code code() const noexcept { return code_; }
  // The whole sentence; empty when ok().
  const std::string& message() const noexcept { return message_; }

 private:
  std::error_code code_;
  std::string message_;
};

// A value or a Status explaining why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT; must not be ok()

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  // OK when there is a value.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace wal

template <>
struct std::is_error_code_enum<wal::Error> : std::true_type {};
