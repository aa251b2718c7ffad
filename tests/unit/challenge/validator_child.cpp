// This test binary doubles as the challenge's sandboxed validator (challenge/sandbox.hpp):
// Service runs "$RECONBENCH_VALIDATOR validate-child" in a child process, and the child
// (marked by RECONBENCH_VALIDATOR_CHILD in its environment) runs the validator protocol
// here, before GoogleTest's main, instead of the tests.
#include <cstdlib>
#include <iostream>

#include "reconbench/challenge/sandbox.hpp"

namespace {
const bool kValidatorHook = [] {
  if (std::getenv(rb::challenge::kValidatorChildEnv))
    std::exit(rb::challenge::validator_child_main(std::cin, stdout));
  setenv("RECONBENCH_VALIDATOR", "/proc/self/exe", /*overwrite=*/0);
  return true;
}();
}  // namespace
