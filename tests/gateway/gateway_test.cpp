// The gateway on its own, against services over the embedded engines (no
// pipeline steps, no parleyd): a real Server on a loopback port, spoken to
// over WebSocket and HTTP as a client would. What is checked is the
// gateway's part: frames read and refused with the protocol's errors, ops
// handed to the right service, events from the state store handed to the
// right devices, and the HTTP routes that read the cluster and the admin
// switch. Message sends need the sequencer and are the e2e suite's.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "../services/service_fixture.hpp"
#include "adapters/embedded/file_log.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "adapters/push/log_push_sender.hpp"
#include "gateway/server.hpp"
#include "services/live_events.hpp"

namespace parley::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using services::testkit::must;

// Every service the gateway calls, over the embedded engines in a fresh
// directory, and a Server on an ephemeral loopback port.
class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() {
    GatewayOptions options;
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, services_);
    server_->start();
  }
  ~GatewayTest() override { server_->stop(); }

  // A WebSocket client of one user's device. Reads give up after five
  // seconds (a test that waits for a frame that never comes fails).
  class Device {
   public:
    Device(std::uint16_t port, const std::string& token) : ws_(ioc_) {
      tcp::resolver resolver(ioc_);
      asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
      timeval timeout{.tv_sec = 5, .tv_usec = 0};
      ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      ws_.set_option(beast::websocket::stream_base::decorator(
          [&token](beast::websocket::request_type& req) { req.set(http::field::authorization, "Bearer " + token); }));
      ws_.handshake("127.0.0.1", "/v1/ws");
    }
    void send(const std::string& text) { ws_.write(asio::buffer(text)); }
    json::object next() {
      beast::flat_buffer buffer;
      ws_.read(buffer);
      return json::parse(beast::buffers_to_string(buffer.data())).as_object();
    }
    // The next frame that is an event named `ev` (others are skipped).
    json::object next_event(std::string_view ev) {
      for (;;) {
        auto frame = next();
        if (const auto* name = frame.if_contains("ev");
            name != nullptr && name->is_string() && name->get_string() == ev) {
          return frame;
        }
      }
    }
    // The reply to request `id` (events before it are skipped).
    json::object reply(std::string_view id) {
      for (;;) {
        auto frame = next();
        if (const auto* re = frame.if_contains("re"); re != nullptr && re->is_string() && re->get_string() == id) {
          return frame;
        }
      }
    }
    json::object request(std::string_view id, const std::string& text) {
      send(text);
      return reply(id);
    }

   private:
    asio::io_context ioc_;
    beast::websocket::stream<tcp::socket> ws_;
  };

  struct Person {
    UserId id;
    std::string token;
  };

  Person login(const std::string& name, const std::string& device = "phone") {
    auto user = auth_.register_user(name, "correct horse battery");
    if (!user) throw std::runtime_error(user.error().message);
    auto session = auth_.login(name, "correct horse battery", device);
    if (!session) throw std::runtime_error(session.error().message);
    return {user->id, session->token};
  }

  std::unique_ptr<Device> connect(const Person& who) { return std::make_unique<Device>(server_->port(), who.token); }

  http::response<http::string_body> get(const std::string& target, const std::string& token = "") {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    tcp::resolver resolver(ioc);
    asio::connect(socket, resolver.resolve("127.0.0.1", std::to_string(server_->port())));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  }

  // Waits (bounded) until the user's route names this server: a session's
  // route is written on the registry's strand, after the upgrade.
  void await_route(UserId user) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      if (auto held = cluster_.servers_holding(user); held && *held > 0) return;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no route for user " << to_string(user);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // A string member as a std::string; anything else as its JSON.
  static std::string text(const json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
  }

  static std::string error_code(const json::object& frame) {
    return std::string(frame.at("error").as_object().at("code").as_string());
  }

  services::testkit::Engines engines_{"parley-gateway-test"};
  std::unique_ptr<embedded::FileLog> log_ = must(embedded::FileLog::open({.path = engines_.sub("log")}));
  std::unique_ptr<embedded::SqliteSearchIndex> search_index_ =
      must(embedded::SqliteSearchIndex::open(engines_.sub("search.db")));
  std::unique_ptr<embedded::RocksPushTokens> push_tokens_ =
      must(embedded::RocksPushTokens::open(engines_.sub("push-tokens")));
  std::unique_ptr<embedded::RocksPushLedger> push_ledger_ =
      must(embedded::RocksPushLedger::open(engines_.sub("push-ledger"), embedded::Durability::os));
  push::LogPushSender push_sender_;
  Metrics metrics_;
  services::RoomsService rooms_{*engines_.rooms, *engines_.directory, *engines_.social, {}};
  services::ConversationService conversations_{*engines_.store, *engines_.rooms, rooms_, engines_.state, {}};
  services::ChatService chat_{*log_, *engines_.store, engines_.state, rooms_, {.server_id = "gw"}};
  services::Auth auth_{*engines_.directory, services::Auth::HashCost::min};
  services::SessionService sessions_{auth_, *engines_.store, engines_.state, push_tokens_.get()};
  services::AdminService admin_{*engines_.directory,
                                sessions_,
                                {.store = *engines_.store,
                                 .rooms = *engines_.rooms,
                                 .social = *engines_.social,
                                 .search = *search_index_,
                                 .push_tokens = push_tokens_.get()}};
  services::PresenceService presence_{engines_.state, *engines_.social, {}};
  services::SocialService social_{*engines_.directory, *engines_.social, engines_.state, presence_};
  services::SearchService search_{*search_index_, *engines_.rooms, rooms_};
  services::PushDispatcher push_{*push_ledger_,      *push_tokens_,       push_sender_,
                                 engines_.state,     *engines_.directory, services::PushPolicy({}),
                                 {.server_id = "gw"}};
  services::Readiness readiness_{{}};
  services::Cluster cluster_{engines_.state, "gw"};
  Services services_{.chat = chat_,
                     .auth = auth_,
                     .rooms = rooms_,
                     .conversations = conversations_,
                     .social = social_,
                     .presence = presence_,
                     .sessions = sessions_,
                     .search = search_,
                     .push = push_,
                     .admin = admin_,
                     .cluster = cluster_,
                     .readiness = readiness_,
                     .metrics = metrics_};
  std::unique_ptr<Server> server_;
};

TEST_F(GatewayTest, AFrameThatIsNoRequestIsAnsweredWithAnErrorAndTheConnectionStaysOpen) {
  auto alice = connect(login("alice"));
  alice->send("{not json");
  auto event = alice->next_event("error");
  EXPECT_EQ(error_code(event), "bad_request");

  auto unknown = alice->request("u1", R"({"id":"u1","op":"teleport"})");
  EXPECT_EQ(unknown.at("ok"), false);
  EXPECT_EQ(error_code(unknown), "bad_request");
  EXPECT_EQ(unknown.at("error").as_object().at("message"), "unknown op 'teleport'");

  // An op's fields are read by the codec: a bad one is named.
  auto typing = alice->request("t1", R"({"id":"t1","op":"typing"})");
  EXPECT_EQ(error_code(typing), "bad_request");
  EXPECT_EQ(typing.at("error").as_object().at("message"), "conversation is required and must be a string");

  EXPECT_EQ(alice->request("p1", R"({"id":"p1","op":"ping"})").at("ok"), true);  // still served
}

TEST_F(GatewayTest, PushRegisterStoresTheDevicesTokenThroughTheSessionService) {
  const auto who = login("alice", "tablet");
  auto alice = connect(who);
  auto ok = alice->request("1", R"({"id":"1","op":"push_register","platform":"fcm","token":"tok-1"})");
  ASSERT_EQ(ok.at("ok"), true) << json::serialize(ok);
  auto stored = push_tokens_->list(who.id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1U);
  EXPECT_EQ(stored->front().device, "tablet");
  EXPECT_EQ(stored->front().token, "tok-1");
  EXPECT_EQ(stored->front().platform, ports::PushPlatform::fcm);

  auto bad = alice->request("2", R"({"id":"2","op":"push_register","platform":"webpush","token":"t"})");
  EXPECT_EQ(error_code(bad), "bad_request");
}

TEST_F(GatewayTest, AnEventPublishedForAUserReachesTheirDevicesOnThisServerOnly) {
  const auto alice_who = login("alice");
  auto alice = connect(alice_who);
  auto bob = connect(login("bob"));
  await_route(alice_who.id);

  services::send_to_user(engines_.state, alice_who.id, R"({"ev":"hello","n":1})");
  EXPECT_EQ(alice->next_event("hello").at("n"), 1);
  // Bob heard nothing: his next frame is the reply to his own request.
  auto next = bob->request("q", R"({"id":"q","op":"ping"})");
  EXPECT_EQ(next.at("re"), "q");
}

// A device whose WebSocket is open is reachable: its user's route is in
// place before the handshake answers, so an event published for the user
// right after the open reaches it. Here the route change waits behind other
// work of the registry's strand; the handshake must wait with it.
TEST_F(GatewayTest, AnEventForAUserRightAfterTheirWebSocketOpensReachesTheDevice) {
  const auto alice_who = login("alice");
  std::promise<void> release;
  std::shared_future<void> held = release.get_future().share();
  server_->registry().run_in_order([held] { held.wait(); });
  auto opening = std::async(std::launch::async, [&] { return connect(alice_who); });
  const bool opened_while_held = opening.wait_for(std::chrono::milliseconds(300)) == std::future_status::ready;
  release.set_value();
  auto alice = opening.get();
  ASSERT_FALSE(opened_while_held) << "the WebSocket opened before its user's route was in place";
  services::send_to_user(engines_.state, alice_who.id, R"({"ev":"hello","n":1})");
  EXPECT_EQ(alice->next_event("hello").at("n"), 1);
}

TEST_F(GatewayTest, TypingInAGroupGoesThroughTheServicesToTheOtherMember) {
  const auto a = login("alice");
  const auto b = login("bob");
  engines_.befriend(a.id, b.id);
  auto alice = connect(a);
  auto bob = connect(b);
  await_route(b.id);
  auto created =
      alice->request("g", R"({"id":"g","op":"group_create","name":"g","members":[")" + to_string(b.id) + R"("]})");
  ASSERT_EQ(created.at("ok"), true) << json::serialize(created);
  const std::string conversation(created.at("conversation").as_string());

  ASSERT_EQ(alice->request("t", R"({"id":"t","op":"typing","conversation":")" + conversation + R"("})").at("ok"), true);
  auto typing = bob->next_event("typing");
  EXPECT_EQ(text(typing.at("conversation")), conversation);
  EXPECT_EQ(text(typing.at("user")), to_string(a.id));
}

TEST_F(GatewayTest, TheServerListIsTheClustersAndTheAdminApiIsOffWithoutAToken) {
  auto servers = get("/v1/servers");
  ASSERT_EQ(servers.result(), http::status::ok);
  auto list = json::parse(servers.body()).as_object().at("servers").as_array();
  ASSERT_EQ(list.size(), 1U);
  EXPECT_EQ(list[0].as_object().at("server_id"), "gw");
  EXPECT_EQ(text(list[0].as_object().at("url")), "ws://127.0.0.1:" + std::to_string(server_->port()) + "/v1/ws");

  EXPECT_EQ(get("/v1/admin/users", "anything").result(), http::status::not_found);

  const auto alice = login("alice");
  auto found = get("/v1/users/by-name/alice", alice.token);
  ASSERT_EQ(found.result(), http::status::ok);
  EXPECT_EQ(text(json::parse(found.body()).as_object().at("user_id")), to_string(alice.id));
  EXPECT_EQ(get("/v1/users/by-name/nobody", alice.token).result(), http::status::not_found);
}

}  // namespace
}  // namespace parley::gateway
