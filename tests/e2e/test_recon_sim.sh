#!/usr/bin/env bash
# Classical methods on the built-in simulated data (ci profile): at 4X, SENSE, GRAPPA and
# both CS variants beat zero-filled on NMSE and on SSIM (fastMRI evaluation, `reconbench
# eval`), and the vendor normalisation (normalize=1) keeps zero-filled on the input scale.
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
# ESPIRiT crop 0 keeps the background, which SSIM against the noisy RSS counts.
for m in sense cs-wavelet cs-tv; do
  "$RB" recon --method "$m" -p crop=0 "$IN" --out "$TMP/$m"
done
for m in zero-filled zf-norm grappa sense cs-wavelet cs-tv; do
  "$RB" eval --target "$GT" --predictions "$TMP/$m" --acceleration 4 --json > "$TMP/$m.json"
done
/usr/bin/python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
def metrics(m):
    d = json.load(open(f"{t}/{m}.json"))
    vols = [v for v in d["volumes"] if v.get("ssim") is not None]
    assert vols, (m, d)
    n = sum(v["nmse"] for v in vols) / len(vols)
    s = sum(v["ssim"] for v in vols) / len(vols)
    return n, s
zf = metrics("zero-filled")
print(f"zero-filled NMSE {zf[0]:.4f} SSIM {zf[1]:.4f}")
zn = metrics("zf-norm")
assert abs(zn[0] - zf[0]) < 1e-3 and abs(zn[1] - zf[1]) < 1e-3, ("normalize=1 changed zero-filled", zn, zf)
bad = []
for m in ["grappa", "sense", "cs-wavelet", "cs-tv"]:
    n, s = metrics(m)
    print(f"{m:12s} NMSE {n:.4f} SSIM {s:.4f}")
    if not (n < zf[0] and s > zf[1]):
        bad.append(m)
assert not bad, f"not better than zero-filled at 4X: {bad}"
print("ok")
PY
echo "test_recon_sim: ok"
