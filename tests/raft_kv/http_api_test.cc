// raft-kv's HTTP API (examples/raft-kv/http_api.h) served in-process: a single-node Node with a
// KvStateMachine and an HttpServer on one io_context run by two threads, driven by a Beast
// client over loopback. Covers every route, status code and error body the header documents.
#include "http_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "http_server.h"
#include "json.h"
#include "kv_state_machine.h"
#include "prometheus.h"
#include "tests/raft_kv/http_test_client.h"
#include "tests/wal/support/temp_dir.h"

namespace raftkv {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using test::ClientResponse;
using test::TestClient;
using namespace std::chrono_literals;

using test::wait_until;

struct HarnessOptions {
  // Members of the cluster besides node 1, never started: with two of them, node 1 cannot win an
  // election and no leader is ever known.
  int absent_peers = 0;
  std::chrono::milliseconds request_timeout{10000};
  ApiLimits limits;
  HttpServerOptions server;
};

// Node 1 and the API on it, listening on port 0 on 127.0.0.1.
class Harness {
 public:
  explicit Harness(HarnessOptions o = {}) : guard_(io_.get_executor()) {
    framework::NodeConfig cfg;
    cfg.id = 1;
    cfg.cluster_id = 42;
    cfg.data_dir = dir_.sub("node1");
    cfg.listen = {"127.0.0.1", 0};
    for (uint64_t id = 1; id <= 1 + static_cast<uint64_t>(o.absent_peers); ++id) {
      cfg.peers[id] = {"127.0.0.1", 0};  // port 0: not known, so never dialled
    }
    cfg.tick_interval = 10ms;
    cfg.request_timeout = o.request_timeout;
    cfg.max_command_bytes = 64 + o.limits.max_key_bytes + 2 * o.limits.max_value_bytes;
    kv_ = std::make_shared<KvStateMachine>();
    node_ = std::make_unique<framework::Node>(io_.get_executor(), cfg, kv_);
    api_ = std::make_unique<KvApi>(*node_, *kv_, o.limits);
    server_ = std::make_unique<HttpServer>(
        io_.get_executor(), o.server,
        [api = api_.get()](const Request& req) { return api->handle(req); });
    node_->start();
    server_->start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~Harness() {
    server_->stop();
    auto stopped = asio::co_spawn(io_, node_->stop(), asio::use_future);
    if (stopped.wait_for(20s) != std::future_status::ready) ADD_FAILURE() << "node did not stop";
    guard_.reset();
    if (!wait_until([this] { return io_.stopped(); })) {
      ADD_FAILURE() << "the io_context still had work after stop()";
      io_.stop();
    }
    for (auto& t : threads_) t.join();
  }

  bool wait_for_leader() {
    return wait_until([this] { return node_->metrics().is_leader; });
  }

  uint16_t port() const { return server_->port(); }
  framework::Node& node() { return *node_; }
  KvStateMachine& kv() { return *kv_; }

 private:
  wal::testing::TempDir dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::shared_ptr<KvStateMachine> kv_;
  std::unique_ptr<framework::Node> node_;
  std::unique_ptr<KvApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> threads_;
};

// The fields of an error body; fails the test if it is not one.
struct ErrorBody {
  std::string error;
  boost::json::value executed;
  boost::json::value leader;
};

ErrorBody error_of(const ClientResponse& r) {
  EXPECT_EQ(r[http::field::content_type], "application/json");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(r.body(), ec);
  EXPECT_FALSE(ec) << r.body();
  ErrorBody e;
  const boost::json::object* o = v.if_object();
  if (o == nullptr || !o->contains("error") || !o->contains("executed") ||
      !o->contains("leader") || !o->at("error").is_string()) {
    ADD_FAILURE() << "not an error body: " << r.body();
    return e;
  }
  e.error = o->at("error").as_string();
  e.executed = o->at("executed");
  e.leader = o->at("leader");
  return e;
}

// A refusal: `status`, executed false, and the leader (node 1) named.
void expect_refused(const std::optional<ClientResponse>& r, http::status status,
                    const std::string& error_part) {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), status) << r->body();
  const ErrorBody e = error_of(*r);
  EXPECT_NE(e.error.find(error_part), std::string::npos) << e.error;
  EXPECT_EQ(e.executed, boost::json::value(false));
}

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h.wait_for_leader()); }
  Harness h;
};

TEST_F(HttpApiTest, PutGetDelete) {
  TestClient c(h.port());
  auto r = c.put("/kv/greeting", "hello");
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::ok) << r->body();

  r = c.get("/kv/greeting");
  ASSERT_TRUE(r) << c.error;
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ(r->body(), "hello");

  r = c.put("/kv/greeting", "bonjour");
  ASSERT_TRUE(r);
  EXPECT_EQ(c.get("/kv/greeting")->body(), "bonjour");

  r = c.del("/kv/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_NE(r->body().find("\"deleted\":true"), std::string::npos) << r->body();
  r = c.del("/kv/greeting");  // deleting an absent key is not an error
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_NE(r->body().find("\"deleted\":false"), std::string::npos) << r->body();

  expect_refused(c.get("/kv/greeting"), http::status::not_found, "no such key");
  EXPECT_FALSE(h.kv().get("greeting"));
}

TEST_F(HttpApiTest, EmptyValueIsAValue) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/empty", "")->result(), http::status::ok);
  auto r = c.get("/kv/empty");
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ(r->body(), "");
}

TEST_F(HttpApiTest, CompareAndSwap) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/k", "one")->result(), http::status::ok);

  auto r = c.put("/kv/k?if=one", "two");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok) << r->body();
  EXPECT_EQ(c.get("/kv/k")->body(), "two");

  // Wrong expectation: 412 with the current value, nothing changed.
  r = c.put("/kv/k?if=one", "three");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::precondition_failed);
  EXPECT_EQ(r->body(), "two");
  EXPECT_EQ((*r)["X-Raft-Kv-Present"], "true");
  EXPECT_EQ(c.get("/kv/k")->body(), "two");

  // Absent key: 412, empty body, X-Raft-Kv-Present: false.
  r = c.put("/kv/absent?if=x", "y");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::precondition_failed);
  EXPECT_EQ(r->body(), "");
  EXPECT_EQ((*r)["X-Raft-Kv-Present"], "false");
  EXPECT_FALSE(h.kv().get("absent"));

  // The expected value is percent-decoded, '+' as a space.
  ASSERT_EQ(c.put("/kv/s", "a b&c")->result(), http::status::ok);
  r = c.put("/kv/s?if=a+b%26c", "swapped");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok) << r->body();
  EXPECT_EQ(h.kv().get("s"), "swapped");
}

TEST_F(HttpApiTest, EveryConsistencyReadsTheValue) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/k", "v")->result(), http::status::ok);
  for (const char* q : {"", "?consistency=linearizable", "?consistency=lease",
                        "?consistency=stale"}) {
    SCOPED_TRACE(q);
    auto r = c.get(std::string("/kv/k") + q);
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::ok);
    EXPECT_EQ(r->body(), "v");
    expect_refused(c.get(std::string("/kv/absent") + q), http::status::not_found, "no such key");
  }
  expect_refused(c.get("/kv/k?consistency=eventual"), http::status::bad_request,
                 "consistency must be linearizable, lease or stale");
  expect_refused(c.get("/kv/k?consistency"), http::status::bad_request, "consistency must");
  expect_refused(c.get("/kv/k?consistencyy=stale"), http::status::bad_request,
                 "unknown query parameter");
  expect_refused(c.get("/kv/k?consistency=stale&consistency=lease"), http::status::bad_request,
                 "given twice");
}

TEST_F(HttpApiTest, KeysArePercentDecoded) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/a%2Fb%20c%00d", "1")->result(), http::status::ok);
  EXPECT_EQ(h.kv().get(std::string("a/b c\0d", 7)), "1");
  EXPECT_EQ(c.get("/kv/a%2fb%20c%00d")->body(), "1");  // hex digits in either case

  // In the path, '+' is itself and '/' is part of the key.
  ASSERT_EQ(c.put("/kv/x+y/z", "2")->result(), http::status::ok);
  EXPECT_EQ(h.kv().get("x+y/z"), "2");

  // UTF-8, escaped or not.
  ASSERT_EQ(c.put("/kv/%C3%A9t%C3%A9", "summer")->result(), http::status::ok);
  EXPECT_EQ(h.kv().get("\xC3\xA9t\xC3\xA9"), "summer");

  for (const char* bad : {"/kv/%", "/kv/a%2", "/kv/%zz", "/kv/%g0"}) {
    SCOPED_TRACE(bad);
    expect_refused(c.put(bad, "v"), http::status::bad_request, "percent-encoding");
  }
}

TEST_F(HttpApiTest, EmptyKeyIs400) {
  TestClient c(h.port());
  expect_refused(c.put("/kv/", "v"), http::status::bad_request, "empty key");
  expect_refused(c.get("/kv/"), http::status::bad_request, "empty key");
  expect_refused(c.del("/kv/"), http::status::bad_request, "empty key");
}

TEST_F(HttpApiTest, UnknownRouteIs404AndWrongMethodIs405) {
  TestClient c(h.port());
  expect_refused(c.get("/nope"), http::status::not_found, "no such route");
  expect_refused(c.get("/kv"), http::status::not_found, "no such route");
  expect_refused(c.get("/"), http::status::not_found, "no such route");

  struct Case {
    http::verb method;
    const char* target;
    const char* allow;
  };
  for (const Case& k : {Case{http::verb::post, "/kv/a", "GET, PUT, DELETE"},
                        Case{http::verb::patch, "/kv/a", "GET, PUT, DELETE"},
                        Case{http::verb::put, "/status", "GET"},
                        Case{http::verb::delete_, "/metrics", "GET"},
                        Case{http::verb::get, "/cluster/members", "POST"},
                        Case{http::verb::get, "/cluster/transfer-leader?to=1", "POST"}}) {
    SCOPED_TRACE(k.target);
    auto r = c.request(k.method, k.target);
    expect_refused(r, http::status::method_not_allowed, "not allowed");
    EXPECT_EQ((*r)[http::field::allow], k.allow);
  }
  EXPECT_FALSE(h.kv().get("a"));
}

TEST_F(HttpApiTest, StatusIsJsonWithTheNodesView) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/k", "v")->result(), http::status::ok);
  auto r = c.get("/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ((*r)[http::field::content_type], "application/json");
  const boost::json::value v = boost::json::parse(r->body());
  const boost::json::object& s = v.as_object();
  EXPECT_EQ(s.at("id").to_number<uint64_t>(), 1u);
  EXPECT_EQ(s.at("role").as_string(), "leader");
  EXPECT_GE(s.at("term").to_number<uint64_t>(), 1u);
  EXPECT_EQ(s.at("leader").to_number<uint64_t>(), 1u);
  EXPECT_GE(s.at("commit").to_number<uint64_t>(), 2u);
  EXPECT_GE(s.at("applied").to_number<uint64_t>(), 2u);
  EXPECT_GE(s.at("last_index").to_number<uint64_t>(), s.at("commit").to_number<uint64_t>());
  EXPECT_EQ(s.at("voters"), boost::json::parse("[1]"));
  EXPECT_EQ(s.at("outgoing_voters"), boost::json::parse("[]"));
  EXPECT_EQ(s.at("learners"), boost::json::parse("[]"));
  EXPECT_TRUE(s.contains("snapshot_index"));
  EXPECT_TRUE(s.at("progress").as_object().contains("1"));
}

TEST_F(HttpApiTest, MetricsArePrometheusText) {
  TestClient c(h.port());
  ASSERT_EQ(c.put("/kv/k", "v")->result(), http::status::ok);
  auto r = c.get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok);
  EXPECT_EQ((*r)[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r->body();
  for (const char* line : {"# TYPE raft_term gauge\n", "# TYPE raft_proposals_total counter\n",
                           "raft_is_leader 1\n", "raft_leader_id 1\n",
                           "# TYPE raft_wal_sync_duration_seconds histogram\n",
                           "raft_wal_sync_duration_seconds_bucket{le=\"0.00005\"} ",
                           "raft_wal_sync_duration_seconds_bucket{le=\"+Inf\"} ",
                           "raft_wal_sync_duration_seconds_count ",
                           "raft_wal_sync_duration_seconds_sum "}) {
    EXPECT_NE(m.find(line), std::string::npos) << "no " << line << " in\n" << m;
  }
  EXPECT_EQ(m.find("raft_proposals_total 0\n"), std::string::npos) << m;
}

TEST_F(HttpApiTest, MembersRequestsAreCheckedBeforeProposing) {
  TestClient c(h.port());
  const uint64_t proposals = h.node().metrics().proposals;
  struct Case {
    const char* body;
    const char* error;
  };
  for (const Case& k : {Case{"{not json", "not valid JSON"},
                        Case{"[1, 2]", "must be a JSON object"},
                        Case{R"({"id": 4, "address": "127.0.0.1:1"})", "missing field \"op\""},
                        Case{R"({"op": "add", "address": "127.0.0.1:1"})", "missing field \"id\""},
                        Case{R"({"op": "add", "id": "4", "address": "h:1"})", "\"id\" must be"},
                        Case{R"({"op": "add", "id": -4, "address": "h:1"})", "\"id\" must be"},
                        Case{R"({"op": "add", "id": 4.5, "address": "h:1"})", "\"id\" must be"},
                        Case{R"({"op": "frobnicate", "id": 4})", "add, remove or promote"},
                        Case{R"({"op": "add", "id": 4})", "missing field \"address\""},
                        Case{R"({"op": "add", "id": 4, "address": 7})", "\"address\" must be"},
                        Case{R"({"op": "add", "id": 4, "address": "nohost"})", "HOST:PORT"},
                        Case{R"({"op": "add", "id": 4, "address": "h:0"})", "HOST:PORT"},
                        Case{R"({"op": "add", "id": 4, "address": "h:1", "learner": "yes"})",
                             "\"learner\" must be a boolean"},
                        Case{R"({"op": "add", "id": 4, "address": "h:1", "lerner": true})",
                             "unknown field"},
                        Case{R"({"op": "remove", "id": 4, "address": "h:1"})",
                             "applies to op \"add\" only"}}) {
    SCOPED_TRACE(k.body);
    expect_refused(c.post("/cluster/members", k.body), http::status::bad_request, k.error);
  }
  // The node refuses a change that cannot apply: 400, nothing proposed.
  expect_refused(c.post("/cluster/members", R"({"op": "remove", "id": 9})"),
                 http::status::bad_request, "invalid argument");
  EXPECT_EQ(h.node().metrics().proposals, proposals);
}

TEST_F(HttpApiTest, AddingALearnerReturnsTheNewConfiguration) {
  TestClient c(h.port());
  // Node 4 never runs: a learner does not count towards the quorum, so the change commits.
  auto r = c.post("/cluster/members",
                  R"({"op": "add", "id": 4, "address": "127.0.0.1:1", "learner": true})");
  ASSERT_TRUE(r) << c.error;
  ASSERT_EQ(r->result(), http::status::ok) << r->body();
  EXPECT_EQ(boost::json::parse(r->body()),
            boost::json::parse(R"({"voters": [1], "outgoing_voters": [], "learners": [4]})"));
  auto s = boost::json::parse(c.get("/status")->body());
  EXPECT_EQ(s.at("learners"), boost::json::parse("[4]"));

  // And removing it again.
  r = c.post("/cluster/members", R"({"op": "remove", "id": 4})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->result(), http::status::ok) << r->body();
  EXPECT_EQ(boost::json::parse(r->body()).at("learners"), boost::json::parse("[]"));
}

TEST_F(HttpApiTest, TransferLeaderChecksItsTarget) {
  TestClient c(h.port());
  for (const char* q : {"", "?to=", "?to=abc", "?to=0", "?to=-1", "?to=1x", "?to=1&to=1",
                        "?too=1"}) {
    SCOPED_TRACE(q);
    auto r = c.post(std::string("/cluster/transfer-leader") + q, "");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result(), http::status::bad_request) << r->body();
    EXPECT_EQ(error_of(*r).executed, boost::json::value(false));
  }
  // Not a voter: the node refuses it.
  auto r = c.post("/cluster/transfer-leader?to=7", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::bad_request) << r->body();
  // To the leader itself: done already.
  r = c.post("/cluster/transfer-leader?to=1", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::ok) << r->body();
  EXPECT_EQ(r->body(), "{\"leader\":1}");
}

TEST_F(HttpApiTest, MalformedHttpIs400AndTheNextConnectionIsServed) {
  {
    TestClient bad(h.port());
    ASSERT_TRUE(bad.send_raw("PUT /kv/x HTTP/1.1\r\nContent-Length: -3\r\n\r\n"));
    auto r = bad.read_response();
    ASSERT_TRUE(r) << bad.error;
    EXPECT_EQ(r->result(), http::status::bad_request);
    EXPECT_EQ(error_of(*r).executed, boost::json::value(false));
    EXPECT_TRUE(bad.closed_by_server());
  }
  TestClient good(h.port());
  ASSERT_EQ(good.put("/kv/x", "fine")->result(), http::status::ok);
  EXPECT_EQ(good.get("/kv/x")->body(), "fine");
}

TEST_F(HttpApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  TestClient c(h.port());
  for (int i = 0; i < 20; ++i) {
    const std::string key = "/kv/k" + std::to_string(i);
    auto r = c.put(key, std::to_string(i));
    ASSERT_TRUE(r) << i << ": " << c.error;
    ASSERT_EQ(r->result(), http::status::ok);
    EXPECT_TRUE(r->keep_alive());
    r = c.get(key + "?consistency=stale");
    ASSERT_TRUE(r) << i << ": " << c.error;
    EXPECT_EQ(r->body(), std::to_string(i));
  }
  EXPECT_EQ(h.kv().size(), 20u);
}

class HttpApiLimitsTest : public ::testing::Test {
 protected:
  static HarnessOptions options() {
    HarnessOptions o;
    o.limits.max_key_bytes = 16;
    o.limits.max_value_bytes = 100;
    o.server.max_body_bytes = 1000;
    return o;
  }
  void SetUp() override { ASSERT_TRUE(h.wait_for_leader()); }
  Harness h{options()};
};

TEST_F(HttpApiLimitsTest, KeyAndValueOverTheLimitsAre413AndNotProposed) {
  TestClient c(h.port());
  // At the limits: fine.
  ASSERT_EQ(c.put("/kv/" + std::string(16, 'k'), std::string(100, 'v'))->result(),
            http::status::ok);
  const uint64_t proposals = h.node().metrics().proposals;

  expect_refused(c.put("/kv/" + std::string(17, 'k'), "v"), http::status::payload_too_large,
                 "key longer than 16 bytes");
  expect_refused(c.get("/kv/" + std::string(17, 'k')), http::status::payload_too_large,
                 "key longer than 16 bytes");
  // The limit is on the decoded key: 16 escaped bytes are 48 characters in the path.
  std::string escaped;
  for (int i = 0; i < 16; ++i) escaped += "%41";
  EXPECT_EQ(c.put("/kv/" + escaped, "v")->result(), http::status::ok);
  const uint64_t after_escaped = h.node().metrics().proposals;
  EXPECT_EQ(after_escaped, proposals + 1);

  expect_refused(c.put("/kv/big", std::string(101, 'v')), http::status::payload_too_large,
                 "value longer than 100 bytes");
  expect_refused(c.put("/kv/big?if=" + std::string(101, 'o'), "v"),
                 http::status::payload_too_large, "expected value longer than 100 bytes");
  EXPECT_EQ(h.node().metrics().proposals, after_escaped);
  EXPECT_FALSE(h.kv().get("big"));
}

TEST_F(HttpApiLimitsTest, BodyOverTheServerLimitIs413AndTheServerGoesOn) {
  {
    TestClient c(h.port());
    auto r = c.put("/kv/huge", std::string(5000, 'v'));
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::payload_too_large);
    EXPECT_EQ(error_of(*r).executed, boost::json::value(false));
    EXPECT_TRUE(c.closed_by_server());
  }
  TestClient c(h.port());
  EXPECT_EQ(c.put("/kv/small", "v")->result(), http::status::ok);
  EXPECT_FALSE(h.kv().get("huge"));
}

TEST(HttpApiNoLeaderTest, RequestsNeedingALeaderAre503NotExecuted) {
  HarnessOptions o;
  o.absent_peers = 2;  // nodes 2 and 3 never start: node 1 alone is no majority
  o.request_timeout = 500ms;
  Harness h(o);
  TestClient c(h.port());
  auto last_index = [&] {
    return boost::json::parse(c.get("/status")->body()).at("last_index").to_number<uint64_t>();
  };
  const uint64_t last_index_before = last_index();

  for (auto r : {c.put("/kv/k", "v"), c.put("/kv/k?if=v", "w"), c.del("/kv/k"), c.get("/kv/k"),
                 c.get("/kv/k?consistency=lease"),
                 c.post("/cluster/members", R"({"op": "add", "id": 4, "address": "h:1"})"),
                 c.post("/cluster/transfer-leader?to=2", "")}) {
    ASSERT_TRUE(r) << c.error;
    EXPECT_EQ(r->result(), http::status::service_unavailable) << r->body();
    const ErrorBody e = error_of(*r);
    EXPECT_EQ(e.error, "no leader");
    EXPECT_EQ(e.executed, boost::json::value(false));
    EXPECT_TRUE(e.leader.is_null());
  }
  // A stale read needs no leader.
  auto r = c.get("/kv/k?consistency=stale");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result(), http::status::not_found);
  // Status still answers, with no leader.
  r = c.get("/status");
  ASSERT_TRUE(r);
  EXPECT_TRUE(boost::json::parse(r->body()).at("leader").is_null());
  // Nothing reached the log.
  EXPECT_EQ(last_index(), last_index_before);
}

// --- The pieces the API is built from: JSON bodies and the Prometheus text. ---

TEST(JsonTest, QuoteEscapesAndKeepsTheOutputValidUtf8) {
  EXPECT_EQ(json::quote("plain"), "\"plain\"");
  EXPECT_EQ(json::quote("a\"b\\c\n\t\x01\x7f"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
  // Valid UTF-8 passes through: an e with an acute accent and an emoji.
  EXPECT_EQ(json::quote("\xC3\xA9\xF0\x9F\x98\x80"), "\"\xC3\xA9\xF0\x9F\x98\x80\"");
  // A lone continuation byte, a truncated sequence, an overlong form and a surrogate.
  EXPECT_EQ(json::quote("\x80|\xC3|\xC0\xAF|\xED\xA0\x80"),
            "\"\\ufffd|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(json::quote(std::string("\0", 1)), "\"\\u0000\"");
  // Whatever the bytes, the result parses back.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  boost::system::error_code ec;
  boost::json::parse(json::quote(all), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(JsonTest, ErrorBody) {
  EXPECT_EQ(json::error_body("no leader", false, 0),
            "{\"error\":\"no leader\",\"executed\":false,\"leader\":null}");
  EXPECT_EQ(json::error_body("timed out", true, 3),
            "{\"error\":\"timed out\",\"executed\":null,\"leader\":3}");
}

TEST(JsonTest, MemberRequests) {
  json::MemberRequest m;
  std::string error;
  ASSERT_TRUE(json::parse_member_request(
      R"({"op": "add", "id": 4, "address": "10.0.0.4:7001", "learner": true})", m, error))
      << error;
  EXPECT_EQ(m.op, json::MemberRequest::Op::kAdd);
  EXPECT_EQ(m.id, 4u);
  EXPECT_EQ(m.address, "10.0.0.4:7001");
  EXPECT_TRUE(m.learner);
  ASSERT_TRUE(json::parse_member_request(R"({"op": "add", "id": 5, "address": "h:1"})", m, error));
  EXPECT_FALSE(m.learner);
  ASSERT_TRUE(json::parse_member_request(R"({"op": "promote", "id": 18446744073709551615})", m,
                                         error));
  EXPECT_EQ(m.op, json::MemberRequest::Op::kPromote);
  EXPECT_EQ(m.id, 18446744073709551615u);
  ASSERT_TRUE(json::parse_member_request(R"({"id": 2, "op": "remove"})", m, error));
  EXPECT_EQ(m.op, json::MemberRequest::Op::kRemove);
  EXPECT_FALSE(json::parse_member_request("", m, error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
  EXPECT_FALSE(json::parse_member_request(R"({"op": "add", "id": 0, "address": "h:1"})", m, error));
  EXPECT_NE(error.find("positive integer"), std::string::npos) << error;
  EXPECT_FALSE(json::parse_member_request(R"({"op": null, "id": 1})", m, error));
  EXPECT_EQ(error, "field \"op\" must be a string, not null");
}

framework::NodeMetrics sample_metrics() {
  framework::NodeMetrics m;
  m.id = 2;
  m.term = 7;
  m.leader = 3;
  m.commit = 120;
  m.applied = 100;
  m.last_index = 125;
  m.snapshot_index = 50;
  m.pending_requests = 4;
  m.leader_changes = 2;
  m.proposals = 90;
  m.proposals_failed = 1;
  m.reads = 30;
  m.reads_failed = 2;
  m.entries_applied = 100;
  m.wal_syncs = 60;
  m.wal_bytes_written = 123456;
  m.snapshots_taken = 1;
  m.snapshots_sent = 0;
  m.snapshots_received = 1;
  m.snapshots_failed = 0;
  m.messages_dropped = 5;
  m.wal_sync_latency.counts[0] = 1;   // <= 50 us
  m.wal_sync_latency.counts[3] = 2;   // <= 500 us
  m.wal_sync_latency.counts[12] = 1;  // above 10 s
  m.wal_sync_latency.count = 4;
  m.wal_sync_latency.sum_micros = 12001050;
  m.peers[1] = framework::PeerTraffic{1000, 2000, 10, 20};
  m.peers[3] = framework::PeerTraffic{3000, 4000, 30, 40};
  return m;
}

TEST(PrometheusTest, RendersGaugesCountersAndTheHistogram) {
  const std::string text = render_prometheus(sample_metrics());
  for (const char* line :
       {"raft_term 7\n", "raft_leader_id 3\n", "raft_is_leader 0\n", "raft_commit_index 120\n",
        "raft_applied_index 100\n", "raft_apply_lag 20\n", "raft_last_index 125\n",
        "raft_snapshot_index 50\n", "raft_pending_requests 4\n",
        "raft_leader_changes_total 2\n", "raft_proposals_total 90\n",
        "raft_proposals_failed_total 1\n", "raft_reads_total 30\n",
        "raft_reads_failed_total 2\n", "raft_entries_applied_total 100\n",
        "raft_wal_syncs_total 60\n", "raft_wal_bytes_written_total 123456\n",
        "raft_snapshots_taken_total 1\n", "raft_snapshots_sent_total 0\n",
        "raft_snapshots_received_total 1\n", "raft_snapshots_failed_total 0\n",
        "raft_messages_dropped_total 5\n",
        "# TYPE raft_term gauge\n", "# TYPE raft_proposals_total counter\n",
        "# TYPE raft_wal_sync_duration_seconds histogram\n",
        // Cumulative buckets, bounds in seconds written exactly.
        "raft_wal_sync_duration_seconds_bucket{le=\"0.00005\"} 1\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"0.0001\"} 1\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"0.00025\"} 1\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"0.0005\"} 3\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"0.0025\"} 3\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"1\"} 3\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"10\"} 3\n",
        "raft_wal_sync_duration_seconds_bucket{le=\"+Inf\"} 4\n",
        "raft_wal_sync_duration_seconds_sum 12.00105\n",
        "raft_wal_sync_duration_seconds_count 4\n",
        "raft_peer_sent_bytes_total{peer=\"1\"} 1000\n",
        "raft_peer_sent_bytes_total{peer=\"3\"} 3000\n",
        "raft_peer_received_bytes_total{peer=\"3\"} 4000\n",
        "raft_peer_sent_messages_total{peer=\"1\"} 10\n",
        "raft_peer_received_messages_total{peer=\"1\"} 20\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "no " << line << " in\n" << text;
  }
  EXPECT_EQ(text.back(), '\n');
}

// Every sample belongs to a metric introduced by # HELP and # TYPE lines, each once.
TEST(PrometheusTest, EveryMetricHasHelpAndType) {
  std::istringstream in(render_prometheus(sample_metrics()));
  std::set<std::string> helped;
  std::set<std::string> typed;
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice for " << name;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.contains(name)) << "TYPE before HELP for " << name;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice for " << name;
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::string(suffix).size());
      if (name.ends_with(suffix) && typed.contains(base)) name = base;
    }
    EXPECT_TRUE(name.starts_with("raft_")) << line;
    EXPECT_TRUE(typed.contains(name)) << "sample without # TYPE: " << line;
    ++samples;
  }
  EXPECT_EQ(typed.size(), 9u + 13u + 1u + 4u);
  EXPECT_EQ(samples, 9 + 13 + (13 + 2) + 4 * 2);
}

}  // namespace
}  // namespace raftkv
