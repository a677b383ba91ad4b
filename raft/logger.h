// Structured logging for the core. Every line carries the node id and term, so an interleaved
// log of a five-node simulation can still be read one node at a time.
//
// The core never writes to a stream itself: it calls a Logger that the embedding application
// supplies (the framework routes it to its own log; tests capture or discard it).
#pragma once

#include <cstdint>
#include <string>
#include <stdexcept>
#include <string_view>

namespace raft {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kFatal = 4 };

std::string_view to_string(LogLevel level) noexcept;

class Logger {
 public:
  virtual ~Logger() = default;
  // Called from whatever thread drives the core; need not be thread-safe for one core.
  virtual void log(LogLevel level, uint64_t node_id, uint64_t term, std::string_view message) = 0;
  // Lines below this level are not even formatted.
  virtual LogLevel level() const { return LogLevel::kInfo; }
};

// Writes "level node=ID term=T message" lines to stderr.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min_level = LogLevel::kInfo) : min_(min_level) {}
  void log(LogLevel level, uint64_t node_id, uint64_t term, std::string_view message) override;
  LogLevel level() const override { return min_; }

 private:
  LogLevel min_;
};

// Drops everything; the default when no logger is given.
class NullLogger final : public Logger {
 public:
  void log(LogLevel, uint64_t, uint64_t, std::string_view) override {}
  LogLevel level() const override { return LogLevel::kFatal; }
};

// The process-wide NullLogger instance.
Logger& null_logger() noexcept;

// Thrown after a kFatal line: a broken invariant of the core (never bad input).
struct InvariantViolation : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A Logger bound to one node: every line gets the node's id and its current term. Passed by
// pointer to the parts of the core (log, tracker) that log on the node's behalf.
class NodeLogger {
 public:
  explicit NodeLogger(Logger* logger = &null_logger(), uint64_t id = 0) : logger_(logger), id_(id) {}

  void set_term(uint64_t term) { term_ = term; }
  uint64_t id() const { return id_; }
  bool enabled(LogLevel level) const { return level >= logger_->level(); }

  void debug(std::string_view msg) const { write(LogLevel::kDebug, msg); }
  void info(std::string_view msg) const { write(LogLevel::kInfo, msg); }
  void warn(std::string_view msg) const { write(LogLevel::kWarn, msg); }
  void error(std::string_view msg) const { write(LogLevel::kError, msg); }
  // Logs and throws InvariantViolation: for broken invariants of the core, never for bad input.
  [[noreturn]] void fatal(std::string_view msg) const;

 private:
  void write(LogLevel level, std::string_view msg) const {
    if (enabled(level)) logger_->log(level, id_, term_, msg);
  }

  Logger* logger_;
  uint64_t id_;
  uint64_t term_ = 0;
};

// A NodeLogger that drops everything, for parts of the core used on their own in tests.
const NodeLogger* null_node_logger() noexcept;

}  // namespace raft
