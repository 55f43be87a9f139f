// The CQL v4 codec against frames recorded from Cassandra 5.0.4 (hex below,
// header included) and against request bytes built by hand from the spec.

#include <gtest/gtest.h>

#include <string>

#include "adapters/cassandra/cql_protocol.hpp"

namespace parley::cassandra {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Splits a recorded frame into its header and decoded body.
Response decode(std::string_view hex) {
  const std::string frame = unhex(hex);
  auto header = decode_header(frame);
  EXPECT_TRUE(header.ok());
  if (!header) return {};
  EXPECT_EQ(header->length, frame.size() - header_size);
  auto response = decode_response(header->opcode, header->flags, std::string_view(frame).substr(header_size));
  EXPECT_TRUE(response.ok()) << (response ? "" : response.error().message);
  return response ? *response : Response{};
}

TEST(CqlProtocol, StartupFrameIsTheSpecsBytes) {
  const std::string frame = encode_frame(1, Opcode::startup, startup_body());
  EXPECT_EQ(frame, unhex("0400000101000000160001000b43514c5f56455253494f4e0005332e302e30"));
}

TEST(CqlProtocol, ReadsReady) {
  const std::string frame = unhex("840000010200000000");
  auto header = decode_header(frame);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->stream, 1);
  EXPECT_EQ(header->opcode, Opcode::ready);
  EXPECT_EQ(decode("840000010200000000").kind, Response::Kind::ready);
}

TEST(CqlProtocol, RejectsAnotherVersionAndHugeBodies) {
  EXPECT_FALSE(decode_header(unhex("850000010200000000")).ok());
  EXPECT_FALSE(decode_header(unhex("84000001027fffffff")).ok());
  EXPECT_FALSE(decode_header(unhex("84000001")).ok());
}

TEST(CqlProtocol, ReadsRowsOfSystemLocal) {
  // SELECT release_version FROM system.local
  const auto r = decode(
      "84000002080000003b000000020000000100000001000673797374656d00056c6f63616c000f72656c656173655f76657273696f6e000d"
      "0000000100000005352e302e34");
  ASSERT_EQ(r.kind, Response::Kind::rows);
  ASSERT_EQ(r.rows.metadata.columns.size(), 1U);
  EXPECT_EQ(r.rows.metadata.columns[0].keyspace, "system");
  EXPECT_EQ(r.rows.metadata.columns[0].name, "release_version");
  EXPECT_EQ(r.rows.metadata.columns[0].type, 0x000D);  // varchar
  ASSERT_EQ(r.rows.rows.size(), 1U);
  EXPECT_EQ(as_text(r.rows.rows[0][0]), "5.0.4");
  EXPECT_TRUE(r.rows.metadata.paging_state.empty());
}

TEST(CqlProtocol, ReadsAPageAndItsPagingState) {
  // SELECT k FROM probe.t with page size 1: one bigint row and more pages.
  const auto r = decode(
      "84000009080000003f0000000200000003000000010000001008000000000000000100f07ffffffe00000570726f626500017400016b00"
      "0200000001000000080000000000000001");
  ASSERT_EQ(r.kind, Response::Kind::rows);
  EXPECT_EQ(r.rows.metadata.paging_state, unhex("08000000000000000100f07ffffffe00"));
  ASSERT_EQ(r.rows.rows.size(), 1U);
  EXPECT_EQ(as_bigint(r.rows.rows[0][0]).value(), 1);
}

TEST(CqlProtocol, ReadsAPreparedStatementAndItsPartitionKey) {
  // PREPARE SELECT a, b FROM probe.c WHERE a = ? AND b = ? (key (a, b))
  const auto r = decode(
      "84000003080000005600000004001077dc3165a2c8220bea27908a74748c7000000001000000020000000200000001000570726f62650001"
      "63000161000d00016200020000000100000002000570726f6265000163000161000d0001620002");
  ASSERT_EQ(r.kind, Response::Kind::prepared);
  EXPECT_EQ(r.prepared.id, unhex("77dc3165a2c8220bea27908a74748c70"));
  EXPECT_EQ(r.prepared.partition_key_indexes, (std::vector<std::uint16_t>{0, 1}));
  ASSERT_EQ(r.prepared.bind_columns.size(), 2U);
  EXPECT_EQ(r.prepared.bind_columns[1].name, "b");
  EXPECT_EQ(r.prepared.bind_columns[1].type, 0x0002);  // bigint
  EXPECT_EQ(r.prepared.result.columns.size(), 2U);
}

TEST(CqlProtocol, ReadsServerErrors) {
  const auto invalid = decode("84000002000000001f0000220000197461626c65206e6f706520646f6573206e6f74206578697374");
  ASSERT_EQ(invalid.kind, Response::Kind::error);
  EXPECT_EQ(invalid.error.code, error_code::invalid);
  EXPECT_EQ(invalid.error.message, "table nope does not exist");

  // EXECUTE of an id the node does not know.
  const auto unprepared = decode(
      "8400000400000001050000250000ed50726570617265642071756572792077697468204944203031303130313031303130313031303130"
      "313031303130313031303130313031206e6f7420666f756e6420286569746865722074686520717565727920776173206e6f742070726570"
      "61726564206f6e207468697320686f737420286d617962652074686520686f737420686173206265656e207265737461727465643f29206f"
      "7220796f75206861766520707265706172656420746f6f206d616e79207175657269657320616e6420697420686173206265656e20657669"
      "637465642066726f6d2074686520696e7465726e616c20636163686529001001010101010101010101010101010101");
  ASSERT_EQ(unprepared.kind, Response::Kind::error);
  EXPECT_EQ(unprepared.error.code, error_code::unprepared);
  EXPECT_EQ(unprepared.error.unprepared_id, std::string(16, '\x01'));
}

TEST(CqlProtocol, TruncatedBodiesAreErrorsNotCrashes) {
  const std::string body = unhex(
      "000000020000000100000001000673797374656d00056c6f63616c000f72656c656173655f76657273696f6e000d0000000100000005352e"
      "302e34");
  for (std::size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(decode_response(Opcode::result, 0, std::string_view(body).substr(0, n)).ok()) << n;
  }
  // No metadata, one column, and a row count far beyond the body.
  EXPECT_FALSE(decode_response(Opcode::result, 0,
                               unhex("00000002"
                                     "00000004"
                                     "00000001"
                                     "7fffffff"))
                   .ok());
}

TEST(CqlProtocol, SkipsWarningsBeforeTheBody) {
  // Flag 0x08: a string list of one warning, then a Void result.
  const std::string body = unhex(
      "0001"
      "0004"
      "6f6f7073"
      "00000001");
  auto r = decode_response(Opcode::result, 0x08, body);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Response::Kind::void_);
  EXPECT_EQ(r->warnings, (std::vector<std::string>{"oops"}));
}

TEST(CqlProtocol, EncodesQueryParameters) {
  QueryParameters p;
  p.consistency = Consistency::local_quorum;
  p.values = {bigint_value(7), std::nullopt};
  p.page_size = 100;
  p.paging_state = "ps";
  const std::string body = execute_body(std::string("\xab\xcd", 2), p);
  EXPECT_EQ(body, unhex("0002abcd"  // id
                        "0006"
                        "0d"  // LOCAL_QUORUM; values, page size, paging state
                        "0002"
                        "00000008"
                        "0000000000000007"
                        "ffffffff"  // two values, the second null
                        "00000064"  // page size 100
                        "00000002"
                        "7073"));  // paging state
}

TEST(CqlProtocol, EncodesABatchOfPreparedStatements) {
  const std::string body = batch_body(BatchType::unlogged, {{"id", {int_value(1)}}}, Consistency::one);
  EXPECT_EQ(body, unhex("01"
                        "0001"
                        "01"
                        "0002"
                        "6964"
                        "0001"
                        "00000004"
                        "00000001"
                        "0001"
                        "00"));
}

TEST(CqlProtocol, RoutingKeysFollowCassandrasCompositeLayout) {
  const std::vector<CqlValue> values{text_value("g:42"), bigint_value(7)};
  EXPECT_EQ(routing_key({1}, values), bigint_value(7));
  EXPECT_EQ(routing_key({0, 1}, values), unhex("0004"
                                               "673a3432"
                                               "00"
                                               "0008"
                                               "0000000000000007"
                                               "00"));
  EXPECT_EQ(routing_key({2}, values), std::nullopt);
  EXPECT_EQ(routing_key({0}, {std::nullopt}), std::nullopt);
}

TEST(CqlProtocol, ParsesConsistencyNames) {
  EXPECT_EQ(parse_consistency("LOCAL_QUORUM"), Consistency::local_quorum);
  EXPECT_EQ(parse_consistency("one"), Consistency::one);
  EXPECT_EQ(parse_consistency("most"), std::nullopt);
}

// Found by fuzz/cql_response.cpp: a ROWS result of no columns and 2^28 rows
// passed the check that each value takes 4 bytes (no values, no bytes) and
// reserved 6 GiB for the rows (std::bad_alloc, or a long loop).
TEST(CqlProtocol, RowsOfNoColumnsAreRefused) {
  const std::string body = unhex(
      "00000002"    // ROWS
      "00000004"    // flags: no metadata
      "00000000"    // no columns
      "10000001");  // 2^28 + 1 rows
  const auto r = decode_response(Opcode::result, 0, body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::internal);
  // Rows of no columns and none of them read as before: an empty page.
  const auto empty = decode_response(Opcode::result, 0,
                                     unhex("000000020000000400000000"
                                           "00000000"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->rows.rows.empty());
}

// PasswordAuthenticator's exchange (the spec, 4.1.2 and 4.2.7-4.2.9): frames
// built by hand from the spec, as Cassandra 5.0 sends them.
TEST(CqlProtocol, ReadsAuthenticateWithTheAuthenticatorsName) {
  const auto r = decode(
      "840000010300000031002f6f72672e6170616368652e63617373616e6472612e617574682e50617373776f72644175746865"
      "6e74696361746f72");
  EXPECT_EQ(r.kind, Response::Kind::authenticate);
  EXPECT_EQ(r.authenticator, "org.apache.cassandra.auth.PasswordAuthenticator");
}

TEST(CqlProtocol, ReadsAuthSuccessAndChallengeTokens) {
  const auto success = decode("840000021000000004ffffffff");  // a null token
  EXPECT_EQ(success.kind, Response::Kind::auth_success);
  EXPECT_EQ(success.sasl_token, "");
  const auto challenge = decode("840000020e00000006000000026869");
  EXPECT_EQ(challenge.kind, Response::Kind::auth_challenge);
  EXPECT_EQ(challenge.sasl_token, "hi");
}

TEST(CqlProtocol, ReadsBadCredentialsAsAnError) {
  const auto r = decode(
      "84000002000000003c00000100003650726f766964656420757365726e616d65207061726c657920616e642f6f722070617373"
      "776f72642061726520696e636f7272656374");
  ASSERT_EQ(r.kind, Response::Kind::error);
  EXPECT_EQ(r.error.code, error_code::bad_credentials);
  EXPECT_EQ(r.error.message, "Provided username parley and/or password are incorrect");
}

TEST(CqlProtocol, RefusesATruncatedAuthenticate) {
  EXPECT_FALSE(decode_response(Opcode::authenticate, 0, unhex("002f6f7267")).ok());
  EXPECT_FALSE(decode_response(Opcode::auth_success, 0, unhex("00000005ab")).ok());
}

TEST(CqlProtocol, AuthResponseCarriesThePlainToken) {
  const std::string token = plain_sasl_token("parley", "s3cret");
  EXPECT_EQ(token, std::string("\0parley\0s3cret", 14));
  const std::string frame = encode_frame(2, Opcode::auth_response, auth_response_body(token));
  EXPECT_EQ(frame, unhex("040000020f00000012") + unhex("0000000e") + token);
}

}  // namespace
}  // namespace parley::cassandra
