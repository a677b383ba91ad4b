// The JSON bodies of raft-kv's HTTP API that the end-to-end tests read: GET /status and error
// responses (examples/raft-kv/http_api.h). Parsing never throws: a body that is not what the
// API promises yields nullopt, which the tests report as a failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::e2e {

struct StatusInfo {
  uint64_t id = 0;
  std::string role;
  uint64_t term = 0;
  uint64_t leader = 0;  // 0: none known
  uint64_t commit = 0;
  uint64_t applied = 0;
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;
};

std::optional<StatusInfo> parse_status(const std::string& body);

struct ErrorInfo {
  std::string error;
  // "executed": false (certainly not done) -> false; null (may have been done) -> nullopt.
  std::optional<bool> executed;
  uint64_t leader = 0;  // null -> 0
};

std::optional<ErrorInfo> parse_error(const std::string& body);

}  // namespace raftkv::e2e
