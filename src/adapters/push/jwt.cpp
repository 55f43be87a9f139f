#include "adapters/push/jwt.hpp"

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace parley::push {

namespace json = boost::json;

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;  // unpadded, as JWS requires
}

Result<std::string> base64url_decode(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(kAlphabet[i])] = i;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0) return make_error(ErrorCode::bad_request, "not base64url");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return make_error(ErrorCode::bad_request, "not base64url");
  return out;
}

Result<std::string> sign_jwt(const SigningKey& key, const json::object& claims, const json::object& extra_header) {
  json::object header = extra_header;
  header["alg"] = key.jwt_alg();
  header["typ"] = "JWT";
  std::string input = base64url(json::serialize(header)) + "." + base64url(json::serialize(claims));
  auto signature = key.sign(input);
  if (!signature) return std::move(signature).error();
  return input + "." + base64url(signature.value());
}

Result<json::object> verify_jwt(std::string_view jwt, std::string_view public_pem, SigningKey::Algorithm algorithm) {
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return make_error(ErrorCode::bad_request, "not a JWT");
  auto header = base64url_decode(jwt.substr(0, dot1));
  auto claims = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(jwt.substr(dot2 + 1));
  if (!header || !claims || !signature) return make_error(ErrorCode::bad_request, "not a JWT");
  boost::system::error_code ec;
  const json::value h = json::parse(header.value(), ec);
  if (ec || !h.is_object()) return make_error(ErrorCode::bad_request, "bad JWT header");
  const auto* alg = h.as_object().if_contains("alg");
  const std::string_view want = algorithm == SigningKey::Algorithm::es256 ? "ES256" : "RS256";
  if (alg == nullptr || !alg->is_string() || alg->as_string() != want) {
    return make_error(ErrorCode::bad_request, "unexpected JWT alg");
  }
  if (!verify_signature(public_pem, algorithm, jwt.substr(0, dot2), signature.value())) {
    return make_error(ErrorCode::unauthorized, "JWT signature does not verify");
  }
  const json::value c = json::parse(claims.value(), ec);
  if (ec || !c.is_object()) return make_error(ErrorCode::bad_request, "bad JWT claims");
  return c.as_object();
}

}  // namespace parley::push
