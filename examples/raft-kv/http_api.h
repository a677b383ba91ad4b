// raft-kv's HTTP API: one request in, one response out. The transport (connections, parsing,
// keep-alive) is http_server.h's job; this file maps requests onto the Node and the KvStateMachine.
//
//   PUT    /kv/{key}                 body = value; 200 once committed and applied here
//   PUT    /kv/{key}?if={old}        compare-and-swap: 200 if it was `old`, else 412 with the
//                                    current value as body (header X-Raft-Kv-Present: false if
//                                    absent)
//   GET    /kv/{key}                 200 value / 404; ?consistency=linearizable (default),
//                                    lease (Node::read_index in lease mode needs --read-mode
//                                    lease; otherwise the node's mode) or stale (local state)
//   DELETE /kv/{key}                 200 once applied
//   GET    /status                   JSON: id, role, term, leader, commit, applied, last_index,
//                                    voters, outgoing_voters, learners, snapshot_index, progress
//   POST   /cluster/members          JSON {"op": "add"|"remove"|"promote", "id": N,
//                                    "address": "HOST:PORT", "learner": bool}
//   POST   /cluster/transfer-leader?to=N
//   GET    /metrics                  Prometheus text format 0.0.4
//
// Keys are the path after /kv/, percent-decoded; they must be non-empty and at most
// max_key_bytes; values at most max_value_bytes (413 above either).
//
// Errors are JSON {"error": "...", "executed": false|null, "leader": N|null}. "executed": false
// only when the operation certainly did not take effect (NodeError::may_have_taken_effect() is
// false); null when it may have. Status codes: 400 malformed request (never proposed), 404 no
// such route or key, 405 wrong method, 412 failed compare-and-swap, 413 too large, 500 the node
// failed (storage), 503 no leader known / node stopping / too many pending requests, 504 outcome
// unknown (timeout). "leader" is the leader this node knows of, if any.
#pragma once

#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "framework/node.h"

namespace raftkv {

class KvStateMachine;

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct ApiLimits {
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 1 << 20;
};

class KvApi {
 public:
  // `node` and `kv` outlive the KvApi.
  KvApi(framework::Node& node, KvStateMachine& kv, ApiLimits limits);

  // Serves one request; never throws for bad input (it becomes a 4xx response). The response's
  // version and keep-alive follow the request's.
  boost::asio::awaitable<Response> handle(const Request& request);

 private:
  framework::Node& node_;
  KvStateMachine& kv_;
  ApiLimits limits_;
};

}  // namespace raftkv
