#pragma once
// The SequencerState contract's factory and fixture (kept apart from
// contracts.hpp, as the PushLedger suite is); engines join it with
//
//   INSTANTIATE_TEST_SUITE_P(X, SequencerStateContract, ::testing::Values(SequencerStateFactory{...}),
//                            FactoryName{});

#include "contracts.hpp"
#include "ports/sequencer_state.hpp"

namespace parley::contract {

struct SequencerStateFactory {
  std::string name;
  std::function<std::unique_ptr<ports::SequencerState>(const std::string& dir)> make;
};

class SequencerStateContract : public ContractTest<SequencerStateFactory, ports::SequencerState> {};

}  // namespace parley::contract
