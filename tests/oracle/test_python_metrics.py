#!/usr/bin/python3
"""Oracle: the Python module's metrics (`import reconbench`) against fastMRI's evaluate.py
computed here with scikit-image/numpy, and against `reconbench eval --json` on the same files.

  ssim/psnr/nmse/mse   fastmri.evaluate's functions (no crop, maxval = gt.max() unless given):
                       within 1e-6 of skimage in float32 (evaluate.py today), 1e-9 of float64
  volume_metrics,      `reconbench eval`'s per-volume numbers (crop, masked variants):
  *_masked, evaluate   equal to the CLI's JSON on the same files
Errors are ValueErrors with the library's messages.
"""
import json
import os
import subprocess
import tempfile
import tracemalloc
import unittest

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import reconbench as rb
from test_eval_metrics import brain_like, write_recon, write_target

RB = os.environ.get("RECONBENCH", "reconbench")


def evaluate_py(gt, pred, maxval=None, dtype=np.float32):
    """fastmri/evaluate.py's ssim, psnr, nmse, mse on whole volumes (no crop)."""
    gt, pred = gt.astype(dtype), pred.astype(dtype)
    if maxval is None:
        maxval = gt.max()
    ssim = sum(structural_similarity(gt[s], pred[s], data_range=maxval)
               for s in range(gt.shape[0])) / gt.shape[0]
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(gt, pred, data_range=maxval)
    nmse = np.linalg.norm(gt - pred) ** 2 / np.linalg.norm(gt) ** 2
    mse = np.mean((gt.astype(np.float64) - pred.astype(np.float64)) ** 2)
    return dict(ssim=float(ssim), psnr=float(psnr), nmse=float(nmse), mse=float(mse))


def cases():
    rng = np.random.default_rng(22)
    gt = brain_like(rng, 3, 320, 320)
    yield "brain 320", gt, np.abs(gt + rng.normal(0, 3e-6, gt.shape)).astype(np.float32)
    gt = brain_like(rng, 2, 64, 48)  # non-square: evaluate.py's functions do not crop
    yield "brain 64x48", gt, (0.9 * gt + rng.normal(0, 5e-6, gt.shape)).astype(np.float32)
    gt = rng.random((2, 37, 29)).astype(np.float32)
    yield "random odd", gt, (gt + rng.random(gt.shape) * 0.3).astype(np.float32)
    gt = rng.random((2, 7, 7)).astype(np.float32)
    yield "one window", gt, rng.random((2, 7, 7)).astype(np.float32)
    yield "constant", np.full((2, 16, 16), 2.0, np.float32), np.full((2, 16, 16), 1.5, np.float32)


class Metrics(unittest.TestCase):
    def test_against_skimage_float32_and_float64(self):
        for name, gt, pred in cases():
            ref32, ref64 = evaluate_py(gt, pred), evaluate_py(gt, pred, dtype=np.float64)
            got = dict(ssim=rb.ssim(gt, pred), psnr=rb.psnr(gt, pred), nmse=rb.nmse(gt, pred),
                       mse=rb.mse(gt, pred))
            with self.subTest(case=name):
                for k in ("ssim", "psnr", "nmse"):
                    self.assertAlmostEqual(got[k], ref32[k], delta=1e-6, msg=k)
                    self.assertAlmostEqual(got[k], ref64[k], delta=1e-9 * max(1, abs(ref64[k])), msg=k)
                self.assertAlmostEqual(got["mse"], ref64["mse"], delta=1e-12 * max(1, ref64["mse"]))

    def test_maxval_and_input_conversions(self):
        rng = np.random.default_rng(3)
        gt = brain_like(rng, 2, 64, 64)
        pred = (gt * 0.95).astype(np.float32)
        ref = evaluate_py(gt, pred, maxval=2.5 * gt.max())
        self.assertAlmostEqual(rb.ssim(gt, pred, maxval=2.5 * gt.max()), ref["ssim"], delta=1e-6)
        self.assertAlmostEqual(rb.psnr(gt, pred, 2.5 * gt.max()), ref["psnr"], delta=1e-6)
        # float64, non-contiguous (transposed twice) and list inputs give the same numbers
        base = rb.ssim(gt, pred)
        self.assertEqual(rb.ssim(gt.astype(np.float64), pred.astype(np.float64)), base)
        gt_nc = np.ascontiguousarray(gt.transpose(0, 2, 1)).transpose(0, 2, 1)
        self.assertFalse(gt_nc.flags["C_CONTIGUOUS"])
        self.assertEqual(rb.ssim(gt_nc, pred), base)
        self.assertEqual(rb.nmse(gt.tolist(), pred), rb.nmse(gt, pred))

    def test_inputs_are_used_in_place_and_outputs_not_copied(self):
        rng = np.random.default_rng(6)
        gt = brain_like(rng, 16, 160, 160)  # 1.6 MB float32
        pred = (gt * 0.9).astype(np.float32)
        gt64 = gt.astype(np.float64)
        tracemalloc.start()  # numpy reports its buffers to tracemalloc
        try:
            tracemalloc.reset_peak()
            rb.ssim(gt, pred)
            in_place = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            rb.ssim(gt64, pred)  # float64 must be converted: one float32 copy
            converted = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            k = rb.fft2c(pred.astype(np.complex64))
            tracemalloc.reset_peak()
            out = rb.ifft2c(k)
            out_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(in_place, gt.nbytes // 10)
        self.assertGreater(converted, gt.nbytes)
        self.assertLess(out_peak, out.nbytes // 10)  # the library's buffer, owned by the array
        self.assertFalse(out.flags["OWNDATA"])

    def test_independent_of_thread_count(self):
        rng = np.random.default_rng(4)
        gt = brain_like(rng, 6, 96, 96)
        pred = np.abs(gt + rng.normal(0, 3e-6, gt.shape)).astype(np.float32)
        try:
            rb.set_num_threads(1)
            one = (rb.ssim(gt, pred), rb.volume_metrics(gt, pred))
            rb.set_num_threads(3)
            three = (rb.ssim(gt, pred), rb.volume_metrics(gt, pred))
        finally:
            rb.set_num_threads(0)
        self.assertEqual(one, three)

    def test_errors_are_value_errors_with_the_library_message(self):
        gt = np.ones((2, 16, 16), np.float32)
        bad = gt.copy()
        bad[1, 4, 5] = np.nan
        with self.assertRaisesRegex(ValueError, r"ssim: pred: contains NaN values at \(slice 1, y 4, x 5\)"):
            rb.ssim(gt, bad)
        with self.assertRaisesRegex(ValueError, r"ssim: gt: contains NaN values at \(slice 1, y 4, x 5\)"):
            rb.ssim(bad, gt)
        inf = gt.copy()
        inf[0, 2, 3] = -np.inf
        for f in (rb.psnr, rb.nmse, rb.mse):
            with self.assertRaisesRegex(ValueError, r"pred: contains infinite values at \(slice 0, y 2, x 3\)"):
                f(gt, inf)
        self.assertEqual(rb.psnr(gt, gt), np.inf)  # finite volumes: returned as skimage does
        with self.assertRaisesRegex(ValueError, r"gt \(2, 16, 16\) and pred \(2, 16, 15\) differ"):
            rb.psnr(gt, gt[:, :, :15])
        with self.assertRaisesRegex(ValueError, r"expected a 3-D array \[slice y x\]"):
            rb.ssim(gt[0], gt[0])
        with self.assertRaisesRegex(ValueError, "complex values"):
            rb.nmse(gt.astype(np.complex64), gt)
        with self.assertRaisesRegex(ValueError, "smaller than the 7x7 SSIM window"):
            rb.ssim(gt[:, :6, :6], gt[:, :6, :6])
        with self.assertRaisesRegex(ValueError, "data range must be positive"):
            rb.ssim(np.zeros_like(gt), gt)


class AgainstCli(unittest.TestCase):
    """volume_metrics / *_masked / evaluate against `reconbench eval --json` on the same files."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.tdir, cls.pdir = os.path.join(cls.tmp.name, "gt"), os.path.join(cls.tmp.name, "pred")
        os.makedirs(cls.tdir)
        os.makedirs(cls.pdir)
        rng = np.random.default_rng(2022)
        cls.pairs = {}
        for i, (shape, acq, acc) in enumerate((((3, 320, 320), "AXT2", 4),
                                               ((2, 96, 80), "AXFLAIR", 8),
                                               ((2, 80, 96), "AXT1", None))):
            gt = brain_like(rng, *shape)
            pred = np.abs(gt + rng.normal(0, 4e-6, gt.shape)).astype(np.float32)
            name = f"file_brain_{acq}_{i:03d}.h5"
            write_target(os.path.join(cls.tdir, name), gt, acquisition=acq, acceleration=acc)
            write_recon(os.path.join(cls.pdir, name), pred)
            cls.pairs[name] = (gt, pred)
        p = subprocess.run([RB, "eval", "--target", cls.tdir, "--predictions", cls.pdir, "--json",
                            "--bootstrap", "500", "--seed", "3"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        cls.cli = json.loads(p.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_evaluate_returns_the_cli_json(self):
        got = rb.evaluate(self.tdir, self.pdir, bootstrap=500, seed=3, progress=False)
        self.assertEqual(got, self.cli)

    def test_evaluate_defaults_are_the_cli_defaults(self):
        p = subprocess.run([RB, "eval", "--target", self.tdir, "--predictions", self.pdir, "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(rb.evaluate(self.tdir, self.pdir, progress=False), json.loads(p.stdout))

    def test_volume_metrics_and_masked_variants(self):
        by_file = {v["file"]: v for v in self.cli["volumes"]}
        for name, (gt, pred) in self.pairs.items():
            v = dict(by_file[name])
            for k in ("file", "acquisition", "acceleration", "vendor"):
                v.pop(k)
            with self.subTest(file=name):
                self.assertEqual(rb.volume_metrics(gt, pred), v)
                self.assertEqual(rb.ssim_masked(gt, pred), v["ssim_masked"])
                self.assertEqual(rb.psnr_masked(gt, pred), v["psnr_masked"])
                self.assertEqual(rb.nmse_masked(gt, pred), v["nmse_masked"])
                mask = rb.foreground_mask(gt)
                self.assertEqual(mask.dtype, np.uint8)
                self.assertEqual(mask.shape, gt.shape)
                if gt.shape[1] == gt.shape[2]:  # no crop: the mask's share is the CLI's
                    self.assertAlmostEqual(mask.mean(), v["mask_fraction"], delta=1e-12)

    def test_filters_and_errors(self):
        got = rb.evaluate(self.tdir, self.pdir, acquisitions=["AXT2"], bootstrap=10, progress=False)
        self.assertEqual([v["file"] for v in got["volumes"]], ["file_brain_AXT2_000.h5"])
        got = rb.evaluate(self.tdir, self.pdir, acceleration=8, bootstrap=10, progress=False)
        self.assertEqual([v["file"] for v in got["volumes"]], ["file_brain_AXFLAIR_001.h5"])
        with tempfile.TemporaryDirectory() as extra:
            write_recon(os.path.join(extra, "file_brain_AXT2_000.h5"),
                        self.pairs["file_brain_AXT2_000.h5"][1])
            with self.assertRaisesRegex(ValueError, r"2 file\(s\) could not be evaluated(.|\n)*"
                                                    r"file_brain_AXFLAIR_001.h5: missing"):
                rb.evaluate(self.tdir, extra, bootstrap=10, progress=False)
            got = rb.evaluate(self.tdir, extra, bootstrap=10, progress=False, check=False)
            self.assertEqual(sorted(e["kind"] for e in got["errors"]), ["missing", "missing"])
        with self.assertRaisesRegex(ValueError, "nope"):
            rb.evaluate(os.path.join(self.tmp.name, "nope"), self.pdir, progress=False)


if __name__ == "__main__":
    unittest.main()
