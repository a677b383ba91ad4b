// The idle timeout of a snapshot stream: fires once the stream has made no progress for a while.
//
// The stream calls touch() whenever bytes move (read from the source and written, or received);
// stalled() completes with true once `timeout` has passed since the last touch(), and with false
// when it is cancelled (the race it is part of was won by another branch, or cancel()).
//
// A blocking call (a source read, a sink write) holds the snapshot thread, so the timer cannot
// fire during it; when it returns, the stream touches before the timer's handler runs, and a call
// that was slow but moved bytes is not taken for a stall. A peer that waits on this side is
// not so patient: its own timer runs on its own thread.
//
// Thread-safety: one stream's, on the snapshot thread.
#pragma once

#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace net::detail {

class StallTimer {
 public:
  using Clock = std::chrono::steady_clock;

  StallTimer(const boost::asio::any_io_executor& executor, std::chrono::milliseconds timeout)
      : timer_(executor), timeout_(timeout), last_(Clock::now()) {}

  void touch() { last_ = Clock::now(); }
  void cancel() {
    cancelled_ = true;
    timer_.cancel();
  }

  boost::asio::awaitable<bool> stalled() {
    for (;;) {
      if (cancelled_) co_return false;
      const Clock::time_point due = last_ + timeout_;
      if (Clock::now() >= due) co_return true;
      timer_.expires_at(due);
      auto [error] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      // Cancelled; an expiry re-checks last_, which touch() may have moved meanwhile.
      if (error) co_return false;
    }
  }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds timeout_;
  Clock::time_point last_;
  bool cancelled_ = false;
};

}  // namespace net::detail
