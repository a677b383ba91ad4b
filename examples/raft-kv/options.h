// raft-kv's command line: parsed into the node's config and the service's own settings.
//
//   raft-kv --id N --peers 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT --http HOST:PORT --data-dir DIR
//           [options]
//
// The node listens for raft traffic on its own entry in --peers (or on --listen, when it must
// bind another address than the one its peers dial, as behind NAT) and reaches every other member
// at the address its own --peers gives. usage() is the --help text and lists every option.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "framework/node_config.h"
#include "raft/logger.h"

namespace raftkv {

struct Options {
  framework::NodeConfig node;       // id, cluster_id, listen, peers, join, data_dir, raft tuning
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 0;           // 0: pick a free port (printed at start)
  size_t max_key_bytes = 1024;      // 413 above
  size_t max_value_bytes = 1 << 20; // 413 above
  size_t max_connections = 1024;    // HTTP connections served at once; more are closed at accept
  int io_threads = 2;               // threads running the io_context (HTTP and the node's strand)
  raft::LogLevel log_level = raft::LogLevel::kInfo;
};

// What parse_options() found: options to run with, a request for --help, or an error.
struct ParsedOptions {
  enum class Kind { kRun, kHelp, kError };
  Kind kind = Kind::kError;
  Options options;
  std::string error;  // kError: one line naming the flag and what is wrong with it
};

// Parses argv (argv[0] is the program name). Every flag takes its value as the next argument or
// after '='. Unknown flags, missing required flags (--id, --peers, --data-dir, --http), values
// out of range, an --id absent from --peers and duplicate flags are errors. The result's
// node config has passed NodeConfig::validate().
ParsedOptions parse_options(int argc, const char* const* argv);

std::string usage();

// "HOST:PORT" -> address; false if malformed (empty host, port not a number in 0..65535).
bool parse_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace raftkv
