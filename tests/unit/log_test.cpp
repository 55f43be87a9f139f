#include "core/log.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace parley::log {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2026-11-30T08:15:02.123Z
const system_clock::time_point kAt = system_clock::time_point(milliseconds(1796026502123));

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

// The JSON string `text` becomes, parsed back; fails the test if it is not
// valid JSON.
std::string round_trip(std::string_view text) {
  const std::string encoded = json_string(text);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(encoded, ec);
  EXPECT_FALSE(ec) << encoded << ": " << ec.message();
  if (ec || !v.is_string()) return "<invalid>";
  return std::string(v.get_string());
}

TEST(LogTimestamp, IsRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(timestamp(kAt), "2026-11-30T08:15:02.123Z");
  EXPECT_EQ(timestamp(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(timestamp(kAt + std::chrono::microseconds(999)), "2026-11-30T08:15:02.123Z");  // truncated, not rounded
}

TEST(LogJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(json_string(std::string_view("\0\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(json_string("/ and \x7f stay"), "\"/ and \x7f stay\"");
  EXPECT_EQ(json_string(""), "\"\"");
}

TEST(LogJsonString, KeepsValidUtf8AsItIs) {
  const std::string text = "zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8";  // ë, €, an emoji, U+2028
  EXPECT_EQ(json_string(text), "\"" + text + "\"");
  EXPECT_EQ(round_trip(text), text);
  // The edges of each range.
  for (const std::string edge : {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
                                 "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_EQ(json_string(edge), "\"" + edge + "\"");
  }
}

TEST(LogJsonString, ReplacesEachByteOfInvalidUtf8WithTheReplacementCharacter) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(round_trip("a\x80z"), "a" + fffd + "z");                              // a stray continuation byte
  EXPECT_EQ(round_trip("a\xc3"), "a" + fffd);                                     // truncated at the end
  EXPECT_EQ(round_trip("\xe2\x82z"), fffd + fffd + "z");                          // truncated in the middle
  EXPECT_EQ(round_trip("\xc0\xaf"), fffd + fffd);                                 // overlong '/'
  EXPECT_EQ(round_trip("\xe0\x80\xaf"), fffd + fffd + fffd);                      // overlong, three bytes
  EXPECT_EQ(round_trip("\xed\xa0\x80"), fffd + fffd + fffd);                      // a UTF-16 surrogate
  EXPECT_EQ(round_trip("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd);           // past U+10FFFF
  EXPECT_EQ(round_trip("\xff\xfe"), fffd + fffd);                                 // never valid
  EXPECT_EQ(round_trip("\xc3\xab\xff\xc3\xab"), "\xc3\xab" + fffd + "\xc3\xab");  // resynchronises
}

TEST(LogJsonString, AnyByteStringBecomesValidJson) {
  // Every single byte, and every pair of bytes: each encodes to a JSON
  // string that parses.
  for (int a = 0; a < 256; ++a) {
    const char one[] = {static_cast<char>(a)};
    round_trip(std::string_view(one, 1));
    for (int b = 0; b < 256; ++b) {
      const char two[] = {static_cast<char>(a), static_cast<char>(b)};
      const std::string encoded = json_string(std::string_view(two, 2));
      boost::system::error_code ec;
      (void)boost::json::parse(encoded, ec);
      ASSERT_FALSE(ec) << a << " " << b;
    }
  }
}

TEST(LogLine, JsonLinesAreOneObjectWithTheFourFieldsAndAnyExtras) {
  const std::string hostile = "say \"hi\"\nlevel=error \x01 \xff {\"x\":1}";
  const std::string line =
      format_line(Format::json, kAt, Level::warn, "gate\"way", hostile,
                  {{"method", std::string_view("GET")}, {"status", std::int64_t{503}}, {"duration_ms", 1.23456}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  const boost::json::value v = boost::json::parse(std::string_view(line).substr(0, line.size() - 1));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("ts").as_string(), "2026-11-30T08:15:02.123Z");
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("component").as_string(), "gate\"way");
  EXPECT_EQ(o.at("msg").as_string(), "say \"hi\"\nlevel=error \x01 \xef\xbf\xbd {\"x\":1}");
  EXPECT_EQ(o.at("method").as_string(), "GET");
  EXPECT_EQ(o.at("status").as_int64(), 503);
  EXPECT_DOUBLE_EQ(o.at("duration_ms").as_double(), 1.235);
  EXPECT_EQ(o.size(), 7U);
}

TEST(LogLine, NonFiniteNumbersAreNull) {
  const std::string line =
      format_line(Format::json, kAt, Level::info, "c", "m", {{"x", std::numeric_limits<double>::infinity()}});
  const boost::json::value v = boost::json::parse(line);
  EXPECT_TRUE(v.as_object().at("x").is_null());
}

TEST(LogLine, TextLinesStartWithTheTimestampAndLevelAndStayOneLine) {
  EXPECT_EQ(format_line(Format::text, kAt, Level::info, "gateway", "hello", {{"ignored", std::int64_t{1}}}),
            "2026-11-30T08:15:02.123Z info [gateway] hello\n");
  EXPECT_EQ(format_line(Format::text, kAt, Level::error, "x", "two\nlines\r\tand \x1b[31mred"),
            "2026-11-30T08:15:02.123Z error [x] two\\nlines\\r\\tand \\x1b[31mred\n");
}

TEST(LogNames, LevelsAndFormatsParseFromTheirNames) {
  for (const Level level : {Level::debug, Level::info, Level::warn, Level::error}) {
    EXPECT_EQ(parse_level(level_name(level)), level);
  }
  EXPECT_EQ(parse_level("warning"), std::nullopt);
  EXPECT_EQ(parse_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_format("text"), Format::text);
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_EQ(parse_format("xml"), std::nullopt);
}

TEST(LogLevel, EnabledFollowsTheLevelSet) {
  set_level(Level::warn);
  EXPECT_FALSE(enabled(Level::info));
  EXPECT_TRUE(enabled(Level::warn));
  EXPECT_TRUE(enabled(Level::error));
  set_level(Level::debug);
  EXPECT_TRUE(enabled(Level::debug));
  set_level(Level::info);
}

}  // namespace
}  // namespace parley::log
