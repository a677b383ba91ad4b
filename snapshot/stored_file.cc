#include "snapshot/stored_file.h"

#include <algorithm>
#include <memory>
#include <string>

#include "raft/crc32c.h"
#include "snapshot/snapshot_format.h"

namespace snapshot {

StoredFile open_stored(const std::string& path) {
  StoredFile f;
  f.fd = io::open_read(path);
  f.info.path = path;
  const uint64_t size = io::file_size(f.fd.get(), path);
  f.info.file_bytes = size;
  if (size < format::kFixedHeaderBytes + format::kTrailerBytes) {
    io::damaged(
        path, "the file has " + std::to_string(size) + " bytes, fewer than a header and a trailer");
  }

  char fixed[format::kFixedHeaderBytes];
  io::read_exact(f.fd.get(), fixed, sizeof fixed, 0, path);
  const uint32_t meta_len = format::check_fixed_header(fixed, path);
  f.header_bytes = format::kFixedHeaderBytes + meta_len;
  if (f.header_bytes + format::kTrailerBytes > size) {
    io::damaged(path, "metadata length " + std::to_string(meta_len) +
                          " does not fit in the file's " + std::to_string(size) + " bytes");
  }
  std::string meta(meta_len, '\0');
  io::read_exact(f.fd.get(), meta.data(), meta.size(), format::kFixedHeaderBytes, path);
  f.info.metadata = format::parse_metadata(meta.data(), meta.size(), path);
  f.header_crc =
      raft::crc32c::extend(raft::crc32c::value(fixed, sizeof fixed), meta.data(), meta.size());

  const auto id = format::parse_name(io::base_name(path));
  if (!id) io::damaged(path, "the name is not <index>-<term>.snap");
  if (id->index != f.info.metadata.index() || id->term != f.info.metadata.term()) {
    io::damaged(path, "the name says index " + std::to_string(id->index) + " term " +
                          std::to_string(id->term) + " but the metadata says " +
                          format::describe(f.info.metadata));
  }

  char trailer_bytes[format::kTrailerBytes];
  io::read_exact(f.fd.get(), trailer_bytes, sizeof trailer_bytes, size - format::kTrailerBytes,
                 path);
  const format::Trailer trailer = format::parse_trailer(trailer_bytes, path);
  const uint64_t body = size - f.header_bytes - format::kTrailerBytes;
  if (trailer.body_bytes != body) {
    io::damaged(path, "the trailer says the body has " + std::to_string(trailer.body_bytes) +
                          " bytes, the file holds " + std::to_string(body));
  }
  f.info.body_bytes = body;
  f.stored_crc = trailer.crc;
  return f;
}

void check_crc(const StoredFile& file, uint32_t crc) {
  if (crc != file.stored_crc) {
    io::damaged(file.info.path, "checksum mismatch (stored " + std::to_string(file.stored_crc) +
                                    ", computed " + std::to_string(crc) + ")");
  }
}

void check_checksum(const StoredFile& file) {
  const auto buf = std::make_unique<char[]>(format::kBufferBytes);
  uint32_t crc = file.header_crc;
  uint64_t offset = file.header_bytes;
  const uint64_t end = file.header_bytes + file.info.body_bytes;
  while (offset < end) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(format::kBufferBytes, end - offset));
    io::read_exact(file.fd.get(), buf.get(), want, offset, file.info.path);
    crc = raft::crc32c::extend(crc, buf.get(), want);
    offset += want;
  }
  check_crc(file, crc);
}

}  // namespace snapshot
