"""Shipped weights (models/unet_small.pt, models/varnet_small.pt, models/unet-grappa_small.pt,
models/varnet-grappa_small.pt) beat zero-filled SSIM (and the GRAPPA-initialised U-Net and
VarNet beat GRAPPA, issue 18) on
held-out simulated test files: a fresh `reconbench simulate --profile ci` with a seed the
weights never saw, `reconbench recon` with each method, SSIM computed here with numpy exactly
as fastMRI's evaluate.py (crop to (W_t, W_t), 7x7 box window, sample covariance, data range =
max of the ground-truth volume, mean over slices then volumes).
"""
import glob
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RB = os.environ["RECONBENCH"]
SRC = os.environ["RECONBENCH_SOURCE_DIR"]


def run(*args):
    r = subprocess.run([RB, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr}")


def box(x, w=7):
    c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), 0), 1)
    return (c[w:, w:] - c[:-w, w:] - c[w:, :-w] + c[:-w, :-w]) / (w * w)


def ssim(x, y, r):
    x, y = x.astype(np.float64), y.astype(np.float64)
    c1, c2, n = (0.01 * r) ** 2, (0.03 * r) ** 2, 49 / 48
    ux, uy = box(x), box(y)
    vx, vy = n * (box(x * x) - ux * ux), n * (box(y * y) - uy * uy)
    vxy = n * (box(x * y) - ux * uy)
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return s.mean()


def crop(v, c):
    h, w = v.shape[-2:]
    return v[..., (h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]


def score(gt_dir, rec_dir):
    vals = []
    for f in sorted(glob.glob(os.path.join(gt_dir, "*.h5"))):
        with h5py.File(f, "r") as h:
            gt = h["reconstruction_rss"][()]
        with h5py.File(os.path.join(rec_dir, os.path.basename(f)), "r") as h:
            rec = h["reconstruction"][()]
        c = gt.shape[-1]
        gt, rec = crop(gt, c), crop(rec, c)
        r = gt.max()
        vals.append(np.mean([ssim(gt[s], rec[s], r) for s in range(gt.shape[0])]))
    return float(np.mean(vals)), len(vals)


def main():
    tmp = tempfile.mkdtemp(prefix="rb_ml_shipped_")
    data = os.path.join(tmp, "ci")
    run("simulate", "--profile", "ci", "--seed", "9", "--out", data)
    results = {}
    for split in ("multicoil_test", "transfer_challenge"):
        gt = os.path.join(data, "ground_truth", split)
        for method in ("zero-filled", "grappa", "unet", "varnet", "unet-grappa", "varnet-grappa"):
            args = ["recon", "--method", method, os.path.join(data, split), "--out",
                    os.path.join(tmp, split, method)]
            if method not in ("zero-filled", "grappa"):
                args += ["--weights", os.path.join(SRC, "models", f"{method}_small.pt")]
            run(*args)
            results[(split, method)] = score(gt, os.path.join(tmp, split, method))
            print(f"{split:20s} {method:12s} SSIM {results[(split, method)][0]:.4f} "
                  f"({results[(split, method)][1]} volumes)")
    for split in ("multicoil_test", "transfer_challenge"):
        zf = results[(split, "zero-filled")][0]
        for method in ("unet", "varnet", "unet-grappa", "varnet-grappa"):
            got = results[(split, method)][0]
            assert got > zf + 0.01, f"{split}: {method} SSIM {got:.4f} does not beat zero-filled {zf:.4f}"
        grappa = results[(split, "grappa")][0]
        for method in ("unet-grappa", "varnet-grappa"):
            got = results[(split, method)][0]
            assert got > grappa + 0.01, f"{split}: {method} SSIM {got:.4f} does not beat GRAPPA {grappa:.4f} by 0.01"
    print("shipped weights beat zero-filled; unet-grappa and varnet-grappa beat GRAPPA")


if __name__ == "__main__":
    main()
