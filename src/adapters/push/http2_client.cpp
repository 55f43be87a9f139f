#include "adapters/push/http2_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace parley::push {

namespace {

std::once_flag curl_init;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    (*headers)[name] = std::string(value);
  }
  return size * n;
}

}  // namespace

struct Http2Client::Transfer {
  struct EasyFree {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
  };
  struct ListFree {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
  };
  std::unique_ptr<CURL, EasyFree> easy;
  std::unique_ptr<curl_slist, ListFree> headers;
  Request request;  // owns the body curl reads from
  Response response;
  Callback done;
};

Http2Client::Http2Client(Options options) : options_(std::move(options)) {
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  multi_ = multi;
  thread_ = std::thread([this] { run(); });
}

Http2Client::~Http2Client() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void Http2Client::submit(Request request, Callback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(request), std::move(done)});
      done = nullptr;
    }
  }
  if (done) {
    Response r;
    r.error = "the HTTP/2 client is shutting down";
    done(std::move(r));
    return;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void Http2Client::start(Queued queued) {
  auto t = std::make_unique<Transfer>();
  t->easy.reset(curl_easy_init());
  t->request = std::move(queued.request);
  t->done = std::move(queued.done);
  CURL* easy = t->easy.get();
  if (easy == nullptr) {
    t->response.error = "curl_easy_init failed";
    t->done(std::move(t->response));
    return;
  }
  for (const auto& h : t->request.headers) t->headers.reset(curl_slist_append(t->headers.release(), h.c_str()));
  const bool cleartext = t->request.url.starts_with("http://");
  curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                   cleartext ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);  // wait to multiplex on the open connection rather than open another
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, t->request.method.c_str());
  if (t->request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t->response.body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t->response.headers);
  if (const CURLMcode rc = curl_multi_add_handle(static_cast<CURLM*>(multi_), easy); rc != CURLM_OK) {
    t->response.error = curl_multi_strerror(rc);
    t->done(std::move(t->response));
    return;
  }
  transfers_.emplace(easy, std::move(t));
}

void Http2Client::run() {
  auto* multi = static_cast<CURLM*>(multi_);
  std::vector<Queued> delayed;  // waiting for their not_before
  for (;;) {
    std::vector<Queued> fresh;
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      fresh.swap(queue_);
      stopping = stopping_;
    }
    for (auto& q : fresh) delayed.push_back(std::move(q));
    if (stopping) break;

    const auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(1);
    std::vector<Queued> still;
    for (auto& q : delayed) {
      if (q.request.not_before <= now) {
        start(std::move(q));
      } else {
        next = std::min(next, q.request.not_before);
        still.push_back(std::move(q));
      }
    }
    delayed.swap(still);

    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = transfers_.find(msg->easy_handle);
      if (it == transfers_.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      transfers_.erase(it);
      curl_multi_remove_handle(multi, t->easy.get());
      if (msg->data.result == CURLE_OK) {
        curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &t->response.status);
      } else {
        t->response.error = curl_easy_strerror(msg->data.result);
      }
      t->done(std::move(t->response));
    }

    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::clamp<long>(wait.count(), 0, 1000)), nullptr);
  }

  // Shutting down: whatever did not finish fails, so that no caller waits forever.
  {
    std::lock_guard lock(mu_);
    for (auto& q : queue_) delayed.push_back(std::move(q));
    queue_.clear();
  }
  for (auto& q : delayed) {
    Response r;
    r.error = "the HTTP/2 client is shutting down";
    q.done(std::move(r));
  }
  for (auto& [easy, t] : transfers_) {
    curl_multi_remove_handle(multi, t->easy.get());
    t->response.error = "the HTTP/2 client is shutting down";
    t->done(std::move(t->response));
  }
  transfers_.clear();
}

}  // namespace parley::push
