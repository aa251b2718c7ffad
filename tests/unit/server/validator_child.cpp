// test_server doubles as the sandboxed validator exactly as test_challenge does: one hook,
// defined once in tests/unit/challenge/validator_child.cpp and compiled into each binary.
#include "../challenge/validator_child.cpp"
