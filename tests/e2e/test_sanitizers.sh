#!/usr/bin/env bash
# The file readers and metric code under ASan+UBSan: builds the io/sampling/eval unit tests
# (which feed truncated, malformed and absurd files) with -fsanitize=address,undefined in a
# separate build tree and runs them. Any sanitizer report fails the test.
set -euo pipefail
SRC=$RECONBENCH_SOURCE_DIR
B=$RECONBENCH_BUILD_DIR/asan
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECONBENCH_SANITIZE=ON \
  -DRECONBENCH_BENCH=OFF >/dev/null
targets=(test_core test_fft test_io)
for t in test_sampling test_eval; do
  [ -d "$SRC/tests/unit/${t#test_}" ] && targets+=("$t")
done
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
