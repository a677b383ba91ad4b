#include "tests/e2e/json.h"

// Boost.JSON is header-only when its sources are compiled into exactly one file of the binary.
#include <boost/json/src.hpp>

namespace raftkv::e2e {
namespace {

namespace json = boost::json;

std::optional<uint64_t> as_u64(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return std::nullopt;
}

std::optional<std::vector<uint64_t>> as_ids(const json::value* v) {
  if (v == nullptr || !v->is_array()) return std::nullopt;
  std::vector<uint64_t> out;
  for (const auto& e : v->get_array()) {
    auto id = as_u64(&e);
    if (!id) return std::nullopt;
    out.push_back(*id);
  }
  return out;
}

std::optional<json::object> parse_object(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.get_object();
}

}  // namespace

std::optional<StatusInfo> parse_status(const std::string& body) {
  auto obj = parse_object(body);
  if (!obj) return std::nullopt;
  StatusInfo s;
  auto id = as_u64(obj->if_contains("id"));
  auto term = as_u64(obj->if_contains("term"));
  auto commit = as_u64(obj->if_contains("commit"));
  auto applied = as_u64(obj->if_contains("applied"));
  auto voters = as_ids(obj->if_contains("voters"));
  auto learners = as_ids(obj->if_contains("learners"));
  const json::value* role = obj->if_contains("role");
  const json::value* leader = obj->if_contains("leader");
  if (!id || !term || !commit || !applied || !voters || !learners || role == nullptr ||
      !role->is_string() || leader == nullptr) {
    return std::nullopt;
  }
  s.id = *id;
  s.term = *term;
  s.commit = *commit;
  s.applied = *applied;
  s.voters = std::move(*voters);
  s.learners = std::move(*learners);
  s.role = std::string(role->get_string());
  if (!leader->is_null()) {
    auto l = as_u64(leader);
    if (!l) return std::nullopt;
    s.leader = *l;
  }
  return s;
}

std::optional<ErrorInfo> parse_error(const std::string& body) {
  auto obj = parse_object(body);
  if (!obj) return std::nullopt;
  const json::value* error = obj->if_contains("error");
  const json::value* executed = obj->if_contains("executed");
  const json::value* leader = obj->if_contains("leader");
  if (error == nullptr || !error->is_string() || executed == nullptr || leader == nullptr) {
    return std::nullopt;
  }
  ErrorInfo e;
  e.error = std::string(error->get_string());
  if (executed->is_bool()) {
    e.executed = executed->get_bool();
  } else if (!executed->is_null()) {
    return std::nullopt;
  }
  if (!leader->is_null()) {
    auto l = as_u64(leader);
    if (!l) return std::nullopt;
    e.leader = *l;
  }
  return e;
}

}  // namespace raftkv::e2e
