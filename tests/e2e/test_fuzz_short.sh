#!/usr/bin/env bash
# Short libFuzzer run of every fuzz target (fuzz/, README "Fuzzing"): configures and builds the
# fuzz tree with Debian's clang-16 in $RECONBENCH_BUILD_DIR/fuzz (ASan + UBSan + libFuzzer;
# only the libraries the parsers live in), regenerates the seeds from reconbench's writers,
# and runs each target for FUZZ_SHORT_SECONDS (default 20). Any crash, sanitizer report,
# leak, uncaught non-UserError exception, per-input timeout, server 5xx or hang fails the
# test; run_fuzz.sh prints the reproducer path and the command that replays it.
set -euo pipefail
SRC=$RECONBENCH_SOURCE_DIR
B=$RECONBENCH_BUILD_DIR/fuzz
SECS=${FUZZ_SHORT_SECONDS:-20}
command -v clang++-16 >/dev/null || { echo "clang++-16 missing: run scripts/install-deps"; exit 1; }
start=$(date +%s)
CC=clang-16 CXX=clang++-16 cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DRECONBENCH_FUZZ=ON \
  -DRECONBENCH_WERROR=ON >/dev/null
cmake --build "$B" -j 2 --target fuzz_targets >/dev/null
built=$(date +%s)
echo "fuzz tree built in $((built - start)) s"
# A fresh corpus each time: the short run checks the seeds and what 20 s of mutation reach.
rm -rf "$B/fuzz-corpus" "$B/fuzz-artifacts"
"$SRC/fuzz/run_fuzz.sh" "$B" "$SECS"
echo "fuzz targets ran in $(( $(date +%s) - built )) s"
