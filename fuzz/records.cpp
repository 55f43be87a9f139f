// Fuzz target: the records Parley reads back from its message log and the
// envelopes servers send each other (records::decode_send, decode_inbox,
// decode_sequenced, decode_envelope), each given the same bytes.
//
// Invariants: no exception escapes; a record that decodes re-encodes to the
// very bytes it came from (the encoding is canonical: a decoder that accepts
// more than the encoder writes would let two byte strings mean one record),
// but for the older one-user inbox form, which re-encodes to what it means.

#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "services/records.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = records::decode_send(in)) PARLEY_FUZZ_CHECK(records::encode(*c) == in);
  if (auto c = records::decode_inbox(in)) {
    // The older one-user form (version byte 1) is still read and re-encodes
    // in the current form: for it, compare what the bytes mean.
    if (in.front() == 1) {
      const auto again = records::decode_inbox(records::encode(*c));
      PARLEY_FUZZ_CHECK(again && again->users == c->users && again->message == c->message);
    } else {
      PARLEY_FUZZ_CHECK(records::encode(*c) == in);
    }
  }
  if (auto s = records::decode_sequenced(in)) PARLEY_FUZZ_CHECK(records::encode(*s) == in);
  if (auto e = records::decode_envelope(in)) {
    const std::string again = std::visit([](const auto& v) { return records::encode(v); }, *e);
    PARLEY_FUZZ_CHECK(again == in);
  }
  return 0;
}
