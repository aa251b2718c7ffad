#!/usr/bin/env bash
# The BART side of bench_recon (issue 5): Debian's bart on the very slice bench_recon
# measures (exported as .cfl), median whole-process wall seconds of 3 runs, 1 and 2 threads.
# Prints one line per measurement: "<name> <threads> <seconds>".
#   usage: bench/recon_peer.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BUILD/bench/bench_recon" --export-cfl "$TMP"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
timeit() {
  for _ in 1 2 3; do
    local t0=$(date +%s.%N); "$@" >/dev/null 2>&1; local t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}
for t in 1 2; do
  export OMP_NUM_THREADS=$t
  echo "ecalib_m1 $t $(timeit bart ecalib -m1 "$TMP/k" "$TMP/s1")"
  echo "ecalib_m2 $t $(timeit bart ecalib "$TMP/k" "$TMP/s2")"
  w50=$(timeit bart pics -S -R W:7:0:0.005 -i 50 "$TMP/k" "$TMP/sens" "$TMP/x")
  w100=$(timeit bart pics -S -R W:7:0:0.005 -i 100 "$TMP/k" "$TMP/sens" "$TMP/x")
  echo "pics_wavelet_per_iter $t $(echo "($w100 - $w50) / 50" | bc -l)"
  l10=$(timeit bart pics -S -l2 -r 0.01 -i 10 "$TMP/k" "$TMP/sens" "$TMP/x")
  l40=$(timeit bart pics -S -l2 -r 0.01 -i 40 "$TMP/k" "$TMP/sens" "$TMP/x")
  echo "pics_l2_per_iter $t $(echo "($l40 - $l10) / 30" | bc -l)"
done
