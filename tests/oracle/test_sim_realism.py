"""Oracle: `reconbench simulate --stats` on the ci profile, checked with numpy/scikit-image.

Simulates the ci profile's val and transfer splits, runs `simulate --stats DIR --stats-json`
and checks: a group per contrast and vendor, including the GE-like and Philips-like Transfer
files (masked on disk, re-simulated from the manifest), every statistic a finite number for
the fully sampled files, and, per slice of the fully sampled files, the k-space power slope,
the coil high-k energy ratio and the zero-filled 4X/8X SSIM recomputed here from the written
k-space (numpy; skimage.metrics.structural_similarity with fastMRI's settings; masks by the
numpy EquispacedMaskFractionFunc of test_sim_dataset.py). The text table flags the same
statistics the JSON lists as outside the real ranges.
"""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np
from skimage.metrics import structural_similarity

from test_sim_dataset import center_crop, equispaced_fraction_mask, header, ifft2c

RB = os.environ.get("RECONBENCH", "reconbench")


def fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def kradius(h, w):
    dy = (np.arange(h) - h // 2) / (0.5 * h)
    dx = (np.arange(w) - w // 2) / (0.5 * w)
    return np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)


def power_slope(k, pl, pr):
    """Least squares of log mean coil-combined power on log u over 16 log bins in [0.1, 0.8)."""
    p = (np.abs(k.astype(np.complex128)) ** 2).sum(0)[:, pl:pr]
    u = kradius(*k.shape[-2:])[:, pl:pr]
    edges = np.exp(np.linspace(np.log(0.1), np.log(0.8), 17))
    xs, ys = [], []
    for i in range(16):
        sel = (u >= edges[i]) & (u < edges[i + 1])
        if sel.any():
            xs.append(0.5 * (np.log(edges[i]) + np.log(edges[i + 1])))
            ys.append(np.log(p[sel].mean()))
    return np.polyfit(xs, ys, 1)[0]


def highk_fraction(x):
    e = (np.abs(fft2c(x)) ** 2)
    if e.ndim == 3:
        e = e.sum(0)
    return e[kradius(*e.shape) >= 0.25].sum() / e.sum()


class SimRealism(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = os.path.join(cls.tmp.name, "ci")
        env = dict(os.environ, RECONBENCH_PROGRESS="0")
        r = subprocess.run([RB, "simulate", "--profile", "ci", "--seed", "3", "--splits", "val,transfer",
                            "--out", cls.d, "--no-truth"], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("simulate failed: " + r.stderr)
        js = os.path.join(cls.tmp.name, "stats.json")
        r = subprocess.run([RB, "simulate", "--stats", cls.d, "--stats-json", js],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("simulate --stats failed: " + r.stderr)
        cls.table = r.stdout
        with open(js) as fh:
            cls.stats = json.load(fh)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_groups_cover_every_vendor(self):
        vendors = {g["vendor"] for g in self.stats["groups"]}
        self.assertTrue({"siemens", "ge", "philips", "all"} <= vendors, vendors)
        resim = [f for f in self.stats["files"] if f["resimulated"]]
        self.assertEqual({f["vendor"] for f in resim}, {"ge", "philips"})
        for f in self.stats["files"]:
            for s in f["slices"]:
                for k, v in s.items():
                    self.assertIsNotNone(v, (f["file"], k))
                    self.assertTrue(np.isfinite(v), (f["file"], k))
        self.assertEqual(set(self.stats["ranges"]), set(self.stats["files"][0]["median"]))

    def test_table_flags_match_json(self):
        for g in self.stats["groups"]:
            row = next(l for l in self.table.splitlines() if l.startswith(g["contrast"] + "/" + g["vendor"] + " "))
            self.assertEqual(row.count("!"), len(g["outside"]), row)
            for name in g["outside"]:
                lo, hi = self.stats["ranges"][name]
                v = g["median"][name]
                self.assertTrue(v < lo or v > hi, (g, name))

    def test_slope_highk_and_zero_filled_ssim_match_numpy(self):
        checked = 0
        for f in self.stats["files"]:
            if f["resimulated"]:
                continue
            path = os.path.join(self.d, f["file"])
            with h5py.File(path, "r") as h:
                k = h["kspace"][()]
                target = h["reconstruction_rss"][()]
                _, _, val = header(h)
            W = k.shape[-1]
            pl = W // 2 - int(val("n:encodingLimits/n:kspace_encoding_step_1/n:center"))
            pr = pl + int(val("n:encodingLimits/n:kspace_encoding_step_1/n:maximum")) + 1
            th, tw = target.shape[-2:]
            masks = {}
            for acc, cf in ((4, 0.08), (8, 0.04)):
                m, _ = equispaced_fraction_mask(os.path.basename(path), W, cf, acc)
                m[:pl] = 0
                m[pr:] = 0
                masks[acc] = m
            for s, ref in enumerate(f["slices"]):
                self.assertAlmostEqual(power_slope(k[s], pl, pr), ref["kspace_slope"], delta=1e-6)
                img = center_crop(ifft2c(k[s].astype(np.complex128)), th, tw)
                rss = np.sqrt((np.abs(img) ** 2).sum(0))
                ratio = highk_fraction(rss.astype(np.complex128)) / highk_fraction(img)
                self.assertAlmostEqual(ratio, ref["coil_highk_ratio"], delta=1e-4 * ratio)
                for acc, m in masks.items():
                    c = min(th, tw)  # evaluate.py's crop (W_t, W_t); square here
                    zf = center_crop(np.sqrt((np.abs(ifft2c(k[s] * m)) ** 2).sum(0)), c, c)
                    gt = center_crop(target[s].astype(np.float64), c, c)
                    ssim = structural_similarity(gt, zf, data_range=center_crop(target, c, c).max())
                    self.assertAlmostEqual(ssim, ref[f"zf_ssim_{acc}x"], delta=1e-5)
                checked += 1
        self.assertGreaterEqual(checked, 4)


if __name__ == "__main__":
    unittest.main()
