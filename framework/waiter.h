// One caller waiting on a Node request: the type-erased completion handler of the awaitable it
// co_awaits, with the deadline after which it gets kTimeout. Internal to framework/.
//
// resolve() posts the Reply to the executor the caller's coroutine runs on, never invoking it
// inline, so the node's strand never runs the caller's code.
#pragma once

#include <chrono>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "framework/node.h"

namespace framework {

template <typename T>
class Waiter {
 public:
  using Handler = boost::asio::any_completion_handler<void(Reply<T>)>;
  using Clock = std::chrono::steady_clock;

  // `executor` is the caller's (the handler's associated executor, taken before type erasure).
  Waiter(Handler handler, boost::asio::any_io_executor executor, Clock::time_point deadline)
      : executor_(std::move(executor)),
        work_(executor_),
        handler_(std::move(handler)),
        deadline_(deadline) {}

  Waiter(Waiter&&) noexcept = default;
  Waiter& operator=(Waiter&&) noexcept = default;

  Clock::time_point deadline() const { return deadline_; }

  void resolve(Reply<T> reply) && {
    boost::asio::post(executor_, [h = std::move(handler_), r = std::move(reply)]() mutable {
      std::move(h)(std::move(r));
    });
    work_.reset();
  }
  void fail(std::error_code ec, uint64_t leader = 0) && {
    Reply<T> r;
    r.error = ec;
    r.leader = leader;
    std::move(*this).resolve(std::move(r));
  }

 private:
  boost::asio::any_io_executor executor_;
  boost::asio::executor_work_guard<boost::asio::any_io_executor> work_;
  Handler handler_;
  Clock::time_point deadline_;
};

}  // namespace framework
