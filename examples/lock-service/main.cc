// lock-demo: a replicated lock service, three replicas in one process.
//
// Starts three Nodes on 127.0.0.1 (each on a port of its own), lets four workers contend for one
// lock, stops the leader, shows that the lock table survived and that fencing tokens keep
// growing, then stops everything. Each replica's data goes under --data-dir (kept, so a second
// run restarts the same cluster from disk) or under a temporary directory (removed at the end).
//
//     lock-demo [--data-dir DIR]
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "examples/lock-service/lock_client.h"
#include "examples/lock-service/lock_state_machine.h"
#include "framework/node.h"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using lock_service::LockClient;

namespace {

constexpr const char* kLock = "printer";

// One member of the cluster: its replicated state, its Node, and the lock API over both.
struct Replica {
  std::shared_ptr<lock_service::LockStateMachine> locks;
  std::unique_ptr<framework::Node> node;
  std::unique_ptr<LockClient> client;
};
using Cluster = std::array<Replica, 3>;

// The resource the lock protects. It remembers the largest fencing token it has seen and refuses
// a request with a smaller one: a holder that lost its lock without knowing is kept out.
struct FencedPrinter {
  uint64_t highest = 0;
  bool print(uint64_t token, const std::string& who) {
    if (token < highest) {
      std::printf("  printer: refused %s's job, token %llu < %llu\n", who.c_str(),
                  static_cast<unsigned long long>(token),
                  static_cast<unsigned long long>(highest));
      return false;
    }
    highest = token;
    return true;
  }
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

void check(const std::error_code& ec, const char* what) {
  if (ec) throw std::runtime_error(std::string(what) + ": " + ec.message());
}

// Takes the lock `turns` times through `client`, prints a job on the printer with each token,
// and releases it.
asio::awaitable<void> worker(LockClient& client, std::string name, int turns,
                             FencedPrinter& printer) {
  for (int turn = 0; turn < turns;) {
    framework::Reply<lock_service::Acquisition> r = co_await client.acquire(kLock, name);
    check(r.error, "acquire");
    if (!r.value.acquired) {  // held by r.value.holder: try again a little later
      co_await sleep_for(5ms);
      continue;
    }
    std::printf("%s got the %s, fencing token %llu\n", name.c_str(), kLock,
                static_cast<unsigned long long>(r.value.token));
    printer.print(r.value.token, name);
    co_await sleep_for(20ms);  // uses the printer
    const framework::Reply<lock_service::Release> released = co_await client.release(kLock, name);
    check(released.error, "release");
    ++turn;
    co_await sleep_for(10ms);  // does something else, giving the others a chance
  }
}

asio::awaitable<uint64_t> find_leader(Cluster& cluster) {
  for (;;) {
    for (Replica& r : cluster) {
      if (!r.node) continue;  // stopped
      const framework::NodeStatus status = co_await r.node->status();
      if (status.role == raft::StateRole::kLeader) co_return status.id;
    }
    co_await sleep_for(20ms);
  }
}

asio::awaitable<void> print_holder(LockClient& client) {
  framework::Reply<std::optional<lock_service::LockHolder>> h = co_await client.holder(kLock);
  check(h.error, "holder");
  if (h.value) {
    std::printf("  the %s is held by %s, token %llu\n", kLock, h.value->owner.c_str(),
                static_cast<unsigned long long>(h.value->token));
  } else {
    std::printf("  the %s is free\n", kLock);
  }
}

asio::awaitable<void> demo(Cluster& cluster) {
  FencedPrinter printer;
  const uint64_t first_leader = co_await find_leader(cluster);
  std::printf("leader: node %llu\n", static_cast<unsigned long long>(first_leader));
  co_await print_holder(*cluster[0].client);

  std::printf("\n== four workers contend for the %s, two turns each\n", kLock);
  co_await (worker(*cluster[0].client, "worker-1", 2, printer) &&
            worker(*cluster[1].client, "worker-2", 2, printer) &&
            worker(*cluster[2].client, "worker-3", 2, printer) &&
            worker(*cluster[0].client, "worker-4", 2, printer));

  std::printf("\n== worker-1 takes the %s and keeps it; the leader stops\n", kLock);
  framework::Reply<lock_service::Acquisition> kept =
      co_await cluster[0].client->acquire(kLock, "worker-1");
  check(kept.error, "acquire");
  std::printf("worker-1 got the %s, fencing token %llu\n", kLock,
              static_cast<unsigned long long>(kept.value.token));
  const uint64_t old_leader = co_await find_leader(cluster);
  Replica& gone = cluster[old_leader - 1];
  co_await gone.node->stop();
  gone.client.reset();
  gone.node.reset();
  std::printf("stopped node %llu (the leader)\n", static_cast<unsigned long long>(old_leader));
  const uint64_t new_leader = co_await find_leader(cluster);
  std::printf("new leader: node %llu\n", static_cast<unsigned long long>(new_leader));
  Replica& a = cluster[old_leader % 3];
  Replica& b = cluster[(old_leader + 1) % 3];
  co_await print_holder(*a.client);

  std::printf("\n== worker-1 releases; worker-2 takes it on another node\n");
  const framework::Reply<lock_service::Release> released =
      co_await a.client->release(kLock, "worker-1");
  check(released.error, "release");
  framework::Reply<lock_service::Acquisition> next =
      co_await b.client->acquire(kLock, "worker-2");
  check(next.error, "acquire");
  std::printf("worker-2 got the %s, fencing token %llu (> %llu)\n", kLock,
              static_cast<unsigned long long>(next.value.token),
              static_cast<unsigned long long>(kept.value.token));
  printer.print(next.value.token, "worker-2");
  std::printf("a job of worker-1 that was delayed in the network arrives with its old token:\n");
  printer.print(kept.value.token, "worker-1");
  const framework::Reply<lock_service::Release> done =
      co_await b.client->release(kLock, "worker-2");
  check(done.error, "release");

  std::printf("\n== stopping\n");
  for (Replica& r : cluster) {
    if (r.node) co_await r.node->stop();
  }
}

framework::NodeConfig config_for(uint64_t id, const std::filesystem::path& data_dir) {
  framework::NodeConfig c;
  c.id = id;
  c.cluster_id = 0x10c4;
  c.data_dir = (data_dir / ("node-" + std::to_string(id))).string();
  c.listen = {"127.0.0.1", 0};  // any free port; the others learn it below
  c.peers = {{1, {"127.0.0.1", 0}}, {2, {"127.0.0.1", 0}}, {3, {"127.0.0.1", 0}}};
  c.tick_interval = 20ms;  // elections within half a second or so
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path data_dir;
  bool temporary = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: lock-demo [--data-dir DIR]\n");
      return 2;
    }
  }
  if (data_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lock-demo-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    data_dir = tmpl;
    temporary = true;
  }
  std::printf("data under %s\n", data_dir.c_str());

  int status = 0;
  try {
    asio::io_context io;
    Cluster cluster;
    for (uint64_t id = 1; id <= cluster.size(); ++id) {
      Replica& r = cluster[id - 1];
      r.locks = std::make_shared<lock_service::LockStateMachine>();
      r.node = std::make_unique<framework::Node>(io.get_executor(), config_for(id, data_dir),
                                                 r.locks);
      r.node->start();
      r.client = std::make_unique<LockClient>(*r.node, r.locks);
    }
    // Every node listens on a port of its own choosing: tell each where the others are.
    for (Replica& from : cluster) {
      for (Replica& to : cluster) {
        if (&from == &to) continue;
        from.node->set_peer_address(to.node->id(), {"127.0.0.1", to.node->port()});
      }
    }
    asio::co_spawn(io, demo(cluster), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "lock-demo: %s\n", ex.what());
          status = 1;
        }
      }
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lock-demo: %s\n", e.what());
    status = 1;
  }
  if (temporary) std::filesystem::remove_all(data_dir);
  return status;
}
