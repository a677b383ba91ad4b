#include "examples/lock-service/lock_client.h"

#include <stdexcept>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;
using framework::NodeError;
using framework::Reply;

namespace lock_service {

LockClient::LockClient(framework::Node& node, std::shared_ptr<const LockStateMachine> state,
                       LockClientOptions options)
    : node_(node), state_(std::move(state)), options_(options) {}

asio::awaitable<Reply<Acquisition>> LockClient::acquire(std::string name, std::string owner) {
  // A named command, not a temporary inside the co_await: GCC 12 destroys an aggregate
  // temporary in a co_await expression twice.
  LockCommand command{LockCommand::Op::kAcquire, name, owner};
  Reply<LockResult> r = co_await run(std::move(command));
  Reply<Acquisition> out{r.error, r.leader, {}};
  if (!r.ok()) co_return out;
  out.value.acquired = r.value.outcome == LockResult::Outcome::kAcquired;
  out.value.token = r.value.token;
  out.value.holder = out.value.acquired ? owner : r.value.holder;
  co_return out;
}

asio::awaitable<Reply<Release>> LockClient::release(std::string name, std::string owner) {
  LockCommand command{LockCommand::Op::kRelease, std::move(name), std::move(owner)};
  Reply<LockResult> r = co_await run(std::move(command));
  Reply<Release> out{r.error, r.leader, {}};
  if (!r.ok()) co_return out;
  out.value.released = r.value.outcome == LockResult::Outcome::kReleased;
  out.value.holder = r.value.holder;
  co_return out;
}

asio::awaitable<Reply<std::optional<LockHolder>>> LockClient::holder(std::string name) {
  Reply<std::optional<LockHolder>> out;
  if (!valid_name(name)) {
    out.error = NodeError::kInvalidArgument;
    co_return out;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.retry_for;
  for (;;) {
    // Once read_index() resolves, this replica has applied everything that was committed when
    // the read began, so its state is at least as new as any write that completed before.
    Reply<uint64_t> read = co_await node_.read_index();
    if (read.ok()) {
      out.value = state_->holder(name);
      co_return out;
    }
    if (!retryable(read.error) || std::chrono::steady_clock::now() >= deadline) {
      out.error = read.error;
      out.leader = read.leader;
      co_return out;
    }
    co_await pause();
  }
}

asio::awaitable<Reply<LockResult>> LockClient::run(LockCommand command) {
  Reply<LockResult> out;
  if (!valid_name(command.name) || !valid_name(command.owner)) {
    out.error = NodeError::kInvalidArgument;
    co_return out;
  }
  const std::string bytes = encode_command(command);
  const auto deadline = std::chrono::steady_clock::now() + options_.retry_for;
  for (;;) {
    Reply<framework::Proposed> r = co_await node_.propose(bytes);
    if (r.ok()) {
      std::optional<LockResult> result = decode_result(r.value.result);
      // Both ends are this library: a result it cannot read is a bug, not an input error.
      if (!result) throw std::logic_error("unreadable lock result: " + r.value.result);
      if (result->outcome == LockResult::Outcome::kInvalid) {
        out.error = NodeError::kInvalidArgument;
      } else {
        out.value = std::move(*result);
      }
      co_return out;
    }
    if (!retryable(r.error) || std::chrono::steady_clock::now() >= deadline) {
      out.error = r.error;
      out.leader = r.leader;
      co_return out;
    }
    co_await pause();
  }
}

bool LockClient::retryable(std::error_code ec) const {
  return ec == NodeError::kNotLeader || ec == NodeError::kDropped;
}

asio::awaitable<void> LockClient::pause() {
  asio::steady_timer timer(co_await asio::this_coro::executor, options_.retry_interval);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace lock_service
