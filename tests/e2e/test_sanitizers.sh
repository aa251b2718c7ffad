#!/usr/bin/env bash
# All eleven unit suites under ASan+UBSan: the readers (truncated, malformed and absurd
# files), metrics, simulator, classical recon (ESPIRiT, GRAPPA, SENSE/CS, operators), the
# LibTorch models and pipeline (ml), challenge store/queue/sandbox, HTTP server and report,
# built with -fsanitize=address,undefined in a separate build tree. Any sanitizer report fails
# the test. The sandboxed validator child runs the uninstrumented reconbench
# (RECONBENCH_VALIDATOR), as in test_tsan: the sanitizers watch the server side.
# LibTorch (Debian's, uninstrumented) needs no suppression: ASan's allocator and leak check
# and UBSan's checks of our code run over test_ml clean. ASan cannot see overflows inside
# LibTorch's own kernels (not compiled with ASan), only those in our code.
set -euo pipefail
SRC=$RECONBENCH_SOURCE_DIR
B=$RECONBENCH_BUILD_DIR/asan
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECONBENCH_SANITIZE=ON \
  -DRECONBENCH_BENCH=OFF >/dev/null
# RECONBENCH_SANITIZE builds Eigen scalar (EIGEN_DONT_VECTORIZE, CMakeLists.txt): Eigen 3.4's
# SSE pset1<Packet2cf> loads a 4-byte-aligned complex<float> temporary of its own with
# _mm_load_sd, which UBSan stops on inside the ESPIRiT eigendecomposition (test_recon).
targets=(test_core test_fft test_io test_sampling test_eval test_sim test_recon test_ml
         test_challenge test_server test_report)
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
