#!/usr/bin/env bash
# The unit suites under ASan+UBSan, all but LibTorch's (ml) and test_recon (see below): the
# readers (truncated, malformed and absurd files), metrics, simulator, challenge
# store/queue/sandbox, HTTP server and report, built with -fsanitize=address,undefined in a
# separate build tree. Any sanitizer report fails the test. The sandboxed validator child runs the uninstrumented
# reconbench (RECONBENCH_VALIDATOR), as in test_tsan: the sanitizers watch the server side.
set -euo pipefail
SRC=$RECONBENCH_SOURCE_DIR
B=$RECONBENCH_BUILD_DIR/asan
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECONBENCH_SANITIZE=ON \
  -DRECONBENCH_BENCH=OFF >/dev/null
# test_recon is not in the list: UBSan stops in Eigen 3.4's own SSE code for complex<float>
# (pset1<Packet2cf> loads 8 bytes with _mm_load_sd from a 4-byte-aligned address) inside the
# ESPIRiT eigendecomposition, before any of our code can be checked there.
targets=(test_core test_fft test_io test_sampling test_eval test_sim test_challenge test_server
         test_report)
export RECONBENCH_VALIDATOR=${RECONBENCH:?set RECONBENCH to the reconbench binary}
cmake --build "$B" -j 2 --target "${targets[@]}" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
# libhdf5 1.10.8 itself leaks 424 bytes when opening a truncated file fails (reproduced
# with a plain C program); suppressed so that leaks of our own code still fail.
export LSAN_OPTIONS=suppressions=$SRC/tests/sanitizers/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  # Skip tests that shell out to python oracles: the sanitizer run is about our own code.
  "$B/tests/$t" --gtest_filter='-*Oracle*:*Numpy*' --gtest_brief=1
done
echo "sanitizers clean: ${targets[*]}"
