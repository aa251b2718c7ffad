#!/usr/bin/env bash
# Classical recon (issue 5): ESPIRiT and per-iteration CS/SENSE cost of reconbench beside
# Debian's bart on the same 16-coil 640x320 R=4 slice, 1 and 2 threads, as ratios.
BUILD=$1
TMP=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
echo "== Classical recon, 16 coils 640x320 R=4: reconbench vs bart (issue 5) =="
"$BUILD/bench/bench_recon" --benchmark_format=json --benchmark_out="$TMP/recon.json" >/dev/null 2>&1
bash "$SRC/bench/recon_peer.sh" "$BUILD" > "$TMP/bart.txt"
/usr/bin/python3 - "$TMP/recon.json" "$TMP/bart.txt" <<'PYEOF'
import json, re, sys
ours = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    ours[b["name"]] = b["real_time"] * scale
bart = {}
for line in open(sys.argv[2]):
    name, t, s = line.split()
    bart[(name, int(t))] = float(s)
def get(prefix, **args):
    for k, v in ours.items():
        if k.startswith(prefix) and all(f"{a}:{x}" in k for a, x in args.items()):
            return v
    return float("nan")
for t in (1, 2):
    rows = [
        ("ESPIRiT 1 map", get("BM_Espirit", maps=1, threads=t), bart.get(("ecalib_m1", t))),
        ("ESPIRiT 2 maps", get("BM_Espirit", maps=2, threads=t), bart.get(("ecalib_m2", t))),
        ("L1-wavelet FISTA / iteration",
         (get("BM_CsWavelet", threads=t, iters=30) - get("BM_CsWavelet", threads=t, iters=10)) / 20,
         bart.get(("pics_wavelet_per_iter", t))),
        ("CG-SENSE / iteration",
         (get("BM_Sense", threads=t, iters=30) - get("BM_Sense", threads=t, iters=10)) / 20,
         bart.get(("pics_l2_per_iter", t))),
    ]
    for name, o, b in rows:
        r = b / o if (b and o == o and o > 0) else float("nan")
        print(f"{t} thread(s)  {name:30s} reconbench {o*1e3:9.1f} ms   bart {b*1e3 if b else float('nan'):9.1f} ms   bart/reconbench {r:5.2f}x")
print("(bart ESPIRiT rows are whole-process wall time incl. .cfl I/O; iteration rows are differences, so fixed costs cancel)")
PYEOF
