#pragma once
// run_blocking: runs a blocking call (a port operation) on the blocking pool
// and resumes the calling coroutine on its own executor with the result, so
// that I/O threads never wait on a store.

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace parley::gateway {

// Runs `fn` on `executor` (a pool, a strand) and resumes the awaiting
// coroutine on its own executor with fn's result.
template <class Executor, class F>
auto run_on(Executor executor, F fn) {
  using R = std::invoke_result_t<F&>;
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      [executor](auto handler, F f) {
        boost::asio::post(executor, [h = std::move(handler), f = std::move(f)]() mutable {
          R result = f();
          auto ex = boost::asio::get_associated_executor(h);
          boost::asio::dispatch(ex,
                                [h = std::move(h), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      boost::asio::use_awaitable, std::move(fn));
}

template <class F>
auto run_blocking(boost::asio::thread_pool& pool, F fn) {
  return run_on(pool.get_executor(), std::move(fn));
}

// A pool for CPU-heavy work (password hashing), apart from the port calls
// of the blocking pool, holding at most `max_jobs` jobs queued or running:
// a flood of logins waits here, or is refused, instead of holding up every
// other request behind it.
class BoundedPool {
 public:
  BoundedPool(std::size_t threads, std::size_t max_jobs) : pool_(threads), max_jobs_(max_jobs) {}

  // Takes a place for one job; false when all are taken.
  [[nodiscard]] bool try_enter() noexcept {
    if (jobs_.fetch_add(1, std::memory_order_acq_rel) < max_jobs_) return true;
    jobs_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }
  void leave() noexcept { jobs_.fetch_sub(1, std::memory_order_acq_rel); }

  [[nodiscard]] boost::asio::thread_pool& pool() noexcept { return pool_; }
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  const std::size_t max_jobs_;
  std::atomic<std::size_t> jobs_{0};
};

}  // namespace parley::gateway
