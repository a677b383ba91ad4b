// raft-kv: one member of a replicated key-value store served over HTTP (README.md).
//
// Wires the parts together: the command line (options.h), the replicated map (kv_state_machine.h)
// inside a framework::Node, and the HTTP API (http_api.h) behind a Beast server (http_server.h),
// all on one io_context run by a few threads. SIGINT or SIGTERM stops it cleanly.
#include <csignal>
#include <exception>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "framework/node.h"
#include "http_api.h"
#include "http_server.h"
#include "kv_state_machine.h"
#include "options.h"

namespace {

namespace asio = boost::asio;

// Waits for SIGINT/SIGTERM, then shuts down in order: no new HTTP requests, the node finishes
// what it has under way, then the threads stop.
asio::awaitable<void> stop_on_signal(asio::signal_set& signals, raftkv::HttpServer& server,
                                     framework::Node& node, asio::io_context& io) {
  co_await signals.async_wait(asio::use_awaitable);
  server.stop();
  co_await node.stop();
  io.stop();
}

raftkv::HttpServerOptions http_options(const raftkv::Options& options) {
  raftkv::HttpServerOptions http;
  http.host = options.http_host;
  http.port = options.http_port;
  // Room for a value at its limit; the API itself answers 413 just above it.
  http.max_body_bytes = options.max_value_bytes + 4096;
  // A compare-and-swap carries the expected value in the URL, percent-encoded (up to 3 bytes
  // per byte), as does the key.
  http.max_header_bytes = (16 << 10) + 3 * (options.max_key_bytes + options.max_value_bytes);
  http.max_connections = options.max_connections;
  return http;
}

}  // namespace

int main(int argc, char** argv) {
  const raftkv::ParsedOptions parsed = raftkv::parse_options(argc, argv);
  if (parsed.kind == raftkv::ParsedOptions::Kind::kHelp) {
    std::cout << raftkv::usage();
    return 0;
  }
  if (parsed.kind == raftkv::ParsedOptions::Kind::kError) {
    std::cerr << "raft-kv: " << parsed.error << " (raft-kv --help lists the flags)\n";
    return 2;
  }
  const raftkv::Options& options = parsed.options;

  raft::StderrLogger logger(options.log_level);
  framework::NodeConfig config = options.node;
  config.logger = &logger;

  asio::io_context io(options.io_threads);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto kv = std::make_shared<raftkv::KvStateMachine>();
  framework::Node node(io.get_executor(), config, kv);
  raftkv::KvApi api(node, *kv, raftkv::ApiLimits{options.max_key_bytes, options.max_value_bytes});
  raftkv::HttpServer server(io.get_executor(), http_options(options),
                            [&api](const raftkv::Request& request) { return api.handle(request); });
  try {
    node.start();
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "raft-kv: " << e.what() << "\n";
    return 1;
  }

  std::cout << "raft-kv: node " << config.id << " serving http on " << options.http_host << ":"
            << server.port() << ", raft on " << config.listen.host << ":" << node.port()
            << std::endl;

  asio::co_spawn(io, stop_on_signal(signals, server, node, io), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < options.io_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  return 0;
}
