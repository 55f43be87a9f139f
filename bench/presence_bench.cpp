// presence_bench: what one user's status change costs when they have 5,000
// friends and some of them are online (default 500), on the embedded
// engines (MemoryStateStore, RocksSocialGraph).
//
// It drives PresenceService's synchronous core with a hand-moved clock, so
// no debounce window or TTL is ever waited out, and counts the work: watcher
// entries written, watchers checked, events published (each event is one
// pub/sub envelope to a server that holds the friend's devices; a counting
// subscriber stands in for the gateway). Not a test: it prints a table.
//
//   presence_bench [--friends N] [--online N,N,...] [--rounds N] [--dir PATH]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "services/presence_service.hpp"
#include "services/records.hpp"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "presence_bench: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void must(Result<void> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "presence_bench: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
}

struct Sample {
  std::vector<double> us;  // one per round
  std::uint64_t watcher_updates = 0, watchers_checked = 0, events = 0, envelopes = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Options {
  int friends = 5000;
  std::vector<int> online = {50, 500, 5000};
  int rounds = 30;
  std::string dir = (std::filesystem::temp_directory_path() / "parley-presence-bench").string();
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--friends") {
      o.friends = std::stoi(value);
    } else if (flag == "--rounds") {
      o.rounds = std::stoi(value);
    } else if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--online") {
      o.online.clear();
      std::stringstream ss(value);
      for (std::string n; std::getline(ss, n, ',');) o.online.push_back(std::stoi(n));
    } else {
      std::fprintf(stderr, "usage: presence_bench [--friends N] [--online N,N,...] [--rounds N] [--dir PATH]\n");
      std::exit(2);
    }
  }
  return o;
}

// One scenario: `friends` friends of user 1, the first `online` of them
// connected; measures each kind of status change of user 1 over `rounds`.
void run_scenario(ports::SocialGraph& graph, int friends, int online, int rounds) {
  embedded::MemoryStateStore state;
  TimeMs now = 1'000'000;
  services::PresenceService presence(
      state, graph, {.ttl = std::chrono::seconds(30), .debounce = std::chrono::seconds(2)}, [&now] { return now; });
  const std::string server = "bench-node";
  std::atomic<std::uint64_t> envelopes{0};
  auto sub =
      must(state.subscribe(records::server_channel(server), [&](std::string_view) { ++envelopes; }), "subscribe");
  const UserId user{1};
  for (int i = 0; i < online; ++i) {
    const UserId f{static_cast<std::uint64_t>(2 + i)};
    must(state.add_route(f, server), "add_route");
    must(presence.apply_touch(f, "phone"), "friend online");
  }
  now += 10'000;
  must(presence.run_due(now), "settle");

  auto settle = [&] {
    now += 10'000;  // past the debounce window
    must(presence.run_due(now), "run_due");
  };

  Sample go_online, go_away, go_offline, flap;
  auto measure = [&](Sample& s, const std::function<void()>& change) {
    const auto before = presence.stats();
    const std::uint64_t env_before = envelopes.load();
    const auto t0 = Clock::now();
    change();
    settle();
    const auto t1 = Clock::now();
    const auto after = presence.stats();
    s.us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    s.watcher_updates += after.watcher_updates - before.watcher_updates;
    s.watchers_checked += after.watchers_checked - before.watchers_checked;
    s.events += after.events - before.events;
    s.envelopes += envelopes.load() - env_before;
  };

  for (int r = 0; r < rounds; ++r) {
    measure(go_online, [&] { must(presence.apply_touch(user, "phone"), "online"); });
    measure(go_away, [&] { must(presence.apply_status(user, ports::PresenceStatus::away), "away"); });
    measure(go_offline, [&] { must(presence.apply_remove(user, "phone"), "offline"); });
    // A reconnect inside the debounce window: two transitions, no event.
    must(presence.apply_touch(user, "phone"), "online");
    settle();
    measure(flap, [&] {
      must(presence.apply_remove(user, "phone"), "flap off");
      must(presence.apply_touch(user, "phone"), "flap on");
    });
    must(presence.apply_remove(user, "phone"), "offline");
    settle();
  }

  auto row = [&](const char* what, const Sample& s) {
    const double n = static_cast<double>(s.us.size());
    std::printf("| %6d | %6d | %-22s | %9.0f | %9.0f | %9.0f | %8.0f | %8.0f | %6.0f |\n", friends, online, what,
                percentile(s.us, 0.5), percentile(s.us, 0.99), *std::max_element(s.us.begin(), s.us.end()),
                static_cast<double>(s.watcher_updates) / n, static_cast<double>(s.watchers_checked) / n,
                static_cast<double>(s.envelopes) / n);
  };
  row("online (connect)", go_online);
  row("away", go_away);
  row("offline (disconnect)", go_offline);
  row("reconnect in window", flap);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::filesystem::remove_all(o.dir);
  auto graph = must(embedded::RocksSocialGraph::open(o.dir), "open the social graph");
  const UserId user{1};
  const auto t0 = Clock::now();
  for (int i = 0; i < o.friends; ++i) {
    const UserId f{static_cast<std::uint64_t>(2 + i)};
    (void)must(graph->request_friend(f, user), "request");
    must(graph->accept_friend(user, f), "accept");
  }
  std::printf("setup: %d friendships in %.1f s (synced RocksDB writes)\n\n", o.friends,
              std::chrono::duration<double>(Clock::now() - t0).count());
  std::printf(
      "| friends | online | change | p50 us | p99 us | max us | watcher writes | watchers checked | events |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (int online : o.online) run_scenario(*graph, o.friends, std::min(online, o.friends), o.rounds);
  graph.reset();
  std::filesystem::remove_all(o.dir);
  return 0;
}
