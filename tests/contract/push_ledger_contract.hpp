#pragma once
// The PushLedger contract's factory and fixture (kept apart from
// contracts.hpp, as the PushTokens suite is); engines join it with
//
//   INSTANTIATE_TEST_SUITE_P(X, PushLedgerContract, ::testing::Values(PushLedgerFactory{...}), FactoryName{});

#include "contracts.hpp"
#include "ports/push_ledger.hpp"

namespace parley::contract {

struct PushLedgerFactory {
  std::string name;
  std::function<std::unique_ptr<ports::PushLedger>(const std::string& dir)> make;
};

class PushLedgerContract : public ContractTest<PushLedgerFactory, ports::PushLedger> {};

}  // namespace parley::contract
