#!/usr/bin/env bash
# Python module (issue 22): reconbench.ssim on one 16x320x320 float32 pair beside
# fastmri.evaluate.ssim (skimage.metrics.structural_similarity per slice, data_range =
# gt.max(), averaged), in the same Debian python process, interleaved rounds, medians of
# wall and CPU time (CPU: user + sys of all threads, robust on a shared machine). reconbench
# at 1 and 2 threads (reconbench.set_num_threads). The values must agree within 1e-6 (exit 1
# otherwise).
BUILD=$1
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
echo "== Python module: reconbench.ssim vs scikit-image per slice, one 16x320x320 float32 pair, same process (issue 22) =="
PYTHONPATH="$BUILD/python" $PY - "$SRC/bench" <<'PYEOF'
import os, sys, time
import numpy as np
from skimage.metrics import structural_similarity
sys.path.insert(0, sys.argv[1])
import eval_peer
import reconbench

rng = np.random.default_rng(1)
gt = eval_peer.brain_volume(rng, 16, 320)
pred = np.abs(gt + rng.normal(0, 2e-6, gt.shape)).astype(np.float32)


def skimage_ssim():  # fastmri.evaluate.ssim
    maxval = gt.max()
    return sum(structural_similarity(gt[s], pred[s], data_range=maxval)
               for s in range(gt.shape[0])) / gt.shape[0]


def timed(f):
    w, c = time.perf_counter(), time.process_time()
    v = f()
    return v, time.perf_counter() - w, time.process_time() - c


rounds = 7
sk, rb = {"wall": [], "cpu": []}, {t: {"wall": [], "cpu": []} for t in (1, 2)}
for _ in range(rounds):
    ref, w, c = timed(skimage_ssim)
    sk["wall"].append(w)
    sk["cpu"].append(c)
    for t in (1, 2):
        reconbench.set_num_threads(t)
        got, w, c = timed(lambda: reconbench.ssim(gt, pred))
        rb[t]["wall"].append(w)
        rb[t]["cpu"].append(c)
        if abs(got - ref) > 1e-6:
            print(f"FAIL: reconbench.ssim {got!r} vs skimage {ref!r}")
            sys.exit(1)
reconbench.set_num_threads(0)
sw, sc = float(np.median(sk["wall"])), float(np.median(sk["cpu"]))
print(f"load average {os.getloadavg()[0]:.2f}; medians of {rounds} interleaved rounds")
print(f"skimage structural_similarity per slice, 1 thread: wall {sw * 1e3:8.1f} ms  CPU {sc * 1e3:8.1f} ms")
for t in (1, 2):
    w, c = float(np.median(rb[t]["wall"])), float(np.median(rb[t]["cpu"]))
    print(f"reconbench.ssim, {t} thread{'s' if t > 1 else ' '}                : wall {w * 1e3:8.1f} ms  "
          f"CPU {c * 1e3:8.1f} ms  ratio {sw / w:5.1f}x wall, {sc / c:5.1f}x CPU")
print(f"|reconbench.ssim - skimage| = {abs(got - ref):.2e} (tolerance 1e-6: OK)")
PYEOF
