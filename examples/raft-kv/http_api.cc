#include "http_api.h"

#include <charconv>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include "json.h"
#include "kv_command.h"
#include "kv_state_machine.h"
#include "options.h"
#include "prometheus.h"

// GCC 12 pairs Asio's coroutine frame allocation (aligned_alloc, through its recycling
// allocator) with the frame's sized operator delete and reports a mismatch that is not there
// (-Wmismatched-new-delete); both go through Asio's own allocate/deallocate.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace raftkv {
namespace {

namespace http = boost::beast::http;
using framework::NodeError;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kBytes = "application/octet-stream";
constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";

Response respond(const Request& req, http::status status, std::string body,
                 std::string_view content_type) {
  Response res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// A request refused before it reached the node: it certainly did not take effect.
Response reject(const Request& req, framework::Node& node, http::status status,
                std::string_view message) {
  return respond(req, status, json::error_body(message, false, node.metrics().leader), kJson);
}

Response method_not_allowed(const Request& req, framework::Node& node, std::string_view allow) {
  Response res = reject(req, node, http::status::method_not_allowed,
                        "method " + std::string(req.method_string()) + " not allowed here");
  res.set(http::field::allow, allow);
  return res;
}

// A request the node failed. `leader` is the one the reply named; 0 when it named none.
Response node_failure(const Request& req, framework::Node& node, std::error_code ec,
                      uint64_t leader) {
  http::status status = http::status::internal_server_error;
  std::string message = ec.message();
  if (ec.category() == framework::node_category()) {
    switch (static_cast<NodeError>(ec.value())) {
      case NodeError::kNotLeader:
        status = http::status::service_unavailable;
        if (leader == 0) message = "no leader";
        break;
      case NodeError::kTimeout:
        status = http::status::gateway_timeout;
        break;
      case NodeError::kDropped:
      case NodeError::kTooManyPending:
      case NodeError::kStopped:
      case NodeError::kRemoved:
        status = http::status::service_unavailable;
        break;
      case NodeError::kInvalidArgument:
        status = http::status::bad_request;
        break;
      case NodeError::kStorageFailed:
      case NodeError::kOk:
        break;
    }
  }
  // "no leader" must say so; otherwise name the leader this node knows of, if the reply did not.
  if (leader == 0 && ec != NodeError::kNotLeader) leader = node.metrics().leader;
  return respond(req, status,
                 json::error_body(message, framework::may_have_taken_effect(ec), leader), kJson);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes become bytes. In a query, '+' is a space as in HTML forms (what most clients'
// query encoders produce); in the path it is itself. False on a malformed escape.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_digit(in[i + 1]);
      const int lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

using Query = std::map<std::string, std::string, std::less<>>;

// Splits "a=1&b=2" into decoded names and values. Names outside `allowed`, repeated names and
// bad escapes are errors (a misspelt "if" must not turn a compare-and-swap into a plain put).
bool parse_query(std::string_view query, std::initializer_list<std::string_view> allowed,
                 Query& out, std::string& error) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), true, name) ||
        (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value))) {
      error = "malformed percent-encoding in the query";
      return false;
    }
    bool known = false;
    for (std::string_view a : allowed) known = known || a == name;
    if (!known) {
      error = "unknown query parameter " + json::quote(name);
      return false;
    }
    if (!out.emplace(name, std::move(value)).second) {
      error = "query parameter " + json::quote(name) + " given twice";
      return false;
    }
  }
  return true;
}

// A node id: decimal digits only, above 0.
bool parse_id(std::string_view text, uint64_t& id) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) return false;
  id = v;
  return true;
}

// GET /kv/{key}[?consistency=linearizable|lease|stale]
boost::asio::awaitable<Response> get_key(framework::Node& node, const KvStateMachine& kv,
                                         const Request& req, const std::string& key,
                                         std::string_view query) {
  Query params;
  std::string error;
  if (!parse_query(query, {"consistency"}, params, error)) {
    co_return reject(req, node, http::status::bad_request, error);
  }
  const auto it = params.find("consistency");
  const std::string_view consistency =
      it == params.end() ? std::string_view("linearizable") : std::string_view(it->second);
  if (consistency == "linearizable" || consistency == "lease") {
    // Both go through read_index(), which confirms leadership the way the node's ReadMode says
    // (a quorum round, or the leader's lease with --read-mode lease): the framework has no
    // per-read mode, so "lease" on a node in safe mode is simply linearizable.
    const framework::Reply<uint64_t> read = co_await node.read_index();
    if (!read.ok()) co_return node_failure(req, node, read.error, read.leader);
  } else if (consistency != "stale") {
    co_return reject(req, node, http::status::bad_request,
                     "consistency must be linearizable, lease or stale, not " +
                         json::quote(consistency));
  }
  std::optional<std::string> value = kv.get(key);
  if (!value) co_return reject(req, node, http::status::not_found, "no such key");
  co_return respond(req, http::status::ok, std::move(*value), kBytes);
}

// PUT /kv/{key}[?if=old] and DELETE /kv/{key}: checked completely, then proposed.
boost::asio::awaitable<Response> write_key(framework::Node& node, const ApiLimits& limits,
                                           const Request& req, std::string key,
                                           std::string_view query) {
  Query params;
  std::string error;
  KvCommand command;
  command.key = std::move(key);
  if (req.method() == http::verb::put) {
    if (!parse_query(query, {"if"}, params, error)) {
      co_return reject(req, node, http::status::bad_request, error);
    }
    if (req.body().size() > limits.max_value_bytes) {
      co_return reject(req, node, http::status::payload_too_large,
                       "value longer than " + std::to_string(limits.max_value_bytes) + " bytes");
    }
    command.value = req.body();
    if (auto it = params.find("if"); it != params.end()) {
      if (it->second.size() > limits.max_value_bytes) {
        co_return reject(req, node, http::status::payload_too_large,
                         "expected value longer than " + std::to_string(limits.max_value_bytes) +
                             " bytes");
      }
      command.op = Op::kPutIf;
      command.expected = std::move(it->second);
    }
  } else {
    if (!parse_query(query, {}, params, error)) {
      co_return reject(req, node, http::status::bad_request, error);
    }
    command.op = Op::kDelete;
  }

  const framework::Reply<framework::Proposed> proposed =
      co_await node.propose(encode_command(command));
  if (!proposed.ok()) {
    if (proposed.error == NodeError::kInvalidArgument) {
      // The only argument propose() refuses is a command above NodeConfig::max_command_bytes.
      co_return respond(req, http::status::payload_too_large,
                        json::error_body("command larger than the node accepts", false,
                                         node.metrics().leader),
                        kJson);
    }
    co_return node_failure(req, node, proposed.error, proposed.leader);
  }
  const std::optional<KvResult> result = decode_result(proposed.value.result);
  if (!result || result->outcome == Outcome::kMalformed) {
    // Applied (so it took effect, as a no-op), but not understood: a bug or a version mismatch,
    // nothing the client can fix.
    co_return respond(req, http::status::internal_server_error,
                      json::error_body("the state machine could not apply the command", true,
                                       node.metrics().leader),
                      kJson);
  }
  if (result->outcome == Outcome::kConflict) {
    Response res = respond(req, http::status::precondition_failed, result->current, kBytes);
    res.set("X-Raft-Kv-Present", result->present ? "true" : "false");
    co_return res;
  }
  std::string body = "{\"index\":" + std::to_string(proposed.value.index);
  if (command.op == Op::kDelete) {
    body += result->present ? ",\"deleted\":true" : ",\"deleted\":false";
  }
  co_return respond(req, http::status::ok, body + "}", kJson);
}

// POST /cluster/members with {"op", "id", "address", "learner"}.
boost::asio::awaitable<Response> change_members(framework::Node& node, const Request& req) {
  json::MemberRequest member;
  std::string error;
  if (!json::parse_member_request(req.body(), member, error)) {
    co_return reject(req, node, http::status::bad_request, error);
  }
  framework::Reply<raft::ConfState> changed;
  switch (member.op) {
    case json::MemberRequest::Op::kAdd: {
      net::PeerAddress address;
      if (!parse_host_port(member.address, address.host, address.port) || address.port == 0) {
        co_return reject(req, node, http::status::bad_request,
                         "field \"address\" must be HOST:PORT with a port in 1..65535, not " +
                             json::quote(member.address));
      }
      if (member.learner) {
        changed = co_await node.add_learner(member.id, std::move(address));
      } else {
        changed = co_await node.add_voter(member.id, std::move(address));
      }
      break;
    }
    case json::MemberRequest::Op::kRemove:
      changed = co_await node.remove_member(member.id);
      break;
    case json::MemberRequest::Op::kPromote:
      changed = co_await node.promote(member.id);
      break;
  }
  if (!changed.ok()) co_return node_failure(req, node, changed.error, changed.leader);
  co_return respond(req, http::status::ok, json::conf_state_body(changed.value), kJson);
}

// POST /cluster/transfer-leader?to=N
boost::asio::awaitable<Response> transfer_leader(framework::Node& node, const Request& req,
                                                 const Query& params) {
  uint64_t to = 0;
  const auto it = params.find("to");
  if (it == params.end() || !parse_id(it->second, to)) {
    co_return reject(req, node, http::status::bad_request,
                     "query parameter \"to\" must be a node id (a positive integer)");
  }
  const framework::Reply<framework::Empty> moved = co_await node.transfer_leader(to);
  if (!moved.ok()) co_return node_failure(req, node, moved.error, moved.leader);
  co_return respond(req, http::status::ok, "{\"leader\":" + std::to_string(to) + "}", kJson);
}

}  // namespace

KvApi::KvApi(framework::Node& node, KvStateMachine& kv, ApiLimits limits)
    : node_(node), kv_(kv), limits_(limits) {}

boost::asio::awaitable<Response> KvApi::handle(const Request& req) {
  const std::string_view target = req.target();
  const size_t mark = target.find('?');
  const std::string_view path = target.substr(0, mark);
  const std::string_view query =
      mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
  const http::verb method = req.method();

  if (path.starts_with("/kv/")) {
    if (method != http::verb::get && method != http::verb::put && method != http::verb::delete_) {
      co_return method_not_allowed(req, node_, "GET, PUT, DELETE");
    }
    std::string key;
    if (!percent_decode(path.substr(4), false, key)) {
      co_return reject(req, node_, http::status::bad_request,
                       "malformed percent-encoding in the key");
    }
    if (key.empty()) co_return reject(req, node_, http::status::bad_request, "empty key");
    if (key.size() > limits_.max_key_bytes) {
      co_return reject(req, node_, http::status::payload_too_large,
                       "key longer than " + std::to_string(limits_.max_key_bytes) + " bytes");
    }
    if (method == http::verb::get) co_return co_await get_key(node_, kv_, req, key, query);
    co_return co_await write_key(node_, limits_, req, std::move(key), query);
  }

  // The other routes: their method, and the query parameter each accepts (if any).
  struct Route {
    std::string_view path;
    http::verb method;
    std::string_view param;
  };
  static constexpr Route kRoutes[] = {
      {"/status", http::verb::get, ""},
      {"/metrics", http::verb::get, ""},
      {"/cluster/members", http::verb::post, ""},
      {"/cluster/transfer-leader", http::verb::post, "to"},
  };
  for (const Route& route : kRoutes) {
    if (path != route.path) continue;
    if (method != route.method) {
      co_return method_not_allowed(req, node_, http::to_string(route.method));
    }
    Query params;
    std::string error;
    const bool parsed = route.param.empty() ? parse_query(query, {}, params, error)
                                            : parse_query(query, {route.param}, params, error);
    if (!parsed) {
      co_return reject(req, node_, http::status::bad_request, error);
    }
    if (path == "/status") {
      const framework::NodeStatus status = co_await node_.status();
      co_return respond(req, http::status::ok, json::status_body(status), kJson);
    }
    if (path == "/metrics") {
      co_return respond(req, http::status::ok, render_prometheus(node_.metrics()), kPrometheus);
    }
    if (path == "/cluster/members") co_return co_await change_members(node_, req);
    co_return co_await transfer_leader(node_, req, params);
  }
  co_return reject(req, node_, http::status::not_found, "no such route");
}

}  // namespace raftkv
