#!/usr/bin/env bash
# ThreadSanitizer over the code that runs threads: the parallel_for pool (test_core, incl.
# nested and concurrent regions), the reconstruction kernels on 2 threads (test_recon:
# ESPIRiT, GRAPPA, SENSE/CS solvers, wavelet and FFT passes on the pool), the metrics over
# slices and files (test_eval), the job queue with
# leases and heartbeat threads (test_challenge) and the HTTP server with its request thread
# pool, in-process workers, leaderboard cache and auth rate limiter (test_server, incl. a
# concurrent clients + 2 workers stress). Built with
# -DRECONBENCH_TSAN=ON in a separate tree; any data race or lock-order report fails.
#
# The sandboxed validator is a child process (reconbench validate-child under RLIMIT_AS,
# which TSan's shadow memory cannot live under): it is the uninstrumented $RECONBENCH, so
# TSan watches the server side only. Suppressions: tests/sanitizers/tsan.supp (third-party
# libraries only, each documented there).
set -euo pipefail
SRC=$RECONBENCH_SOURCE_DIR
B=$RECONBENCH_BUILD_DIR/tsan
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECONBENCH_TSAN=ON \
  -DRECONBENCH_BENCH=OFF >/dev/null
targets=(test_core test_recon test_eval test_challenge test_server)
t0=$SECONDS
cmake --build "$B" -j 2 --target "${targets[@]}" >/dev/null
echo "tsan build: $((SECONDS - t0)) s"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SRC/tests/sanitizers/tsan.supp"
export RECONBENCH_VALIDATOR=${RECONBENCH:?set RECONBENCH to the (uninstrumented) reconbench binary}
for t in "${targets[@]}"; do
  t1=$SECONDS
  # Oracle tests shell out to python; PostgreSQL engines need a server this test does not start.
  # ctest runs every test with RECONBENCH_THREADS=1; here the kernels must really use threads.
  RECONBENCH_THREADS=2 "$B/tests/$t" --gtest_filter='-*Oracle*:*Numpy*:*postgres*' --gtest_brief=1 \
    >"$B/$t.tsan.log" 2>&1 || { tail -80 "$B/$t.tsan.log"; echo "FAIL: $t under TSan"; exit 1; }
  if grep -q "ThreadSanitizer" "$B/$t.tsan.log"; then
    grep -A30 "ThreadSanitizer" "$B/$t.tsan.log" | head -80; echo "FAIL: TSan report in $t"; exit 1
  fi
  echo "$t: clean under TSan ($((SECONDS - t1)) s)"
done
echo "tsan clean: ${targets[*]}"
