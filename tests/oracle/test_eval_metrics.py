"""Oracle: `reconbench eval --json` against fastMRI's evaluate.py computed here with
scikit-image/numpy (Debian python3-skimage 0.19.3), on random and structured volumes, odd and
tiny sizes and constant images; per-file errors (NaN/Inf, missing, extra, mis-shaped);
quantile intervals against numpy.percentile; the seeded bootstrap CI (reproducible, independent
of the thread count, sensible width); Kendall's W / chi2 / p-value against scipy (friedmanchisquare, chi2.sf).

Tolerance 1e-6 as the issue asks. skimage >= 0.19 computes SSIM in float32 for float32 inputs
(evaluate.py today); 0.16-0.18 (the 2020 challenge) in float64. reconbench accumulates in
double, so it is compared with both: float64 to 1e-9, float32 to 1e-6.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
import scipy.stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

RB = os.environ.get("RECONBENCH", "reconbench")


def center_crop(data, shape):
    # fastmri.data.transforms.center_crop (numpy version)
    if not (0 < shape[0] <= data.shape[-2] and 0 < shape[1] <= data.shape[-1]):
        raise ValueError("Invalid shapes.")
    w_from = (data.shape[-2] - shape[0]) // 2
    h_from = (data.shape[-1] - shape[1]) // 2
    return data[..., w_from:w_from + shape[0], h_from:h_from + shape[1]]


def evaluate_py(target, recons, dtype=np.float32):
    """fastmri/evaluate.py for one volume (crop to (W_t, W_t); the FLAIR-203 rule
    min(h, w) where evaluate.py itself would raise)."""
    c = min(target.shape[-1], target.shape[-2])
    gt = center_crop(target, (c, c)).astype(dtype)
    pred = center_crop(recons, (c, c)).astype(dtype)
    maxval = gt.max()
    per = [structural_similarity(gt[s], pred[s], data_range=maxval) for s in range(gt.shape[0])]
    ssim = np.mean(per)
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(gt, pred, data_range=maxval)
    nmse = np.linalg.norm(gt - pred) ** 2 / np.linalg.norm(gt) ** 2
    mse = np.mean((gt.astype(np.float64) - pred.astype(np.float64)) ** 2)
    return dict(ssim=float(ssim), psnr=float(psnr), nmse=float(nmse), mse=float(mse),
                per_slice=[float(v) for v in per], maxval=float(maxval))


def brain_like(rng, slices, h, w, noise=0.03):
    yy, xx = np.mgrid[0:h, 0:w]
    vol = np.zeros((slices, h, w))
    for s in range(slices):
        e = ((yy - h / 2) / (0.42 * h - s)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2
        img = np.where(e < 1, 0.6 + 0.3 * np.sin(yy * 0.21) * np.cos(xx * 0.17), 0.0)
        img = np.where((e < 0.1) & (s % 2 == 0), 0.1, img)
        chans = rng.standard_normal((8, h, w)) * noise
        chans[0] += img
        vol[s] = np.sqrt((chans ** 2).sum(0))
    return (vol * 1e-4).astype(np.float32)  # fastMRI-like magnitude scale


def write_target(path, vol, key="reconstruction_rss", acquisition="AXT2", acceleration=None):
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=vol)
        if acquisition is not None:
            f.attrs["acquisition"] = acquisition
        if acceleration is not None:
            f.attrs["acceleration"] = acceleration


def write_recon(path, vol):
    with h5py.File(path, "w") as f:
        f.create_dataset("reconstruction", data=vol)


def run_eval(*args, check=True):
    p = subprocess.run([RB, "eval", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"reconbench eval {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


class EvalMetricsOracle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.tmp.name
        cls.tdir, cls.pdir = os.path.join(root, "gt"), os.path.join(root, "pred")
        os.makedirs(cls.tdir)
        os.makedirs(cls.pdir)
        rng = np.random.default_rng(2020)
        cls.pairs = {}

        def add(name, gt, pred, **kw):
            write_target(os.path.join(cls.tdir, name), gt, **kw)
            write_recon(os.path.join(cls.pdir, name), pred)
            cls.pairs[name] = (gt, pred, kw)

        # Typical: 320x320 brain-like volume with a noisy reconstruction, 4X and 8X.
        gt = brain_like(rng, 2, 320, 320)
        add("file_brain_AXT2_001.h5", gt,
            np.abs(gt + rng.normal(0, 3e-6, gt.shape)).astype(np.float32), acceleration=4)
        gt = brain_like(rng, 2, 320, 320)
        add("file_brain_AXFLAIR_002.h5", gt,
            (0.9 * gt + rng.normal(0, 5e-6, gt.shape)).astype(np.float32),
            acquisition="AXFLAIR", acceleration=8)
        # Odd, non-square target (crop to 29x29) and a prediction of the same odd shape.
        gt = rng.random((3, 37, 29)).astype(np.float32)
        add("file_brain_AXT1_003.h5", gt, (gt + rng.random(gt.shape) * 0.3).astype(np.float32),
            acquisition="AXT1", acceleration=4)
        # Prediction larger than the target: centre-cropped to the target's (W, W).
        gt = rng.random((2, 21, 21)).astype(np.float32) + 1.0
        pred = rng.random((2, 26, 24)).astype(np.float32) + 1.0
        add("file_brain_AXT1POST_004.h5", gt, pred, acquisition="AXT1POST", acceleration=8)
        # Tiny: exactly one 7x7 window.
        gt = rng.random((2, 7, 7)).astype(np.float32)
        add("file_brain_AXT1PRE_005.h5", gt, rng.random((2, 7, 7)).astype(np.float32),
            acquisition="AXT1PRE")
        # Constant images.
        add("file_brain_AXT2_006.h5", np.full((2, 16, 16), 2.0, np.float32),
            np.full((2, 16, 16), 1.5, np.float32))
        # GT stored as a reconstruction file (key `reconstruction`), no attributes.
        gt = rng.random((2, 12, 15)).astype(np.float32)
        add("file_brain_recon_007.h5", gt, (gt * 0.8).astype(np.float32),
            key="reconstruction", acquisition=None)
        # FLAIR-203-like target narrower in height than in width: crop min(h, w) = 12.
        gt = rng.random((2, 12, 16)).astype(np.float32)
        add("file_brain_AXFLAIR_203_008.h5", gt, (gt + 0.1).astype(np.float32),
            acquisition="AXFLAIR")

        cls.B, cls.seed = 2000, 7
        p = run_eval("--target", cls.tdir, "--predictions", cls.pdir, "--json",
                     "--bootstrap", str(cls.B), "--seed", str(cls.seed))
        cls.report = json.loads(p.stdout)
        cls.by_file = {v["file"]: v for v in cls.report["volumes"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_all_volumes_evaluated_without_errors(self):
        self.assertEqual(self.report["errors"], [])
        self.assertEqual(sorted(self.by_file), sorted(self.pairs))

    def test_metrics_match_skimage_and_numpy(self):
        for name, (gt, pred, kw) in self.pairs.items():
            v = self.by_file[name]
            ref32 = evaluate_py(gt, pred, np.float32)
            ref64 = evaluate_py(gt, pred, np.float64)
            with self.subTest(file=name):
                self.assertEqual(v["slices"], gt.shape[0])
                self.assertAlmostEqual(v["ssim"], ref64["ssim"], delta=1e-9)
                self.assertAlmostEqual(v["ssim"], ref32["ssim"], delta=1e-6)
                self.assertAlmostEqual(v["psnr"], ref64["psnr"], delta=1e-9)
                self.assertAlmostEqual(v["psnr"], ref32["psnr"], delta=1e-6)
                self.assertAlmostEqual(v["nmse"], ref64["nmse"], delta=1e-9 * max(1, ref64["nmse"]))
                self.assertAlmostEqual(v["nmse"], ref32["nmse"], delta=1e-6)
                self.assertAlmostEqual(v["mse"], ref64["mse"], delta=1e-12 * max(1, ref64["mse"]))
                np.testing.assert_allclose(v["ssim_per_slice"], ref64["per_slice"], atol=1e-9)
                self.assertEqual(v["data_range"], ref64["maxval"])

    def test_attributes_and_groups(self):
        v = self.by_file["file_brain_AXT2_001.h5"]
        self.assertEqual(v["acquisition"], "AXT2")
        self.assertEqual(v["acceleration"], 4)
        self.assertIsNone(self.by_file["file_brain_AXT1PRE_005.h5"]["acceleration"])
        s = self.report["summary"]
        self.assertEqual(s["all"]["n"], len(self.pairs))
        self.assertEqual(s["by_acceleration"]["4"]["n"], 2)
        self.assertEqual(s["by_acceleration"]["8"]["n"], 2)
        self.assertEqual(s["by_acquisition"]["AXFLAIR"]["n"], 2)
        self.assertEqual(s["by_acquisition"]["AXT2"]["n"], 2)

    def test_summary_mean_quantile_interval_and_bootstrap(self):
        s = self.report["summary"]
        for metric in ("ssim", "nmse", "mse"):
            vals = np.array([self.by_file[n][metric] for n in sorted(self.by_file)])
            m = s["all"][metric]
            with self.subTest(metric=metric):
                self.assertEqual(m["n"], len(vals))
                self.assertAlmostEqual(m["mean"], float(np.mean(vals)), delta=1e-12)
                self.assertAlmostEqual(m["sd"], float(np.std(vals, ddof=1)), delta=1e-12)
                lo, hi = np.percentile(vals, [2.5, 97.5])
                self.assertAlmostEqual(m["quantile_interval"][0], lo, delta=1e-12)
                self.assertAlmostEqual(m["quantile_interval"][1], hi, delta=1e-12)
                self.assertEqual(m["bootstrap"], {"B": self.B, "seed": self.seed})
        # Bootstrap CI of the mean: inside the range of the resampled means' support,
        # around the mean, narrower than the quantile interval, and fixed by (B, seed).
        vals = np.array([self.by_file[n]["ssim"] for n in sorted(self.by_file)])
        ci = s["all"]["ssim"]["bootstrap_ci"]
        self.assertLess(ci[0], float(vals.mean()))
        self.assertGreater(ci[1], float(vals.mean()))
        self.assertGreaterEqual(ci[0], float(vals.min()))
        self.assertLessEqual(ci[1], float(vals.max()))
        se = vals.std(ddof=1) / np.sqrt(len(vals))
        self.assertAlmostEqual((ci[1] - ci[0]) / (2 * 1.96 * se), 1.0, delta=0.35)
        again = json.loads(run_eval("--target", self.tdir, "--predictions", self.pdir, "--json",
                                    "--bootstrap", str(self.B), "--seed", str(self.seed)).stdout)
        self.assertEqual(again["summary"]["all"]["ssim"]["bootstrap_ci"], ci)
        other = json.loads(run_eval("--target", self.tdir, "--predictions", self.pdir, "--json",
                                    "--bootstrap", str(self.B), "--seed", str(self.seed + 1)).stdout)
        self.assertNotEqual(other["summary"]["all"]["ssim"]["bootstrap_ci"], ci)
        # Independent of the thread count.
        p = subprocess.run([RB, "--threads", "3", "eval", "--target", self.tdir, "--predictions",
                            self.pdir, "--json", "--bootstrap", str(self.B), "--seed",
                            str(self.seed)], capture_output=True, text=True)
        threaded = json.loads(p.stdout)
        self.assertEqual(threaded["volumes"], self.report["volumes"])
        self.assertEqual(threaded["summary"], self.report["summary"])
        # PSNR of the constant pair is finite; the group mean still uses all volumes.
        self.assertEqual(s["all"]["psnr"]["n"], len(vals))

    def test_spec_and_masked_fields(self):
        spec = self.report["spec"]
        self.assertIn("win 7 uniform", spec["ssim"])
        self.assertIn("rb-fg-1", spec["mask_recipe"])
        self.assertIn("version", spec)
        v = self.by_file["file_brain_AXT2_001.h5"]
        self.assertGreater(v["mask_fraction"], 0.3)
        self.assertLess(v["mask_fraction"], 0.9)
        self.assertIsNotNone(v["ssim_masked"])
        # Constant GT: the mask is empty, so masked values are undefined (null), not 0.
        self.assertIsNone(self.by_file["file_brain_AXT2_006.h5"]["ssim_masked"])

    def test_acquisition_and_acceleration_filters(self):
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--json",
                     "--acquisition", "AXT2,AXT1", "--bootstrap", "10")
        files = sorted(v["file"] for v in json.loads(p.stdout)["volumes"])
        self.assertEqual(files, ["file_brain_AXT1_003.h5", "file_brain_AXT2_001.h5",
                                 "file_brain_AXT2_006.h5"])
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--json",
                     "--acceleration", "8", "--bootstrap", "10")
        files = sorted(v["file"] for v in json.loads(p.stdout)["volumes"])
        self.assertEqual(files, ["file_brain_AXFLAIR_002.h5", "file_brain_AXT1POST_004.h5"])

    def test_text_and_csv_outputs(self):
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--masked",
                     "--bootstrap", "100")
        self.assertIn("quantile interval of volumes", p.stdout)
        self.assertIn("bootstrap CI of the mean", p.stdout)
        self.assertIn("SSIM_masked", p.stdout)
        self.assertIn("file_brain_AXT2_001.h5", p.stdout)
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--csv", "--bootstrap", "10")
        lines = p.stdout.strip().splitlines()
        self.assertTrue(lines[0].startswith("file,acquisition,acceleration"))
        self.assertEqual(len(lines), 1 + len(self.pairs))
        row = dict(zip(lines[0].split(","), [l for l in lines if l.startswith("file_brain_AXT2_001")][0].split(",")))
        self.assertAlmostEqual(float(row["ssim"]), self.by_file["file_brain_AXT2_001.h5"]["ssim"], delta=1e-15)


class EvalErrorsOracle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tdir = os.path.join(self.tmp.name, "gt")
        self.pdir = os.path.join(self.tmp.name, "pred")
        os.makedirs(self.tdir)
        os.makedirs(self.pdir)
        rng = np.random.default_rng(1)
        self.good = rng.random((2, 16, 16)).astype(np.float32)
        write_target(os.path.join(self.tdir, "good.h5"), self.good)
        write_recon(os.path.join(self.pdir, "good.h5"), self.good * 0.9)

    def tearDown(self):
        self.tmp.cleanup()

    def errors(self, p):
        return {e["file"]: e for e in json.loads(p.stdout)["errors"]}

    def test_nan_and_inf_rejected_naming_the_file(self):
        for bad, word in ((np.nan, "NaN"), (np.inf, "non-finite")):
            with self.subTest(value=bad):
                pred = self.good.copy()
                pred[1, 4, 5] = bad
                write_target(os.path.join(self.tdir, "bad.h5"), self.good)
                write_recon(os.path.join(self.pdir, "bad.h5"), pred)
                p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--json", check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                err = self.errors(p)["bad.h5"]
                self.assertEqual(err["kind"], "nonfinite")
                self.assertIn(os.path.join(self.pdir, "bad.h5"), err["reason"])
                self.assertIn("slice 1, y 4, x 5", err["reason"])
                self.assertIn("bad.h5", p.stderr)
                self.assertIn("NaN" if word == "NaN" else "infinite", p.stderr)
                # The good file is still evaluated.
                self.assertEqual([v["file"] for v in json.loads(p.stdout)["volumes"]], ["good.h5"])

    def test_nan_in_ground_truth_is_reported(self):
        gt = self.good.copy()
        gt[0, 0, 0] = np.nan
        write_target(os.path.join(self.tdir, "badgt.h5"), gt)
        write_recon(os.path.join(self.pdir, "badgt.h5"), self.good)
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--json", check=False)
        self.assertEqual(p.returncode, 2)
        err = self.errors(p)["badgt.h5"]
        self.assertIn("ground truth", err["reason"])
        self.assertIn("NaN", err["reason"])

    def test_missing_extra_and_misshaped(self):
        write_target(os.path.join(self.tdir, "missing.h5"), self.good)
        write_recon(os.path.join(self.pdir, "extra.h5"), self.good)
        write_target(os.path.join(self.tdir, "fewer.h5"), self.good)
        write_recon(os.path.join(self.pdir, "fewer.h5"), self.good[:1])
        write_target(os.path.join(self.tdir, "small.h5"), self.good)
        write_recon(os.path.join(self.pdir, "small.h5"), self.good[:, :15, :])
        write_target(os.path.join(self.tdir, "nokey.h5"), self.good)
        with h5py.File(os.path.join(self.pdir, "nokey.h5"), "w") as f:
            f.create_dataset("recon", data=self.good)
        with open(os.path.join(self.pdir, "notes.txt"), "w") as f:
            f.write("not a volume")
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--json", check=False)
        self.assertEqual(p.returncode, 2)
        errs = self.errors(p)
        self.assertEqual(errs["missing.h5"]["kind"], "missing")
        self.assertEqual(errs["extra.h5"]["kind"], "extra")
        self.assertEqual(errs["fewer.h5"]["kind"], "shape")
        self.assertIn("1 slices", errs["fewer.h5"]["reason"])
        self.assertEqual(errs["small.h5"]["kind"], "shape")
        self.assertEqual(errs["nokey.h5"]["kind"], "unreadable")
        self.assertIn("'reconstruction'", errs["nokey.h5"]["reason"])
        for f in ("missing.h5", "extra.h5", "fewer.h5", "small.h5", "nokey.h5"):
            self.assertIn(f, p.stderr)
        self.assertEqual([v["file"] for v in json.loads(p.stdout)["volumes"]], ["good.h5"])

    def test_allow_missing_tolerates_only_missing_and_extra(self):
        write_target(os.path.join(self.tdir, "missing.h5"), self.good)
        write_recon(os.path.join(self.pdir, "extra.h5"), self.good)
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--allow-missing", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("missing.h5", p.stdout + p.stderr)
        self.assertIn("extra.h5", p.stdout + p.stderr)
        write_target(os.path.join(self.tdir, "fewer.h5"), self.good)
        write_recon(os.path.join(self.pdir, "fewer.h5"), self.good[:1])
        p = run_eval("--target", self.tdir, "--predictions", self.pdir, "--allow-missing", check=False)
        self.assertEqual(p.returncode, 2)

    def test_bad_directory_is_a_user_error(self):
        p = run_eval("--target", os.path.join(self.tmp.name, "nope"), "--predictions", self.pdir,
                     check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope", p.stderr)


class KendallOracle(unittest.TestCase):
    """`reconbench eval --kendall` against scipy: tie-corrected Friedman chi2 = m(n-1)W_t."""

    def test_random_ratings_against_scipy(self):
        rng = np.random.default_rng(5)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "ratings.csv")
            cases = {}
            with open(path, "w") as f:
                f.write("case,reader,A,B,C,D\n")
                for c in range(6):
                    m = 3 + c % 4
                    r = rng.integers(1, 5, size=(m, 4))  # Likert 1-4: many ties
                    if c == 0:
                        r = np.array([[1, 2, 3, 4], [1, 2, 4, 3], [2, 1, 3, 4]])
                    cases[f"case{c}"] = r
                    for j, row in enumerate(r):
                        f.write(f"case{c},reader{j}," + ",".join(map(str, row)) + "\n")
            p = run_eval("--kendall", path, "--json")
            out = json.loads(p.stdout)
            got = {c["case"]: c for c in out["cases"]}
            wts = []
            for name, r in cases.items():
                m, n = r.shape
                with self.subTest(case=name):
                    if np.all(r == r[:, :1]):
                        self.assertIsNone(got[name]["w_t"])
                        continue
                    chi2, p_value = scipy.stats.friedmanchisquare(*r.T)
                    self.assertAlmostEqual(got[name]["chi2"], chi2, delta=1e-10)
                    self.assertAlmostEqual(got[name]["p_value"], p_value, delta=1e-12)
                    self.assertAlmostEqual(got[name]["p_value"], scipy.stats.chi2.sf(chi2, n - 1), delta=1e-12)
                    self.assertAlmostEqual(got[name]["w_t"], chi2 / (m * (n - 1)), delta=1e-12)
                    wts.append(chi2 / (m * (n - 1)))
            self.assertAlmostEqual(out["summary"]["mean_w_t"], float(np.mean(wts)), delta=1e-12)
            # Table IV: mean +- SD (ddof 1) of every column over all ratings.
            allr = np.vstack(list(cases.values())).astype(float)
            for k, col in enumerate("ABCD"):
                self.assertAlmostEqual(out["objects"][col]["mean"], allr[:, k].mean(), delta=1e-12)
                self.assertAlmostEqual(out["objects"][col]["sd"], allr[:, k].std(ddof=1), delta=1e-12)

    def test_design_note_vectors(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.csv")
            a = [[1, 2, 3], [1, 3, 2], [1, 2, 3], [2, 1, 3], [1, 2, 3], [1, 3, 2]]
            b = [[4, 3, 3], [4, 4, 2], [3, 3, 2], [4, 2, 2], [3, 3, 3], [4, 3, 1]]
            with open(path, "w") as f:
                f.write("case,reader,x,y,z\n")
                for name, rows in (("A", a), ("B", b)):
                    for j, row in enumerate(rows):
                        f.write(f"{name},r{j}," + ",".join(map(str, row)) + "\n")
            out = json.loads(run_eval("--kendall", path, "--json").stdout)
            got = {c["case"]: c for c in out["cases"]}
            self.assertAlmostEqual(got["A"]["w"], 0.583333333333, delta=1e-9)
            self.assertAlmostEqual(got["A"]["chi2"], 7.0, delta=1e-9)
            self.assertAlmostEqual(got["B"]["w"], 0.444444444444, delta=1e-9)
            self.assertAlmostEqual(got["B"]["w_t"], 0.666666666667, delta=1e-9)
            self.assertAlmostEqual(got["B"]["chi2"], 8.0, delta=1e-9)
            self.assertAlmostEqual(got["B"]["p_value"], scipy.stats.chi2.sf(8.0, 2), delta=1e-14)


if __name__ == "__main__":
    unittest.main(verbosity=2)
