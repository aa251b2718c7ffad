#!/usr/bin/env bash
# `make bench`: every benchmark, each beside its peer measured in the same run, printed as
# ratios. Run it alone on the machine (2 cores: threads collapse under shared load).
set -uo pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export RECONBENCH_PROGRESS=0

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
timeit() {  # median wall seconds of N runs of a command
  local n=$1; shift
  for _ in $(seq "$n"); do
    local t0=$(date +%s.%N); "$@" >/dev/null 2>&1; local t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}

echo "== FFT + RSS, one 16-coil 640x320 slice (issue 2) =="
"$BUILD/bench/bench_fft" --benchmark_format=json --benchmark_out="$TMP/fft.json" >/dev/null 2>&1
rb1=$($PY -c "import json;d=json.load(open('$TMP/fft.json'));print([b['real_time']/1e3 for b in d['benchmarks'] if b['name'].endswith('/1') or b['name'].endswith('/1/min_time:1.000')][0])")
rb2=$($PY -c "import json;d=json.load(open('$TMP/fft.json'));print([b['real_time']/1e3 for b in d['benchmarks'] if '/2' in b['name']][0])")
np_t=$(OMP_NUM_THREADS=1 $PY "$SRC/bench/fft_peer.py" "$TMP/k")
bart_fft=$(OMP_NUM_THREADS=1 timeit 5 bart fft -u -i 3 "$TMP/k" "$TMP/img")
bart fft -u -i 3 "$TMP/k" "$TMP/img" >/dev/null 2>&1
bart_rss=$(OMP_NUM_THREADS=1 timeit 5 bart rss 8 "$TMP/img" "$TMP/r")
$PY - "$rb1" "$rb2" "$np_t" "$bart_fft" "$bart_rss" <<'PYEOF'
import sys
rb1, rb2, npt, bf, br = map(float, sys.argv[1:])
bart = bf + br
print(f"reconbench ifft2c+rss (in process) 1 thread : {rb1*1e3:8.1f} ms")
print(f"reconbench ifft2c+rss (in process) 2 threads: {rb2*1e3:8.1f} ms")
print(f"numpy fftshift/ifftn/ifftshift + rss       : {npt*1e3:8.1f} ms   ratio numpy/reconbench(1T) = {npt/rb1:5.2f}x")
print(f"bart fft -u -i 3 + bart rss 8 (processes)  : {bart*1e3:8.1f} ms   ratio bart/reconbench(1T)  = {bart/rb1:5.2f}x  (bart includes process start and .cfl I/O)")
PYEOF

# Further sections (eval, recon, sim, ml, server) are appended by their modules' scripts.
for s in "$SRC"/bench/section_*.sh; do
  [ -e "$s" ] || continue
  echo
  bash "$s" "$BUILD" "$TMP"
done

echo
echo "== Challenge server: wrk on the leaderboard, evaluation throughput 1 vs 2 workers (issue 7) =="
bash "$SRC/bench/bench_server.sh" "$BUILD"
