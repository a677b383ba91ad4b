#include "json.h"

#include <boost/json/src.hpp>  // Boost.JSON, header-only: compiled here and nowhere else

#include <string>

#include "framework/node.h"

namespace raftkv::json {
namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0 if there is none (overlong
// forms, surrogates and code points above U+10FFFF included).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  const auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_list(std::string& out, const char* name, const auto& ids) {
  out += '"';
  out += name;
  out += "\":[";
  bool first = true;
  for (uint64_t id : ids) {
    if (!first) out += ',';
    first = false;
    out += std::to_string(id);
  }
  out += ']';
}

void append_field(std::string& out, const char* name, uint64_t value) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
  out += ',';
}

const char* role_name(raft::StateRole role) {
  switch (role) {
    case raft::StateRole::kFollower: return "follower";
    case raft::StateRole::kCandidate: return "candidate";
    case raft::StateRole::kPreCandidate: return "precandidate";
    case raft::StateRole::kLeader: return "leader";
  }
  return "unknown";
}

// The JSON type of `v`, for error messages.
const char* kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "unknown";
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    const char c = text[i++];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string error_body(std::string_view message, bool may_have_executed, uint64_t leader) {
  std::string out = "{\"error\":" + quote(message);
  out += may_have_executed ? ",\"executed\":null" : ",\"executed\":false";
  out += ",\"leader\":";
  out += leader == 0 ? "null" : std::to_string(leader);
  out += '}';
  return out;
}

std::string status_body(const framework::NodeStatus& s) {
  std::string out = "{";
  append_field(out, "id", s.id);
  out += "\"role\":";
  out += quote(role_name(s.role));
  out += ',';
  append_field(out, "term", s.term);
  out += "\"leader\":";
  out += s.leader == 0 ? "null" : std::to_string(s.leader);
  out += ',';
  append_field(out, "commit", s.commit);
  append_field(out, "applied", s.applied);
  append_field(out, "last_index", s.last_index);
  append_field(out, "first_index", s.first_index);
  append_field(out, "snapshot_index", s.snapshot_index);
  append_list(out, "voters", s.voters);
  out += ',';
  append_list(out, "outgoing_voters", s.outgoing_voters);
  out += ',';
  append_list(out, "learners", s.learners);
  out += ',';
  append_field(out, "pending_requests", s.pending_requests);
  out += s.stopped ? "\"stopped\":true," : "\"stopped\":false,";
  out += "\"progress\":{";
  bool first = true;
  for (const auto& [id, p] : s.progress) {
    if (!first) out += ',';
    first = false;
    out += '"' + std::to_string(id) + "\":{";
    append_field(out, "match", p.match);
    append_field(out, "next", p.next);
    out += "\"state\":" + quote(p.state);
    out += p.recent_active ? ",\"recent_active\":true}" : ",\"recent_active\":false}";
  }
  out += "}}";
  return out;
}

std::string conf_state_body(const eraftpb::ConfState& conf) {
  std::string out = "{";
  append_list(out, "voters", conf.voters());
  out += ',';
  append_list(out, "outgoing_voters", conf.voters_outgoing());
  out += ',';
  append_list(out, "learners", conf.learners());
  out += '}';
  return out;
}

bool parse_member_request(std::string_view body, MemberRequest& out, std::string& error) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  if (ec) {
    error = "body is not valid JSON: " + ec.message();
    return false;
  }
  const boost::json::object* obj = doc.if_object();
  if (obj == nullptr) {
    error = std::string("body must be a JSON object, not ") + kind_of(doc);
    return false;
  }
  for (const auto& field : *obj) {
    const std::string_view key = field.key();
    if (key != "op" && key != "id" && key != "address" && key != "learner") {
      error = "unknown field " + quote(key) + " (expected op, id, address, learner)";
      return false;
    }
  }

  MemberRequest req;
  const boost::json::value* op = obj->if_contains("op");
  if (op == nullptr) {
    error = "missing field \"op\" (add, remove or promote)";
    return false;
  }
  if (!op->is_string()) {
    error = std::string("field \"op\" must be a string, not ") + kind_of(*op);
    return false;
  }
  const std::string_view op_name = op->get_string();
  if (op_name == "add") {
    req.op = MemberRequest::Op::kAdd;
  } else if (op_name == "remove") {
    req.op = MemberRequest::Op::kRemove;
  } else if (op_name == "promote") {
    req.op = MemberRequest::Op::kPromote;
  } else {
    error = "field \"op\" must be add, remove or promote, not " + quote(op_name);
    return false;
  }

  const boost::json::value* id = obj->if_contains("id");
  if (id == nullptr) {
    error = "missing field \"id\" (the member's node id)";
    return false;
  }
  if (id->is_uint64()) {
    req.id = id->get_uint64();
  } else if (id->is_int64() && id->get_int64() > 0) {
    req.id = static_cast<uint64_t>(id->get_int64());
  }
  if (req.id == 0) {
    error = id->is_number() ? "field \"id\" must be a positive integer"
                            : std::string("field \"id\" must be a positive integer, not ") +
                                  kind_of(*id);
    return false;
  }

  const boost::json::value* address = obj->if_contains("address");
  const boost::json::value* learner = obj->if_contains("learner");
  if (req.op == MemberRequest::Op::kAdd) {
    if (address == nullptr) {
      error = "missing field \"address\" (HOST:PORT where the members reach the new node)";
      return false;
    }
    if (!address->is_string()) {
      error = std::string("field \"address\" must be a string, not ") + kind_of(*address);
      return false;
    }
    req.address = address->get_string();
    if (learner != nullptr) {
      if (!learner->is_bool()) {
        error = std::string("field \"learner\" must be a boolean, not ") + kind_of(*learner);
        return false;
      }
      req.learner = learner->get_bool();
    }
  } else {
    if (address != nullptr) {
      error = "field \"address\" applies to op \"add\" only";
      return false;
    }
    if (learner != nullptr) {
      error = "field \"learner\" applies to op \"add\" only";
      return false;
    }
  }
  out = std::move(req);
  return true;
}

}  // namespace raftkv::json
