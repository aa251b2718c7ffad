#!/usr/bin/env bash
# Classical methods on the built-in simulated data (ci profile): at 4X, SENSE, GRAPPA and
# both CS variants beat zero-filled on NMSE and on SSIM (fastMRI evaluation, `reconbench
# eval`); at 8X (4 % centre: 6 of 128 phase lines, fewer than BART's 6x6 ESPIRiT kernel
# needs) SENSE and both CS variants do too; and the vendor normalisation (normalize=1) keeps
# zero-filled on the input scale. GRAPPA is not held to 8X on the ci profile's 4-5 coils
# (README, Known limits).
set -euo pipefail
RB=${RECONBENCH:?set RECONBENCH to the reconbench binary}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$RB" simulate --profile ci --seed 1 --splits test --out "$TMP/data" >/dev/null
IN="$TMP/data/multicoil_test"
GT="$TMP/data/ground_truth/multicoil_test"
"$RB" recon --method zero-filled "$IN" --out "$TMP/zero-filled"
"$RB" recon --method zero-filled -p normalize=1 "$IN" --out "$TMP/zf-norm"
"$RB" recon --method grappa "$IN" --out "$TMP/grappa"
for m in sense cs-wavelet cs-tv; do
  "$RB" recon --method "$m" "$IN" --out "$TMP/$m"
done
for a in 4 8; do
  for m in zero-filled zf-norm grappa sense cs-wavelet cs-tv; do
    "$RB" eval --target "$GT" --predictions "$TMP/$m" --acceleration $a --json > "$TMP/$m.$a.json"
  done
done
# The text table computes the masked metrics only with --masked: without it, the same
# evaluate.py numbers as --json and no masked column; with it, the masked column.
RECONBENCH_PROGRESS=0 "$RB" eval --target "$GT" --predictions "$TMP/sense" > "$TMP/plain.txt"
RECONBENCH_PROGRESS=0 "$RB" eval --target "$GT" --predictions "$TMP/sense" --masked > "$TMP/masked.txt"
# (`! cmd` would not stop a set -e script: spelled out so that a masked column fails the test)
if grep -q SSIM_masked "$TMP/plain.txt"; then echo "FAIL: eval without --masked printed the masked column"; exit 1; fi
grep -q SSIM_masked "$TMP/masked.txt"
/usr/bin/python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
js = {v["file"]: v for a in (4, 8) for v in json.load(open(f"{t}/sense.{a}.json"))["volumes"]}
rows = [l.split() for l in open(f"{t}/plain.txt") if l.startswith("file_brain")]
assert len(rows) == len(js), (rows, list(js))
for r in rows:
    assert abs(float(r[4]) - js[r[0]]["ssim"]) < 6e-5 and abs(float(r[6]) - js[r[0]]["nmse"]) < 6e-5, (r, js[r[0]])
PY
/usr/bin/python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
def metrics(m, a):
    d = json.load(open(f"{t}/{m}.{a}.json"))
    vols = [v for v in d["volumes"] if v.get("ssim") is not None]
    assert vols, (m, d)
    n = sum(v["nmse"] for v in vols) / len(vols)
    s = sum(v["ssim"] for v in vols) / len(vols)
    return n, s
bad = []
for a, methods in [(4, ["grappa", "sense", "cs-wavelet", "cs-tv"]), (8, ["sense", "cs-wavelet", "cs-tv"])]:
    zf = metrics("zero-filled", a)
    print(f"{a}X zero-filled NMSE {zf[0]:.4f} SSIM {zf[1]:.4f}")
    zn = metrics("zf-norm", a)
    assert abs(zn[0] - zf[0]) < 1e-3 and abs(zn[1] - zf[1]) < 1e-3, ("normalize=1 changed zero-filled", zn, zf)
    for m in methods:
        n, s = metrics(m, a)
        print(f"{a}X {m:12s} NMSE {n:.4f} SSIM {s:.4f}")
        if not (n < zf[0] and s > zf[1]):
            bad.append(f"{m} at {a}X")
assert not bad, f"not better than zero-filled: {bad}"
print("ok")
PY
echo "test_recon_sim: ok"
