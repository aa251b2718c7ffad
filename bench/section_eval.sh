#!/usr/bin/env bash
# Evaluation (issue 4): reconbench beside fastMRI's evaluate.py with scikit-image, on the same
# directory of volumes, in the same run, interleaved so both see the same machine load.
#   peer        bench/eval_peer.py's evaluate(): evaluate.py's loop (h5py read, centre crop,
#               skimage SSIM per slice, PSNR, NMSE), one thread, timed in its own process
#   reconbench  bench_eval --eval-dir: evaluate_directories, the library call behind
#               `reconbench eval` (HDF5 reads, crop, metrics, summaries), 1 and 2 threads;
#               "plain" = evaluate.py's metrics, "masked" = plus the background-masked ones,
#               "read floor" = the same HDF5 reads and one pass over the data, no metrics
#               (issue 19's target: eval within 1.5x of it at 2 threads)
# Ratios use wall time (the issue's target) and CPU time (user + sys, all threads; robust on
# a shared machine). Throughput = bytes of images read (GT + prediction datasets) / wall time.
# Target: >= 50x faster than scikit-image, numbers within 1e-6 (checked; exit 1 otherwise).
BUILD=$1
TMP=${2:-$(mktemp -d)}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
DATA="$TMP/eval_bench"
echo "== Evaluation: 8 volumes 16x320x320 float32, reconbench vs evaluate.py + scikit-image (issue 4) =="
"$BUILD/bench/bench_eval" --benchmark_min_time=0.5 2>/dev/null | grep -E "^BM_"
echo "scikit-image SSIM of one 16x320x320 volume (peer of BM_SsimVolume), wall and CPU seconds: $($PY "$SRC/bench/eval_peer.py" ssim-volume)"
rm -rf "$DATA"
$PY "$SRC/bench/eval_peer.py" make-data "$DATA" --volumes 8 --slices 16 --size 320
$PY - "$SRC/bench" "$DATA" "$BUILD/bench/bench_eval" <<'PYEOF'
import json, os, subprocess, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import eval_peer
data, bench = sys.argv[2], sys.argv[3]
gt, pred = os.path.join(data, "gt"), os.path.join(data, "pred")
nbytes = eval_peer.image_bytes(data)
rounds = 3
peer_wall, peer_cpu, rb = [], [], {}
for _ in range(rounds):
    w, c = time.perf_counter(), time.process_time()
    ref = eval_peer.evaluate(gt, pred)
    peer_wall.append(time.perf_counter() - w)
    peer_cpu.append(time.process_time() - c)
    out = json.loads(subprocess.run([bench, "--eval-dir", data, "--threads", "1,2", "--repeats", "5"],
                                    check=True, capture_output=True, text=True).stdout)
    for variant, per in out.items():
        for t, r in per.items():
            d = rb.setdefault((variant, int(t)), {"wall": [], "cpu": [], "volumes": r["volumes"]})
            d["wall"] += r["wall"]
            d["cpu"] += r["cpu"]
pw, pc = float(np.median(peer_wall)), float(np.median(peer_cpu))
load = os.getloadavg()[0]
print(f"data: {len(ref)} volumes, {nbytes / 1e6:.1f} MB of images (GT + predictions); load average {load:.2f}")
print(f"evaluate.py + scikit-image, 1 thread          : wall {pw * 1e3:8.1f} ms  CPU {pc * 1e3:8.1f} ms  "
      f"(median of {rounds})")
worst, best_wall = 0.0, 0.0
floor = {t: float(np.median(d["wall"])) for (v, t), d in rb.items() if v == "read"}
for (variant, t), d in sorted(rb.items(), key=lambda kv: ({"read": 0, "plain": 1}.get(kv[0][0], 2), kv[0][1])):
    w, c = float(np.median(d["wall"])), float(np.median(d["cpu"]))
    label = {"read": "read floor (no metrics)", "plain": "evaluate.py metrics    "}.get(variant, "+ masked metrics       ")
    vs_floor = "" if variant == "read" else f"  {w / floor[t]:4.2f}x the read floor"
    print(f"reconbench {label}, {t} thread{'s' if t > 1 else ' '} : wall {w * 1e3:8.1f} ms  CPU {c * 1e3:8.1f} ms  "
          f"ratio {pw / w:5.1f}x wall, {pc / c:5.1f}x CPU  {nbytes / w / 1e9:5.2f} GB/s of images read{vs_floor}")
    if variant == "read":
        continue
    if variant == "plain":
        best_wall = max(best_wall, pw / w)
    got = {v["file"]: v for v in d["volumes"]}
    for name, r in ref.items():
        for k in ("ssim", "psnr", "nmse"):
            worst = max(worst, abs(got[name][k] - r[k]))
print(f"largest |difference| of SSIM/PSNR/NMSE vs evaluate.py: {worst:.2e} "
      f"({'OK' if worst <= 1e-6 else 'FAIL'}: tolerance 1e-6)")
print(f"target >= 50x (wall, evaluate.py metrics): {'met' if best_wall >= 50 else 'NOT met'} "
      f"(best {best_wall:.1f}x; see the thread counts above)")
sys.exit(0 if worst <= 1e-6 else 1)
PYEOF
rc=$?
if [ -x "$BUILD/reconbench" ]; then
  echo "-- the same as processes, as a user runs them (process start included, masked metrics, JSON output):"
  $PY "$SRC/bench/eval_peer.py" compare --reconbench "$BUILD/reconbench" --data "$DATA" | grep -v "^largest"
fi
rm -rf "$DATA"
exit $rc
