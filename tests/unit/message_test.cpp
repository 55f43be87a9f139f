#include "core/message.hpp"

#include <gtest/gtest.h>

#include "core/validate.hpp"

namespace parley {
namespace {

TEST(Conversation, BothMembersOfAPairGetTheSameOne) {
  const auto ab = direct_conversation(UserId{42}, UserId{7});
  const auto ba = direct_conversation(UserId{7}, UserId{42});
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(to_string(ab), "d:7:42");
  EXPECT_EQ(to_string(conversation_of(UserId{7}, Recipient{Recipient::Kind::user, 42})), "d:7:42");
  EXPECT_TRUE(is_direct_member(ab, UserId{7}));
  EXPECT_TRUE(is_direct_member(ab, UserId{42}));
  EXPECT_FALSE(is_direct_member(ab, UserId{8}));
}

TEST(Conversation, NamesRoundTrip) {
  for (const auto& c : {direct_conversation(UserId{1}, UserId{2}), group_conversation(GroupId{99}),
                        channel_conversation(ChannelId{18446744073709551615ULL})}) {
    const auto parsed = parse_conversation(to_string(c));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, c);
  }
}

TEST(Conversation, RejectsWhatIsNotAName) {
  for (const char* bad : {"", "d:", "d:1", "d:2:1", "d:01:2", "d:1:2:3", "g:", "g:0", "g:-1", "g:1x", "x:1",
                          "c:18446744073709551616", "g:1 "}) {
    EXPECT_FALSE(parse_conversation(bad).has_value()) << bad;
  }
}

TEST(Validate, DisplayNamesRefuseControlAndBidiCharacters) {
  EXPECT_TRUE(validate::display_name("Team Rocket"));
  EXPECT_TRUE(validate::display_name("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"));  // Hebrew letters are fine
  EXPECT_FALSE(validate::display_name(""));
  EXPECT_FALSE(validate::display_name(std::string(201, 'a')));
  EXPECT_FALSE(validate::display_name(std::string("a\0b", 3)));
  EXPECT_FALSE(validate::display_name("tab\there"));
  EXPECT_FALSE(validate::display_name("\xC2\x85"));  // C1 control (NEL)
  EXPECT_FALSE(
      validate::display_name("pay\xE2\x80\xAE"
                             "fdp.exe"));                  // U+202E right-to-left override
  EXPECT_FALSE(validate::display_name("x\xE2\x81\xA6y"));  // U+2066 left-to-right isolate
  EXPECT_FALSE(validate::display_name("\xFF"));            // not UTF-8
}

TEST(Validate, DisplayNameEdges) {
  // Every bidirectional mark or override listed in docs/PROTOCOL.md.
  for (const char* bidi :
       {"\xD8\x9C", "\xE2\x80\x8E", "\xE2\x80\x8F", "\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD",
        "\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8", "\xE2\x81\xA9"}) {
    EXPECT_FALSE(validate::display_name(std::string("a") + bidi + "b")) << bidi;
  }
  EXPECT_FALSE(validate::display_name("a\x1F"));            // last C0
  EXPECT_FALSE(validate::display_name("a\x7F"));            // DEL
  EXPECT_FALSE(validate::display_name("\xC2\x80"));         // first C1
  EXPECT_FALSE(validate::display_name("\xC2\x9F"));         // last C1
  EXPECT_FALSE(validate::display_name("\xC0\xAF"));         // overlong '/'
  EXPECT_FALSE(validate::display_name("\xED\xA0\x80"));     // a surrogate
  EXPECT_FALSE(validate::display_name("a\xE2\x80"));        // truncated
  EXPECT_TRUE(validate::display_name(" ~"));                // first and last printable ASCII
  EXPECT_TRUE(validate::display_name("\xC2\xA0"));          // U+00A0, past C1
  EXPECT_TRUE(validate::display_name("\xE2\x80\x8D"));      // U+200D ZWJ (emoji sequences)
  EXPECT_TRUE(validate::display_name("\xF0\x9F\x98\x80"));  // an emoji
  EXPECT_TRUE(validate::display_name(std::string(200, 'a')));
}

TEST(Validate, Usernames) {
  EXPECT_TRUE(validate::username("ali"));
  EXPECT_TRUE(validate::username("a.b-c_9"));
  EXPECT_FALSE(validate::username("al"));
  EXPECT_FALSE(validate::username("Alice"));
  EXPECT_FALSE(validate::username(std::string(33, 'a')));
  EXPECT_FALSE(validate::username("al ice"));
}

TEST(Validate, DeviceIdsAndClientMessageIds) {
  EXPECT_TRUE(validate::device_id("Phone-1.x_y"));
  EXPECT_FALSE(validate::device_id(""));
  EXPECT_FALSE(validate::device_id(std::string(65, 'a')));
  EXPECT_FALSE(validate::device_id("ph/one"));
  EXPECT_TRUE(validate::client_msg_id(std::string(64, 'x')));
  EXPECT_FALSE(validate::client_msg_id(std::string(65, 'x')));
  EXPECT_FALSE(validate::client_msg_id(""));
  std::string accented;
  for (int i = 0; i < 64; ++i) accented += "\xC3\xA9";  // 64 characters, 128 bytes
  EXPECT_TRUE(validate::client_msg_id(accented));
}

TEST(Validate, Utf8) {
  EXPECT_TRUE(validate::utf8("plain"));
  EXPECT_TRUE(validate::utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(validate::utf8("\xFF"));
  EXPECT_FALSE(validate::utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(validate::utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(validate::utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(validate::utf8("\xE2\x82"));          // truncated
}

}  // namespace
}  // namespace parley
