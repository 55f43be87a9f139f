#pragma once
// Http2Client: HTTP/2 requests on libcurl's multi interface, run on one
// dedicated thread. Requests to one host share one long-lived connection as
// concurrent streams (CURLPIPE_MULTIPLEX, one connection per host, PIPEWAIT).
// https:// URLs negotiate h2 with ALPN; http:// URLs speak h2c with prior
// knowledge (local test servers only).
//
// Callbacks run on the client's thread and must not block; they may submit
// more requests (a retry, a request that waited for a token).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley::push {

class Http2Client {
 public:
  struct Options {
    std::string ca_file;  // extra trust anchor (PEM) for the services' certificates; empty: the system's
    std::chrono::milliseconds timeout{10000};
  };

  struct Request {
    std::string method = "POST";
    std::string url;
    std::vector<std::string> headers;  // "name: value"
    std::string body;
    std::chrono::steady_clock::time_point not_before{};  // starts no earlier (a backoff)
  };

  struct Response {
    long status = 0;                             // 0: no HTTP answer (see error)
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
    std::string error;  // transport failure; empty when an answer came
  };

  using Callback = std::function<void(Response)>;

  explicit Http2Client(Options options);
  ~Http2Client();  // fails what is still queued or in flight with an error, then joins
  Http2Client(const Http2Client&) = delete;
  Http2Client& operator=(const Http2Client&) = delete;

  // Queues a request; `done` runs exactly once. Thread-safe.
  void submit(Request request, Callback done);

 private:
  struct Transfer;
  struct Queued {
    Request request;
    Callback done;
  };

  void run();
  void start(Queued queued);

  Options options_;
  void* multi_;  // CURLM*, owned; only the client thread uses it after construction
  std::mutex mu_;
  std::vector<Queued> queue_;                             // guarded by mu_
  bool stopping_ = false;                                 // guarded by mu_
  std::map<void*, std::unique_ptr<Transfer>> transfers_;  // CURL* -> transfer; client thread only
  std::thread thread_;
};

}  // namespace parley::push
