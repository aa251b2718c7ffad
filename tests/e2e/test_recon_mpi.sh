#!/usr/bin/env bash
# reconbench recon end to end: small challenge-style files (written with h5py), every
# classical method runs and writes fastMRI reconstruction files; under
# `mpirun -n 2` every output exists exactly once and equals the single-process output.
set -euo pipefail
RB=${RECONBENCH:?set RECONBENCH to the reconbench binary}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$TMP/in" <<'PY'
import sys, os, numpy as np, h5py
out = sys.argv[1]; os.makedirs(out)
H, W, NC = 96, 64, 6
hdr = f"""<?xml version="1.0"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
<acquisitionSystemInformation><systemVendor>SIEMENS</systemVendor><receiverChannels>{NC}</receiverChannels></acquisitionSystemInformation>
<experimentalConditions><H1resonanceFrequency_Hz>123000000</H1resonanceFrequency_Hz></experimentalConditions>
<encoding><encodedSpace><matrixSize><x>{H}</x><y>{W}</y><z>1</z></matrixSize><fieldOfView_mm><x>440</x><y>220</y><z>5</z></fieldOfView_mm></encodedSpace>
<reconSpace><matrixSize><x>48</x><y>48</y><z>1</z></matrixSize><fieldOfView_mm><x>220</x><y>220</y><z>5</z></fieldOfView_mm></reconSpace>
<encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>{W-1}</maximum><center>{W//2}</center></kspace_encoding_step_1></encodingLimits>
<trajectory>cartesian</trajectory></encoding></ismrmrdHeader>"""
def fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
rng = np.random.default_rng(3)
y, x = np.mgrid[-1:1:H*1j, -1:1:W*1j]
for f in range(3):
    S = 2 + f
    img = np.zeros((S, H, W), complex)
    for s in range(S):
        img[s] = ((x / 0.5) ** 2 + (y / (0.35 + 0.05 * s)) ** 2 < 1) * (1 + 0.3 * np.cos(4 * x))
    maps = np.stack([np.exp(-((x - np.cos(a)) ** 2 + (y - np.sin(a)) ** 2) / 1.5) * np.exp(1j * a)
                     for a in np.linspace(0, 2 * np.pi, NC, endpoint=False)])
    k = fft2c(maps[None] * img[:, None]) + 0.002 * (rng.standard_normal((S, NC, H, W)) + 1j * rng.standard_normal((S, NC, H, W)))
    mask = np.zeros(W, np.float32); mask[::4] = 1; mask[W//2 - 6:W//2 + 6] = 1
    k = (k * mask + 0.0).astype(np.complex64)
    with h5py.File(os.path.join(out, f"file_brain_AXT2_{f}.h5"), "w") as h:
        h["kspace"] = k; h["mask"] = mask; h["ismrmrd_header"] = hdr
        h.attrs["acquisition"] = "AXT2"; h.attrs["acceleration"] = 4; h.attrs["num_low_frequency"] = 12
PY
"$RB" recon --method zero-filled "$TMP/in" --out "$TMP/zero-filled"
"$RB" recon --method grappa "$TMP/in" --out "$TMP/grappa"
for m in sense cs-wavelet cs-tv; do
  "$RB" recon --method "$m" -p iter=5 "$TMP/in" --out "$TMP/$m"
done
"$RB" --threads 2 recon --method cs-wavelet -p iter=5 "$TMP/in" --out "$TMP/single"
mpirun --allow-run-as-root --oversubscribe -n 2 -x RECONBENCH_THREADS=1 \
  "$RB" recon --method cs-wavelet -p iter=5 "$TMP/in" --out "$TMP/mpi"
/usr/bin/python3 - "$TMP" <<'PY'
import sys, os, numpy as np, h5py
t = sys.argv[1]
names = sorted(os.listdir(os.path.join(t, "in")))
for m in ["zero-filled", "grappa", "sense", "cs-wavelet", "cs-tv"]:
    assert sorted(os.listdir(os.path.join(t, m))) == names, (m, os.listdir(os.path.join(t, m)))
    for n in names:
        with h5py.File(os.path.join(t, m, n), "r") as h, h5py.File(os.path.join(t, "in", n), "r") as i:
            r = h["reconstruction"]
            assert r.dtype == np.float32 and r.shape == (i["kspace"].shape[0], 48, 48), (m, n, r.shape)
            assert h.attrs["acquisition"] == "AXT2"
            assert np.isfinite(r[()]).all() and r[()].max() > 0
# mpirun: each output exactly once (no leftovers), identical to the single-process run.
assert sorted(os.listdir(os.path.join(t, "mpi"))) == names, os.listdir(os.path.join(t, "mpi"))
for n in names:
    a = h5py.File(os.path.join(t, "single", n), "r")["reconstruction"][()]
    b = h5py.File(os.path.join(t, "mpi", n), "r")["reconstruction"][()]
    assert np.array_equal(a, b), (n, np.abs(a - b).max())
print("ok")
PY
# Bad inputs: a fully sampled file without a mask is refused with its name.
/usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('$TMP/full.h5', 'w') as h: h['kspace'] = np.ones((1, 2, 8, 8), np.complex64)
"
if "$RB" recon --method zero-filled "$TMP/full.h5" --out "$TMP/bad" 2>"$TMP/err"; then
  echo "expected failure for a file without mask"; exit 1
fi
grep -q "full.h5" "$TMP/err"
grep -q "mask" "$TMP/err"
if "$RB" recon --method nope "$TMP/in" --out "$TMP/bad" 2>"$TMP/err"; then exit 1; fi
grep -q "unknown reconstruction method" "$TMP/err"
echo "test_recon_mpi: ok"
