#include "raft/logger.h"

#include <cstdio>

namespace raft {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kFatal: return "FATAL";
  }
  return "?";
}

void StderrLogger::log(LogLevel level, uint64_t node_id, uint64_t term, std::string_view message) {
  if (level < min_) return;
  std::fprintf(stderr, "%s node=%llu term=%llu %.*s\n", to_string(level).data(),
               static_cast<unsigned long long>(node_id), static_cast<unsigned long long>(term),
               static_cast<int>(message.size()), message.data());
}

Logger& null_logger() noexcept {
  static NullLogger logger;
  return logger;
}

void NodeLogger::fatal(std::string_view msg) const {
  logger_->log(LogLevel::kFatal, id_, term_, msg);
  throw InvariantViolation("node " + std::to_string(id_) + " term " + std::to_string(term_) +
                           ": " + std::string(msg));
}

const NodeLogger* null_node_logger() noexcept {
  static const NodeLogger logger;
  return &logger;
}

}  // namespace raft
