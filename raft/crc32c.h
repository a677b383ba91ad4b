// CRC32C (Castagnoli), the checksum of WAL records and network frames.
//
// Pure computation, so it lives with the core where every layer above can reach it (wal/ and
// net/ both depend on raft/, never on each other). Uses the SSE4.2 crc32 instruction when the
// CPU has it (checked once, at first use) and a table-driven fallback otherwise; both give the
// same values. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace raft::crc32c {

// The CRC32C of data[0, n) continued from `crc`, the CRC32C of the bytes before it (0 for none):
// extend(extend(0, a), b) == value(a ++ b).
uint32_t extend(uint32_t crc, const void* data, size_t n) noexcept;

inline uint32_t value(const void* data, size_t n) noexcept { return extend(0, data, n); }
inline uint32_t value(std::string_view s) noexcept { return extend(0, s.data(), s.size()); }

// Whether the hardware path is in use (for benchmarks and logs).
bool hardware_accelerated() noexcept;

// extend() by the table-driven path whatever the CPU has, so tests can compare both paths.
uint32_t extend_software(uint32_t crc, const void* data, size_t n) noexcept;

}  // namespace raft::crc32c
