// Fixed-width little-endian integers in byte buffers: the WAL's on-disk records and the network's
// frames both store their integers this way.
//
// Every supported target is little-endian, so these are plain copies there; the swap keeps the
// formats right anywhere else. memcpy makes unaligned access safe.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace raft::le {

template <typename T>
constexpr T to_little(T v) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
  }
  return v;
}

template <typename T>
inline void put(char* out, T v) noexcept {
  v = to_little(v);
  std::memcpy(out, &v, sizeof v);
}

template <typename T>
inline T get(const char* in) noexcept {
  T v;
  std::memcpy(&v, in, sizeof v);
  return to_little(v);
}

inline void put_u32(char* out, uint32_t v) noexcept { put(out, v); }
inline void put_u64(char* out, uint64_t v) noexcept { put(out, v); }
inline uint16_t get_u16(const char* in) noexcept { return get<uint16_t>(in); }
inline uint32_t get_u32(const char* in) noexcept { return get<uint32_t>(in); }
inline uint64_t get_u64(const char* in) noexcept { return get<uint64_t>(in); }

// Appends v to a growing byte string.
template <typename T>
inline void append(std::string& out, T v) {
  char buf[sizeof v];
  put(buf, v);
  out.append(buf, sizeof v);
}

}  // namespace raft::le
