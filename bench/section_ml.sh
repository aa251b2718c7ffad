#!/usr/bin/env bash
# Learned models (issue 6): CPU inference per slice of reconbench's U-Net and 12-cascade
# VarNet, and a U-Net training step, beside the same architectures in PyTorch-Python
# (Debian python3-torch), same thread count, in the same run. Ratio <= 1 means reconbench
# is no slower.
BUILD=$1
TMP=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
echo "== Learned models: reconbench (LibTorch C++) vs PyTorch-Python, 1 thread (issue 6) =="
RECONBENCH_THREADS=1 "$BUILD/bench/bench_ml" --benchmark_format=json --benchmark_out="$TMP/ml.json" >/dev/null 2>&1
read -r pu pv pt < <(RECONBENCH_THREADS=1 /usr/bin/python3 "$SRC/bench/ml_peer.py" | tail -1)
/usr/bin/python3 - "$TMP/ml.json" "$pu" "$pv" "$pt" <<'PYEOF'
import json, sys
d = {b["name"].split("/")[0]: b["real_time"] for b in json.load(open(sys.argv[1]))["benchmarks"]}
peer = dict(zip(["BM_UnetInference", "BM_VarNetInference", "BM_UnetTrainStep"], map(float, sys.argv[2:5])))
for k, label in [("BM_UnetInference", "U-Net inference, 320x320"),
                 ("BM_VarNetInference", "VarNet 12 cascades inference, 8 coils 320x320"),
                 ("BM_UnetTrainStep", "U-Net training step")]:
    print(f"{label:48s} reconbench {d[k]:8.0f} ms   PyTorch {peer[k]:8.0f} ms   ratio {d[k]/peer[k]:5.2f}")
PYEOF
