#!/usr/bin/env bash
# Simulator (issues 3, 17): in-process time per full-profile slice and volume, per
# small-profile slice through simulate_slices, peak memory; the wall time of
# `simulate --profile ci` beside a baseline binary in the same run (set
# RECONBENCH_SIM_BASELINE to a reconbench built from an older checkout, e.g. main before a
# simulator change); and the realism statistics of the ci data beside the real ranges.
BUILD=$1
TMP=${2:-$(mktemp -d)}
echo "== Simulator: full profile (640x320, 16 coils) per slice / per volume, small-profile slice, peak memory (issues 3, 17) =="
RECONBENCH_THREADS=2 "$BUILD/bench/bench_sim" 2>&1 | grep -vE "^(-|\*\*\*)|Running|Run on|CPU Caches|L[123] |Load Average|built as DEBUG"
# Wall time, median of 3 runs, 1 thread (the ci profile: 9 volumes, 36 slices).
sim_wall() {
  for r in 1 2 3; do
    rm -rf "$TMP/sim_ci"
    local t0 t1
    t0=$(date +%s.%N)
    RECONBENCH_PROGRESS=0 RECONBENCH_THREADS=1 "$1" simulate --profile ci --seed 1 --out "$TMP/sim_ci" --no-truth >/dev/null 2>&1
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | sort -n | sed -n 2p
}
new=$(sim_wall "$BUILD/reconbench")
if [ -n "${RECONBENCH_SIM_BASELINE:-}" ] && [ -x "$RECONBENCH_SIM_BASELINE" ]; then
  old=$(sim_wall "$RECONBENCH_SIM_BASELINE")
  printf "simulate --profile ci, 1 thread: %.1f s (this build) vs %.1f s (%s): ratio %.2fx\n" \
    "$new" "$old" "$RECONBENCH_SIM_BASELINE" "$(echo "$new / $old" | bc -l)"
else
  printf "simulate --profile ci, 1 thread: %.1f s (set RECONBENCH_SIM_BASELINE for a baseline)\n" "$new"
fi
rm -rf "$TMP/sim_ci"
RECONBENCH_PROGRESS=0 RECONBENCH_THREADS=1 "$BUILD/reconbench" simulate --profile ci --seed 1 --out "$TMP/sim_ci" --no-truth >/dev/null 2>&1
echo
RECONBENCH_PROGRESS=0 RECONBENCH_THREADS=2 "$BUILD/reconbench" simulate --stats "$TMP/sim_ci"
