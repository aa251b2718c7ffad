#!/usr/bin/python3
"""Oracle: `reconbench undersample` checked with h5py and the numpy mask reference.

Fully sampled fastMRI-layout files are written here with h5py (k-space full of negative
values and explicit -0.0, an ISMRMRD header with phase-encode padding); the test files must
hold kspace * mask + 0.0 (no -0.0 anywhere: checked on the sign bits), the fastMRI mask
for the file-name seed with the padding zeroed, attrs acceleration/num_low_frequency as
ints, no ground truth; the target files the ground truth with max/norm.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sampling_masks import CLASSES, ords  # noqa: E402  (the numpy mask reference)

RECONBENCH = os.environ.get("RECONBENCH", "reconbench")

HEADER = """<?xml version="1.0"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <acquisitionSystemInformation><systemVendor>SIEMENS</systemVendor>
    <systemModel>Skyra</systemModel><systemFieldStrength_T>2.89</systemFieldStrength_T>
  </acquisitionSystemInformation>
  <encoding>
    <encodedSpace><matrixSize><x>{H}</x><y>{ENC_Y}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>440</x><y>220</y><z>5</z></fieldOfView_mm></encodedSpace>
    <reconSpace><matrixSize><x>16</x><y>16</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>220</x><y>220</y><z>5</z></fieldOfView_mm></reconSpace>
    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>{PE_MAX}</maximum>
      <center>{CENTER}</center></kspace_encoding_step_1></encodingLimits>
  </encoding>
</ismrmrdHeader>"""


def write_full(path, width, pe_max, center, seed, with_gt_attrs=True, with_target=True):
    """A fully sampled multi-coil file; returns (kspace, target, header, pad_left, pad_right)."""
    rng = np.random.default_rng(seed)
    shape = (3, 4, 24, width)
    k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    k.real[k.real > 0] *= -1  # mostly negative: x * 0 would be -0.0 without the + 0.0
    k.real.flat[::7] = -0.0
    k.imag.flat[::5] = -0.0
    header = HEADER.format(H=shape[2], ENC_Y=width, PE_MAX=pe_max, CENTER=center)
    pad_left = width // 2 - center
    pad_right = pad_left + pe_max + 1
    k[..., :pad_left] = 0
    k[..., pad_right:] = 0
    target = np.abs(rng.standard_normal((3, 16, 16))).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["kspace"] = k
        if with_target:
            f["reconstruction_rss"] = target
        f["ismrmrd_header"] = header.encode()
        f.attrs["acquisition"] = "AXT2"
        f.attrs["patient_id"] = "p" + os.path.basename(path)[:8]
        if with_gt_attrs:
            f.attrs["max"] = float(target.max()) * 1.5  # stored values are copied, not recomputed
            f.attrs["norm"] = 123.25
    return k, target, header, pad_left, pad_right


def run(args, check=True):
    p = subprocess.run([RECONBENCH] + args, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"reconbench {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def neg_zeros(a):
    """Number of -0.0 entries in the real and imaginary parts."""
    n = 0
    for part in (a.real, a.imag):
        n += int(np.count_nonzero((part == 0) & np.signbit(part)))
    return n


class Undersample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.src = os.path.join(d, "full")
        os.makedirs(cls.src)
        # (name, W, pe_max, center): padding [0, 320), [12, 312), [1, 334) (odd width)
        cls.cases = {}
        specs = [("file_brain_AXT2_200_2000019.h5", 320, 319, 160, True),
                 ("file_brain_AXFLAIR_201_6002893.h5", 324, 299, 150, True),
                 ("file_brain_AXT1POST_208_2080135.h5", 335, 332, 166, False)]
        for i, (name, w, pe_max, center, attrs) in enumerate(specs):
            cls.cases[name] = write_full(os.path.join(cls.src, name), w, pe_max, center, i,
                                         with_gt_attrs=attrs)
        cls.out = os.path.join(d, "test")
        cls.gt = os.path.join(d, "gt")
        run(["undersample", cls.src, "--out", cls.out, "--targets", cls.gt])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def reference_mask(self, name, width, pad_left, pad_right, mtype="equispaced_fraction",
                       cfs=(0.08,), accs=(4,), seed=None):
        f = CLASSES[mtype](list(cfs), list(accs))
        mask, nlf = f(width, seed=ords(name) if seed is None else seed)
        mask = mask.copy()
        mask[:pad_left] = 0
        mask[pad_right:] = 0
        return mask, nlf

    def test_test_files(self):
        for name, (k, target, header, pl, pr) in self.cases.items():
            with self.subTest(file=name), h5py.File(os.path.join(self.out, name), "r") as f:
                self.assertEqual(set(f.keys()), {"kspace", "mask", "ismrmrd_header"})
                self.assertNotIn("max", f.attrs)
                self.assertNotIn("norm", f.attrs)
                self.assertEqual(f.attrs["acquisition"], "AXT2")
                self.assertEqual(f.attrs["patient_id"], "p" + name[:8])
                self.assertEqual(f["ismrmrd_header"][()], header.encode())
                acc = f.attrs["acceleration"]
                nlf = f.attrs["num_low_frequency"]
                self.assertTrue(np.issubdtype(np.asarray(acc).dtype, np.integer), acc)
                self.assertTrue(np.issubdtype(np.asarray(nlf).dtype, np.integer), nlf)
                self.assertEqual(acc, 4)
                w = k.shape[-1]
                ref_mask, ref_nlf = self.reference_mask(name, w, pl, pr)
                self.assertEqual(nlf, ref_nlf)
                mask = f["mask"][()]
                self.assertEqual(mask.dtype, np.float32)
                np.testing.assert_array_equal(mask, ref_mask)
                self.assertTrue(np.all(mask[:pl] == 0) and np.all(mask[pr:] == 0))
                ks = f["kspace"][()]
                self.assertEqual(ks.dtype, np.complex64)
                self.assertEqual(ks.shape, k.shape)
                self.assertEqual(neg_zeros(ks), 0, "a -0.0 leaked into the test k-space")
                self.assertGreater(neg_zeros(k), 0)  # the input did have them
                on = mask == 1
                np.testing.assert_array_equal(ks[..., on], k[..., on])
                self.assertTrue(np.all(ks[..., ~on] == 0))
                # bit level: unsampled entries are all-zero bytes (+0.0 + 0.0j)
                raw = np.ascontiguousarray(ks[..., ~on]).view(np.uint32)
                self.assertTrue(np.all(raw == 0))

    def test_target_files(self):
        for name, (k, target, header, pl, pr) in self.cases.items():
            with self.subTest(file=name), h5py.File(os.path.join(self.gt, name), "r") as f:
                np.testing.assert_array_equal(f["reconstruction_rss"][()], target)
                self.assertEqual(f.attrs["acquisition"], "AXT2")
                self.assertEqual(f.attrs["acceleration"], 4)
                self.assertEqual(f.attrs["num_low_frequency"], round(k.shape[-1] * 0.08))
                with h5py.File(os.path.join(self.src, name), "r") as src:
                    if "max" in src.attrs:
                        self.assertEqual(f.attrs["max"], src.attrs["max"])
                        self.assertEqual(f.attrs["norm"], src.attrs["norm"])
                    else:
                        self.assertAlmostEqual(f.attrs["max"], float(target.max()), places=6)
                        self.assertAlmostEqual(f.attrs["norm"] / np.linalg.norm(
                            target.astype(np.float64)), 1.0, places=12)

    def test_reproducible_per_file_seed(self):
        with tempfile.TemporaryDirectory() as d:
            name = "file_brain_AXT2_200_2000019.h5"
            run(["undersample", os.path.join(self.src, name), "--out", d])
            with h5py.File(os.path.join(d, name), "r") as a, \
                    h5py.File(os.path.join(self.out, name), "r") as b:
                np.testing.assert_array_equal(a["mask"][()], b["mask"][()])
                self.assertEqual(a["kspace"][()].tobytes(), b["kspace"][()].tobytes())

    def test_fixed_seed_and_several_accelerations(self):
        with tempfile.TemporaryDirectory() as d:
            run(["undersample", self.src, "--out", d, "--accelerations", "4,8",
                 "--center-fractions", "0.08,0.04", "--mask-type", "random",
                 "--seed-mode", "fixed", "--seed", "7"])
            for name, (k, target, header, pl, pr) in self.cases.items():
                with self.subTest(file=name), h5py.File(os.path.join(d, name), "r") as f:
                    w = k.shape[-1]
                    ref = CLASSES["random"]([0.08, 0.04], [4, 8])
                    m, nlf = ref(w, seed=7)
                    acc = [4, 8][np.random.RandomState(7).randint(2)]  # choose_acceleration
                    m = m.copy()
                    m[:pl] = 0
                    m[pr:] = 0
                    np.testing.assert_array_equal(f["mask"][()], m)
                    self.assertEqual(f.attrs["acceleration"], acc)
                    self.assertEqual(f.attrs["num_low_frequency"], nlf)
                    self.assertEqual(neg_zeros(f["kspace"][()]), 0)

    def test_errors(self):
        name = "file_brain_AXT2_200_2000019.h5"
        with tempfile.TemporaryDirectory() as d:
            # an already undersampled file
            p = run(["undersample", os.path.join(self.out, name), "--out", d], check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("already undersampled", p.stderr)
            self.assertIn(name, p.stderr)
            # --targets needs reconstruction_rss
            nogt = os.path.join(d, "in", "nogt.h5")
            os.makedirs(os.path.dirname(nogt))
            write_full(nogt, 64, 63, 32, 9, with_target=False)
            p = run(["undersample", nogt, "--out", os.path.join(d, "o"), "--targets",
                     os.path.join(d, "g")], check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("reconstruction_rss", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "o", "nogt.h5")))
            # without --targets it is fine
            run(["undersample", nogt, "--out", os.path.join(d, "o")])
            # writing over the input
            p = run(["undersample", nogt, "--out", os.path.dirname(nogt)], check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            # non-integer acceleration
            p = run(["undersample", nogt, "--out", os.path.join(d, "o2"), "--accelerations",
                     "4.5"], check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--accelerations", p.stderr)
            # no partial outputs left behind
            for root, _, files in os.walk(d):
                self.assertFalse([f for f in files if ".part-" in f], root)


if __name__ == "__main__":
    unittest.main()
