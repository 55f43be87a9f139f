#pragma once
// run_blocking: runs a blocking call (a port operation) on the blocking pool
// and resumes the calling coroutine on its own executor with the result, so
// that I/O threads never wait on a store.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
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

}  // namespace parley::gateway
