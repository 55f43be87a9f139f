// store-write-bench: what the scale-out pipeline's writes cost a Cassandra
// node, apart from everything else the scale-out benchmark runs. Writes 1:1
// messages as the steps do, one batch at a time: the sequencer's history
// write (put_new_messages), then the inbox owner's (put_inbox: an entry for
// the sender and one for the recipient, 500 pairs), and prints the node's
// CPU per message (its process tree's utime + stime over the measured
// part, as parley-bench --watch measures the engines) and the time of each
// batch's two writes (median and p90).
//   store-write-bench HOST:PORT CASSANDRA_PID [MESSAGES [BATCH]]
//     e.g. store-write-bench 127.0.0.1:19042 "$(cat build/engines/cassandra/cassandra.pid)"
// Each run writes into a keyspace of its own (store_bench_<time>), left
// behind; 20,000 unmeasured messages first, so that the node's JIT has
// compiled the write path. Defaults: 30,000 messages in batches of 30.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "adapters/cassandra/cassandra_message_store.hpp"
#include "parley_bench/proc_stats.hpp"

namespace {

using namespace parley;

constexpr std::uint64_t kPairs = 500;

struct Writer {
  ports::MessageStore& store;
  std::vector<Seq> heads = std::vector<Seq>(2 * kPairs + 1, 0);
  std::uint64_t next_id = (std::uint64_t{1} << 40) + 1;
  std::uint64_t sent = 0;

  // One batch; returns its wall time in ms, or a negative value on failure.
  double batch(std::size_t size) {
    std::vector<Message> messages;
    messages.reserve(size);
    for (std::size_t i = 0; i < size; ++i, ++sent) {
      const std::uint64_t pair = sent % kPairs;
      const bool back = (sent / kPairs) % 2 == 1;
      UserId a{2 * pair + 1}, b{2 * pair + 2};
      Message m;
      m.id = MessageId{next_id++ << 22};
      m.conversation = to_string(direct_conversation(a, b));
      m.from = back ? b : a;
      m.to = Recipient{Recipient::Kind::user, (back ? a : b).value};
      m.body = std::string(100 + sent % 101, 'x');
      m.sent_at = 1'700'000'000'000 + static_cast<TimeMs>(sent);
      m.client_msg_id = "c" + std::to_string(sent);
      messages.push_back(std::move(m));
    }
    std::vector<ports::MessageStore::InboxWrite> writes;
    writes.reserve(2 * size);
    for (const auto& m : messages) {
      for (UserId u : {m.from, UserId{m.to.id}}) {
        writes.push_back({u, InboxEntry{++heads[u.value], m}});
      }
    }
    const auto began = std::chrono::steady_clock::now();
    if (auto r = store.put_new_messages(messages); !r) {
      std::fprintf(stderr, "put_new_messages: %s\n", r.error().message.c_str());
      return -1;
    }
    if (auto r = store.put_inbox(writes); !r) {
      std::fprintf(stderr, "put_inbox: %s\n", r.error().message.c_str());
      return -1;
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: store-write-bench HOST:PORT CASSANDRA_PID [MESSAGES [BATCH]]\n");
    return 2;
  }
  const int pid = std::stoi(argv[2]);
  const std::size_t messages = argc > 3 ? std::stoul(argv[3]) : 30'000;
  const std::size_t batch = argc > 4 ? std::stoul(argv[4]) : 30;
  cassandra::CassandraStoreOptions options;
  options.cql.contact_points = {argv[1]};
  options.keyspace =
      "store_bench_" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count() / 1'000'000'000);
  auto store = cassandra::CassandraMessageStore::open(options);
  if (!store) {
    std::fprintf(stderr, "store-write-bench: %s\n", store.error().message.c_str());
    return 1;
  }
  Writer w{**store};
  for (std::size_t n = 0; n < 20'000; n += batch) {
    if (w.batch(batch) < 0) return 1;
  }
  std::vector<double> ms;
  const double cpu0 = bench::tree_cpu_s(pid);
  const auto began = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < messages; n += batch) {
    const double t = w.batch(batch);
    if (t < 0) return 1;
    ms.push_back(t);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const double cpu = bench::tree_cpu_s(pid) - cpu0;
  const double written = static_cast<double>(ms.size() * batch);
  std::sort(ms.begin(), ms.end());
  std::printf(
      "%zu messages in batches of %zu: %.0f/s; a batch's writes median %.2f ms, p90 %.2f ms; "
      "the node %.1f us CPU a message (%.0f %% of one core)\n",
      ms.size() * batch, batch, written / wall, ms[ms.size() / 2], ms[ms.size() * 9 / 10], cpu * 1e6 / written,
      100 * cpu / wall);
  return 0;
}
