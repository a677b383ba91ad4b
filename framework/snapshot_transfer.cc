#include "framework/snapshot_transfer.h"

#include <utility>

namespace framework {
namespace {

class FileSource final : public net::SnapshotSource {
 public:
  explicit FileSource(std::unique_ptr<snapshot::RawReader> reader) : reader_(std::move(reader)) {}
  uint64_t size() const override { return reader_->info().file_bytes; }
  size_t read(char* buf, size_t n) override { return reader_->read(buf, n); }

 private:
  std::unique_ptr<snapshot::RawReader> reader_;
};

class FileSink final : public net::SnapshotSink {
 public:
  explicit FileSink(std::unique_ptr<snapshot::RawWriter> writer) : writer_(std::move(writer)) {}
  void write(const char* data, size_t n) override { writer_->write(data, n); }
  void commit() override { writer_->commit(); }
  void abort() override { writer_->abort(); }

 private:
  std::unique_ptr<snapshot::RawWriter> writer_;
};

}  // namespace

std::unique_ptr<net::SnapshotSource> snapshot_source(std::unique_ptr<snapshot::RawReader> reader) {
  return std::make_unique<FileSource>(std::move(reader));
}

std::unique_ptr<net::SnapshotSink> snapshot_sink(std::unique_ptr<snapshot::RawWriter> writer) {
  return std::make_unique<FileSink>(std::move(writer));
}

}  // namespace framework
