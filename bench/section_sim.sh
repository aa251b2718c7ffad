#!/usr/bin/env bash
# Simulator (issue 3): time per full-profile slice and volume, and peak memory.
BUILD=$1
echo "== Simulator: full profile (640x320, 16 coils) per slice / per volume, peak memory (issue 3) =="
RECONBENCH_THREADS=2 "$BUILD/bench/bench_sim" 2>&1 | grep -vE "^(-|\*\*\*)|Running|Run on|CPU Caches|L[123] |Load Average|built as DEBUG"
