// LockClient: the lock service's API, in the process that embeds a Node of the cluster.
//
//     auto locks = std::make_shared<lock_service::LockStateMachine>();
//     framework::Node node(io.get_executor(), config, locks);
//     node.start();
//     lock_service::LockClient client(node, locks);
//     // in a coroutine:
//     auto r = co_await client.acquire("printer", "alice");
//     if (r.ok() && r.value.acquired) use_printer(r.value.token);   // pass the fencing token on
//
// Every call goes through this process's own node, leader or follower: the node forwards a
// proposal to the leader, and answers a read once its own replica has caught up with the
// leader's commit index at the time of the read.
//
// ## Errors and retries
//
// A call resolves with a framework::Reply: its error is a NodeError (framework/errors.h).
// Failures that certainly did not take effect and usually pass by themselves (no leader known
// during an election: kNotLeader; a proposal the leader refused, during a leadership transfer:
// kDropped) are retried here every retry_interval until retry_for has passed. Any other error
// is returned. When framework::may_have_taken_effect(error) is true (kTimeout, kStopped) the
// outcome is unknown; calling acquire() again with the same owner is then safe, because an
// acquire by the holder returns the tenure it already has with the same token. A release()
// retried after an unknown outcome may answer not-held although the first one released the lock.
//
// A name or owner that is not valid_name() fails at once with kInvalidArgument.
//
// ## Threads
//
// The awaitables may be awaited from any coroutine; they resume on the awaiting coroutine's
// executor. The client itself holds no state beyond its references; the node and the state
// machine must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "examples/lock-service/lock_state_machine.h"
#include "framework/node.h"

namespace lock_service {

// What acquire() resolves with.
struct Acquisition {
  bool acquired = false;
  uint64_t token = 0;   // when acquired: the fencing token
  std::string holder;   // who holds the lock now (the caller's owner when acquired)
};

// What release() resolves with.
struct Release {
  bool released = false;
  std::string holder;   // when not released: who holds the lock (empty: nobody)
};

struct LockClientOptions {
  // How long to keep retrying kNotLeader and kDropped.
  std::chrono::milliseconds retry_for{10000};
  std::chrono::milliseconds retry_interval{50};
};

class LockClient {
 public:
  LockClient(framework::Node& node, std::shared_ptr<const LockStateMachine> state,
             LockClientOptions options = {});

  // Acquires `name` for `owner`: acquired with a fencing token, or not with the holder's name.
  boost::asio::awaitable<framework::Reply<Acquisition>> acquire(std::string name,
                                                                std::string owner);
  // Releases `name` if `owner` holds it.
  boost::asio::awaitable<framework::Reply<Release>> release(std::string name, std::string owner);
  // Who holds `name` (nullopt: nobody), as of a moment between the call and its completion
  // (a linearizable read: Node::read_index(), then this replica's state).
  boost::asio::awaitable<framework::Reply<std::optional<LockHolder>>> holder(std::string name);

 private:
  // Proposes `command`, retrying what certainly did not take effect; the decoded result.
  boost::asio::awaitable<framework::Reply<LockResult>> run(LockCommand command);
  boost::asio::awaitable<void> pause();
  bool retryable(std::error_code ec) const;

  framework::Node& node_;
  std::shared_ptr<const LockStateMachine> state_;
  LockClientOptions options_;
};

}  // namespace lock_service
