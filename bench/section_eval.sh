#!/usr/bin/env bash
# Evaluation (issue 4): reconbench SSIM/PSNR/NMSE beside scikit-image as fastMRI's
# evaluate.py uses it, in the same run; compare also checks the numbers agree to 1e-6.
BUILD=$1
SRC=$(cd "$(dirname "$0")/.." && pwd)
echo "== Evaluation: SSIM of a 16x320x320 volume, reconbench vs scikit-image (issue 4) =="
"$BUILD/bench/bench_eval" --benchmark_min_time=0.5 2>/dev/null | grep -E "^BM_|Benchmark"
/usr/bin/python3 "$SRC/bench/eval_peer.py" ssim-volume
/usr/bin/python3 "$SRC/bench/eval_peer.py" compare --reconbench "$BUILD/reconbench"
