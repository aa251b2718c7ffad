#!/usr/bin/env bash
# Learned models (issues 6, 18): CPU inference per slice of reconbench's U-Net and 12-cascade
# VarNet, a U-Net training step, and the VarNet training step (fastMRI's model, 8 coils
# 320x320, SSIM loss, Adam; slices/s and peak RSS, each side in its own process) beside the
# same architectures in PyTorch-Python (Debian python3-torch), same input and thread count,
# in the same run. Time ratio <= 1 means reconbench is no slower; speed = 1 / ratio. On a
# shared machine compare the CPU times of the VarNet training row (1 thread each).
BUILD=$1
TMP=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
echo "== Learned models: reconbench (LibTorch C++) vs PyTorch-Python, 1 thread (issues 6, 18) =="
RECONBENCH_THREADS=1 "$BUILD/bench/bench_ml" --benchmark_filter='^BM_(Unet|VarNetInference)' \
  --benchmark_format=json --benchmark_out="$TMP/ml.json" >/dev/null 2>&1
RECONBENCH_THREADS=1 "$BUILD/bench/bench_ml" --benchmark_filter='^BM_VarNetTrainStep' \
  --benchmark_format=json --benchmark_out="$TMP/ml_vtrain.json" >/dev/null 2>&1
read -r pu pv pt < <(RECONBENCH_THREADS=1 /usr/bin/python3 "$SRC/bench/ml_peer.py" | tail -1)
read -r pvt pvc prss < <(RECONBENCH_THREADS=1 /usr/bin/python3 "$SRC/bench/ml_peer.py" varnet_train | tail -1)
/usr/bin/python3 - "$TMP/ml.json" "$TMP/ml_vtrain.json" "$pu" "$pv" "$pt" "$pvt" "$prss" "$pvc" <<'PYEOF'
import json, sys
bs = json.load(open(sys.argv[1]))["benchmarks"] + json.load(open(sys.argv[2]))["benchmarks"]
d = {b["name"].split("/")[0]: b for b in bs}
peer = dict(zip(["BM_UnetInference", "BM_VarNetInference", "BM_UnetTrainStep", "BM_VarNetTrainStep"],
                map(float, sys.argv[3:7])))
for k, label in [("BM_UnetInference", "U-Net inference, 320x320"),
                 ("BM_VarNetInference", "VarNet 12 cascades inference, 8 coils 320x320"),
                 ("BM_UnetTrainStep", "U-Net training step"),
                 ("BM_VarNetTrainStep", "VarNet 12 cascades training step, 8 coils 320x320")]:
    t = d[k]["real_time"]
    print(f"{label:52s} reconbench {t:8.0f} ms   PyTorch {peer[k]:8.0f} ms   ratio {t/peer[k]:5.2f}")
v = d["BM_VarNetTrainStep"]
print(f"{'VarNet training: slices/s, peak RSS':52s} reconbench {1e3 / v['real_time']:.3f} sl/s "
      f"{v['peak_rss_mib']:.0f} MiB   PyTorch {1e3 / peer['BM_VarNetTrainStep']:.3f} sl/s "
      f"{float(sys.argv[7]):.0f} MiB   speed {peer['BM_VarNetTrainStep'] / v['real_time']:.2f}x "
      f"(CPU time per step {v['cpu_time']:.0f} vs {float(sys.argv[8]):.0f} ms: "
      f"{float(sys.argv[8]) / v['cpu_time']:.2f}x)")
PYEOF
# The 2020 finalists' designs (issue 20): one 16-coil 640x320 slice through `recon`'s path
# (oversampling removed, 8 virtual coils, GRAPPA for *-grappa), next to the VarNet's.
echo "== Finalists' designs: inference per 16-coil 640x320 slice, RECONBENCH_THREADS=${RECONBENCH_THREADS:-1} (issue 20) =="
RECONBENCH_THREADS=${RECONBENCH_THREADS:-1} "$BUILD/bench/bench_ml" --benchmark_filter='^BM_SliceInference' \
  --benchmark_format=json --benchmark_out="$TMP/ml_finalists.json" >/dev/null 2>&1
/usr/bin/python3 - "$TMP/ml_finalists.json" <<'PYEOF'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    name = b["name"].split("/")[0].replace("BM_SliceInference/", "")
    print(f"{name:24s} {b['real_time']:8.0f} ms per slice   {int(b['parameters']):>11,d} parameters")
PYEOF
