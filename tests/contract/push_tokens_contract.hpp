#pragma once
// The PushTokens contract's factory and fixture (kept apart from
// contracts.hpp so that the push suite stands alone); engines join it with
//
//   INSTANTIATE_TEST_SUITE_P(X, PushTokensContract, ::testing::Values(PushTokensFactory{...}), FactoryName{});

#include "contracts.hpp"
#include "ports/push_tokens.hpp"

namespace parley::contract {

struct PushTokensFactory {
  std::string name;
  std::function<std::unique_ptr<ports::PushTokens>(const std::string& dir)> make;
};

class PushTokensContract : public ContractTest<PushTokensFactory, ports::PushTokens> {};

}  // namespace parley::contract
