// services::Cluster, the gateway's one way to the state store: routes name
// this server, the registry lists it until it leaves (taking its routes
// with it), its own channel carries what other servers send it, a
// channel's topic what is posted live, and a membership notice reaches the
// other servers holding the user's devices, and this one only when asked.

#include "services/cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "service_fixture.hpp"
#include "services/live_events.hpp"

namespace parley::services {
namespace {

using testkit::ServerDevices;

// What arrived on one subscription, in order.
class Heard {
 public:
  Cluster::Handler handler() {
    return [this](std::string_view payload) {
      std::lock_guard lock(mu_);
      payloads_.emplace_back(payload);
    };
  }
  [[nodiscard]] std::vector<std::string> payloads() {
    std::lock_guard lock(mu_);
    return payloads_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> payloads_;
};

class ClusterTest : public ::testing::Test {
 protected:
  static bool lists(const std::vector<ports::ServerInfo>& servers, std::string_view id) {
    return std::any_of(servers.begin(), servers.end(), [&](const auto& s) { return s.id == id; });
  }

  embedded::MemoryStateStore state_;
  Cluster here_{state_, "here"};
  ServerDevices other_{state_, "other"};
  const UserId alice_{1}, bob_{2};
  const std::chrono::milliseconds ttl_{60000};
};

TEST_F(ClusterTest, RoutesNameThisServerAndCountTheServersHoldingAUser) {
  ASSERT_TRUE(here_.set_route(alice_, true).ok());
  EXPECT_EQ(state_.routes(alice_).value(), std::vector<std::string>{"here"});
  other_.connect(alice_);
  EXPECT_EQ(here_.servers_holding(alice_).value(), 2U);
  EXPECT_EQ(here_.servers_holding(bob_).value(), 0U);

  ASSERT_TRUE(here_.set_route(alice_, false).ok());
  EXPECT_EQ(state_.routes(alice_).value(), std::vector<std::string>{"other"});
}

TEST_F(ClusterTest, TheRegistryListsThisServerUntilItLeavesWithItsRoutes) {
  ASSERT_TRUE(here_.register_self({.id = "here", .endpoint = "127.0.0.1:1", .load = 3}, ttl_).ok());
  auto live = here_.live_servers();
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(lists(*live, "here"));
  EXPECT_EQ(live->front().endpoint, "127.0.0.1:1");
  EXPECT_EQ(live->front().load, 3U);
  EXPECT_TRUE(here_.heartbeat({.id = "here", .endpoint = "127.0.0.1:1", .load = 4}, ttl_).value());
  EXPECT_TRUE(here_.retire_dead().value().empty());  // it said it is alive

  ASSERT_TRUE(here_.set_route(alice_, true).ok());
  ASSERT_TRUE(here_.leave().ok());
  EXPECT_FALSE(lists(here_.live_servers().value(), "here"));
  EXPECT_TRUE(state_.routes(alice_).value().empty());  // nobody is sent alice's events here any more
  // A heartbeat after leaving says so: the server is not listed.
  EXPECT_FALSE(here_.heartbeat({.id = "here", .endpoint = "127.0.0.1:1", .load = 0}, ttl_).value());
}

TEST_F(ClusterTest, ThisServersChannelCarriesWhatIsSentToItsUsers) {
  Heard heard;
  auto subscription = here_.follow_own_channel(heard.handler());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(here_.set_route(alice_, true).ok());
  send_to_user(state_, alice_, R"({"ev":"x"})");
  ASSERT_EQ(heard.payloads().size(), 1U);
  auto envelope = records::decode_envelope(heard.payloads().front());
  ASSERT_TRUE(envelope.has_value());
  const auto* delivery = std::get_if<records::Deliver>(&*envelope);
  ASSERT_NE(delivery, nullptr);
  EXPECT_EQ(delivery->user, alice_);
  EXPECT_EQ(delivery->frame, R"({"ev":"x"})");

  send_to_user(state_, bob_, R"({"ev":"y"})");  // bob has no device here
  EXPECT_EQ(heard.payloads().size(), 1U);
}

TEST_F(ClusterTest, AFollowedChannelsTopicCarriesItsPostsAndNoOtherChannels) {
  Heard heard;
  auto subscription = here_.follow_channel(ChannelId{7}, heard.handler());
  ASSERT_TRUE(subscription.ok());
  send_to_channel(state_, ChannelId{7}, alice_, R"({"ev":"message"})");
  send_to_channel(state_, ChannelId{8}, alice_, R"({"ev":"message"})");
  EXPECT_EQ(heard.payloads().size(), 1U);
  subscription->reset();  // unfollowed: nothing more
  send_to_channel(state_, ChannelId{7}, alice_, R"({"ev":"message"})");
  EXPECT_EQ(heard.payloads().size(), 1U);
}

TEST_F(ClusterTest, AMembershipNoticeSkipsThisServerUnlessAskedToIncludeIt) {
  Heard heard;
  auto subscription = here_.follow_own_channel(heard.handler());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(here_.set_route(alice_, true).ok());
  other_.connect(alice_);

  here_.notify_membership_changed(alice_, false);
  EXPECT_EQ(other_.membership_changes(), std::vector<UserId>{alice_});
  EXPECT_TRUE(heard.payloads().empty());

  here_.notify_membership_changed(alice_, true);
  EXPECT_EQ(other_.membership_changes().size(), 2U);
  EXPECT_EQ(heard.payloads().size(), 1U);
}

}  // namespace
}  // namespace parley::services
