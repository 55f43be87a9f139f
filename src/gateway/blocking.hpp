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

template <class F>
auto run_blocking(boost::asio::thread_pool& pool, F fn) {
  using R = std::invoke_result_t<F&>;
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      [&pool](auto handler, F f) {
        boost::asio::post(pool, [h = std::move(handler), f = std::move(f)]() mutable {
          R result = f();
          auto ex = boost::asio::get_associated_executor(h);
          boost::asio::dispatch(ex, [h = std::move(h), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      boost::asio::use_awaitable, std::move(fn));
}

}  // namespace parley::gateway
