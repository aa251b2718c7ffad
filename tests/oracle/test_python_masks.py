#!/usr/bin/python3
"""Oracle: reconbench.mask / reconbench.MaskFunc / reconbench.undersample against fastMRI's
mask functions on numpy.random.RandomState (the reference of test_sampling_masks.py, written
from fastmri/data/subsample.py): bit-identical masks and num_low_frequencies for every type,
widths 200..400, int seeds, tuple seeds and per-file seeds tuple(map(ord, fname)), unseeded
draws that carry the function's RandomState over; ValueError where fastMRI raises, with the
CLI's message; apply_mask's `kspace * mask + 0.0` bit for bit (no -0.0).
"""
import os
import subprocess
import unittest

import numpy as np

import reconbench as rb
from test_sampling_masks import CLASSES, CONFIGS, FILES, WIDTHS, ords

RB = os.environ.get("RECONBENCH", "reconbench")


def reference(mtype, cfs, accs, width, seed=None, rng_seed=0, any_comb=False, offset=None):
    f = CLASSES[mtype](cfs, accs, allow_any_combination=any_comb, seed=rng_seed)
    return f(width, offset=offset, seed=seed)


class Masks(unittest.TestCase):
    def assert_same(self, got, ref, ctx):
        m, nlf = got
        self.assertEqual(m.dtype, np.float32, ctx)
        self.assertEqual(m.shape, ref[0].shape, ctx)
        self.assertTrue(np.array_equal(m, ref[0]), f"{ctx}: {np.flatnonzero(m != ref[0])[:8]}")
        self.assertEqual(nlf, ref[1], ctx)

    def test_all_types_int_tuple_and_file_seeds(self):
        n = 0
        for mtype in CLASSES:
            for cfs, accs in CONFIGS:
                if mtype == "magic_fraction" and 2 in accs:
                    continue  # fastMRI raises at some widths: test_errors_where_fastmri_raises
                for width in WIDTHS[::3]:
                    for seed in (0, 42, 2**32 - 1, (1, 2, 3)):
                        ctx = f"{mtype} {cfs} {accs} w={width} seed={seed}"
                        self.assert_same(rb.mask(mtype, width, cfs, accs, seed=seed),
                                         reference(mtype, cfs, accs, width, seed), ctx)
                        n += 1
                    for f in FILES:
                        ctx = f"{mtype} {cfs} {accs} w={width} file={f}"
                        got = rb.mask(mtype, width, cfs, accs, seed_file="/data/brain/" + f)
                        self.assert_same(got, reference(mtype, cfs, accs, width, ords(f)), ctx)
                        n += 1
        self.assertGreater(n, 1500)

    def test_maskfunc_state_carries_over_between_unseeded_draws(self):
        for mtype in CLASSES:
            for rng_seed in (0, 7, 2**31):
                ref = CLASSES[mtype]([0.08, 0.04], [4, 8], seed=rng_seed)
                f = rb.MaskFunc(mtype, [0.08, 0.04], [4, 8], seed=rng_seed)
                for i, width in enumerate([320, 333, 256, 320, 372, 320]):
                    ctx = f"{mtype} rng_seed={rng_seed} draw {i}"
                    if i == 3:  # a seeded draw in between restores the state (temp_seed)
                        self.assert_same(f(width, seed_file="x/file_brain_AXT2_200_2000019.h5"),
                                         ref(width, seed=ords("file_brain_AXT2_200_2000019.h5")), ctx)
                    self.assert_same(f(width), ref(width), ctx)

    def test_offsets_any_combination_and_non_integer_accelerations(self):
        for mtype in ("equispaced", "equispaced_fraction", "magic", "magic_fraction"):
            for off in (0, 1, 3):
                self.assert_same(rb.mask(mtype, 320, [0.08, 0.04], [4, 8], seed=3, offset=off),
                                 reference(mtype, [0.08, 0.04], [4, 8], 320, 3, offset=off),
                                 f"{mtype} offset {off}")
        for mtype in ("random", "equispaced_fraction", "magic"):
            self.assert_same(rb.mask(mtype, 320, [0.04, 0.08], [8, 4], seed=2,
                                     allow_any_combination=True, rng_seed=5),
                             reference(mtype, [0.04, 0.08], [8, 4], 320, 2, rng_seed=5, any_comb=True),
                             f"{mtype} any combination")
        for mtype in ("random", "equispaced_fraction", "magic_fraction"):
            self.assert_same(rb.mask(mtype, 333, [0.08, 0.05], [4.5, 6.3], seed=5),
                             reference(mtype, [0.08, 0.05], [4.5, 6.3], 333, 5), f"{mtype} 4.5/6.3")
        # numpy integers are seeds too
        self.assert_same(rb.mask("random", 320, seed=np.uint32(9)),
                         reference("random", [0.08], [4], 320, 9), "numpy seed")

    def test_errors_where_fastmri_raises(self):
        with self.assertRaises((ValueError, ZeroDivisionError)):
            reference("magic_fraction", [0.5], [4], 10, 0)
        cli = subprocess.run([RB, "mask", "--type", "magic_fraction", "--width", "10",
                              "--center-fractions", "0.5", "--accelerations", "4", "--seed", "0"],
                             capture_output=True, text=True)
        self.assertEqual(cli.returncode, 2)
        with self.assertRaises(ValueError) as e:
            rb.mask("magic_fraction", 10, [0.5], [4], seed=0)
        self.assertIn(str(e.exception), cli.stderr)  # the CLI's message, word for word
        with self.assertRaisesRegex(ValueError, "center fractions"):
            rb.mask("random", 320, [0.08], [4, 8])
        with self.assertRaisesRegex(ValueError, "bogus"):
            rb.MaskFunc("bogus", [0.08], [4])
        with self.assertRaisesRegex(ValueError, r"between 0 and 2\*\*32 - 1"):
            rb.mask("random", 320, seed=-1)
        with self.assertRaisesRegex(ValueError, "seed or seed_file, not both"):
            rb.mask("random", 320, seed=1, seed_file="a.h5")
        with self.assertRaisesRegex(ValueError, "width 0 must be >= 1"):
            rb.mask("random", 0)


class Undersample(unittest.TestCase):
    def test_apply_mask_bits_and_padding(self):
        rng = np.random.default_rng(1)
        k = (rng.standard_normal((2, 3, 16, 20)) + 1j * rng.standard_normal((2, 3, 16, 20))).astype(np.complex64)
        m, _ = rb.mask("equispaced_fraction", 20, seed=4)
        for padding in ((0, -1), (3, 17)):
            applied = m.copy()
            if padding != (0, -1):
                applied[:padding[0]] = 0
                applied[padding[1]:] = 0
            # fastMRI (torch, complex as a trailing pair): data * mask + 0.0 per component
            ref = (k.view(np.float32).reshape(*k.shape, 2) * applied[:, None] + np.float32(0.0))
            got = rb.undersample(k, m, padding=padding)
            self.assertEqual(got.dtype, np.complex64)
            self.assertEqual(got.tobytes(), ref.astype(np.float32).tobytes())
            zero_cols = np.ascontiguousarray(got[..., applied == 0]).view(np.float32)
            self.assertGreater(zero_cols.size, 0)
            self.assertFalse(np.signbit(zero_cols).any(), "a -0.0 survived")
        with self.assertRaisesRegex(ValueError, "mask length 19"):
            rb.undersample(k, m[:19])


if __name__ == "__main__":
    unittest.main()
