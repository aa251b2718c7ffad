#!/usr/bin/python3
"""Oracle: `reconbench mask` against a numpy implementation of fastMRI's five mask functions.

The reference below is written from design/fastmri-reference.md §1b (which transcribes
fastmri/data/subsample.py) on numpy.random.RandomState, so the seeding (int -> init_genrand,
tuple -> init_by_array), randint's masked rejection, random_sample's 53-bit doubles, numpy's
arange fill rule and ties-to-even rounding all come from numpy itself. Masks must be
bit-identical for many widths (odd/even, 200..400), accelerations, center fractions, int
seeds, file-name seeds and unseeded draws from MaskFunc(seed=N).
"""
import json
import os
import subprocess
import sys
import unittest
from contextlib import contextmanager

import numpy as np

RECONBENCH = os.environ.get("RECONBENCH", "reconbench")


# ---- reference: fastMRI's MaskFunc family on numpy (no torch) ----------------------------
@contextmanager
def temp_seed(rng, seed):
    if seed is None:
        yield
        return
    state = rng.get_state()
    rng.seed(seed)
    try:
        yield
    finally:
        rng.set_state(state)


class MaskFunc:
    def __init__(self, center_fractions, accelerations, allow_any_combination=False, seed=None):
        if len(center_fractions) != len(accelerations) and not allow_any_combination:
            raise ValueError("lengths")
        self.center_fractions = center_fractions
        self.accelerations = accelerations
        self.allow_any_combination = allow_any_combination
        self.rng = np.random.RandomState(seed)

    def __call__(self, num_cols, offset=None, seed=None):
        with temp_seed(self.rng, seed):
            center, accel, nlf = self.sample_mask(num_cols, offset)
        return np.maximum(center, accel).astype(np.float32), nlf

    def sample_mask(self, num_cols, offset):
        cf, acc = self.choose_acceleration()
        nlf = round(num_cols * cf)
        return (self.center_mask(num_cols, nlf),
                self.accel_mask(num_cols, acc, offset, nlf), nlf)

    def center_mask(self, num_cols, nlf):
        mask = np.zeros(num_cols, dtype=np.float32)
        pad = (num_cols - nlf + 1) // 2
        mask[pad:pad + nlf] = 1
        assert mask.sum() == nlf
        return mask

    def choose_acceleration(self):
        if self.allow_any_combination:
            return self.rng.choice(self.center_fractions), self.rng.choice(self.accelerations)
        choice = self.rng.randint(len(self.center_fractions))
        return self.center_fractions[choice], self.accelerations[choice]


class RandomMaskFunc(MaskFunc):
    def accel_mask(self, num_cols, acc, offset, nlf):
        prob = (num_cols / acc - nlf) / (num_cols - nlf)
        return self.rng.uniform(size=num_cols) < prob


class EquiSpacedMaskFunc(MaskFunc):
    def accel_mask(self, num_cols, acc, offset, nlf):
        if offset is None:
            offset = self.rng.randint(0, high=round(acc))
        mask = np.zeros(num_cols, dtype=np.float32)
        mask[offset::acc] = 1
        return mask


class EquispacedMaskFractionFunc(MaskFunc):
    def accel_mask(self, num_cols, acc, offset, nlf):
        adjusted = (acc * (nlf - num_cols)) / (nlf * acc - num_cols)
        if offset is None:
            offset = self.rng.randint(0, high=round(adjusted))
        mask = np.zeros(num_cols)
        samples = np.around(np.arange(offset, num_cols - 1, adjusted)).astype(np.uint)
        mask[samples] = 1.0
        return mask


class MagicMaskFunc(MaskFunc):
    def accel_mask(self, num_cols, acc, offset, nlf):
        if offset is None:
            offset = self.rng.randint(0, high=acc)
        if offset % 2 == 0:
            off_pos, off_neg = offset + 1, offset + 2
        else:
            off_pos, off_neg = offset - 1 + 3, offset - 1 + 0
        poslen = (num_cols + 1) // 2
        neglen = num_cols - (num_cols + 1) // 2
        pos = np.zeros(poslen, dtype=np.float32)
        neg = np.zeros(neglen, dtype=np.float32)
        pos[off_pos::acc] = 1
        neg[off_neg::acc] = 1
        return np.fft.fftshift(np.concatenate((pos, np.flip(neg))))


class MagicMaskFractionFunc(MagicMaskFunc):
    def sample_mask(self, num_cols, offset):
        cf, acc = self.choose_acceleration()
        nlf = round(num_cols * cf)
        target = round(num_cols / acc)
        nlf = max(min(nlf, target), 1)
        adj_target = target - nlf
        adjusted = 0
        if adj_target > 0:
            adjusted = round(num_cols / adj_target)
        return (self.center_mask(num_cols, nlf),
                self.accel_mask(num_cols, adjusted, offset, nlf), nlf)


CLASSES = {
    "random": RandomMaskFunc,
    "equispaced": EquiSpacedMaskFunc,
    "equispaced_fraction": EquispacedMaskFractionFunc,
    "magic": MagicMaskFunc,
    "magic_fraction": MagicMaskFractionFunc,
}


# ---- helpers -------------------------------------------------------------------------------
def run_mask(args, check=True):
    p = subprocess.run([RECONBENCH, "mask"] + args, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"reconbench mask {' '.join(args)} failed ({p.returncode}): "
                             f"{p.stderr}")
    return p


def fmt(xs):
    return ",".join(str(x) for x in xs)


def reference_lines(mtype, cfs, accs, widths, seeds, repeat=1, rng_seed=0, any_comb=False,
                    offset=None):
    """Indices per mask in the CLI's loop order (seed, width, repeat); None on error."""
    f = CLASSES[mtype](cfs, accs, allow_any_combination=any_comb, seed=rng_seed)
    out = []
    for s in seeds:
        for w in widths:
            for _ in range(repeat):
                try:
                    m, nlf = f(w, offset=offset, seed=s)
                except (ValueError, ZeroDivisionError):
                    out.append(None)
                    continue
                out.append((np.flatnonzero(m).tolist(), nlf))
    return out


def ords(name):
    return tuple(map(ord, name))


WIDTHS = list(range(200, 401, 7)) + [320, 368, 372, 396, 256, 201, 333]
CONFIGS = [  # (center_fractions, accelerations)
    ([0.08], [4]),
    ([0.04], [8]),
    ([0.08, 0.04], [4, 8]),
    ([0.16, 0.08, 0.04], [2, 4, 8]),
]
FILES = ["file_brain_AXT2_200_2000019.h5", "file_brain_AXFLAIR_201_6002893.h5",
         "file_brain_AXT1POST_208_2080135.h5"]


class MaskOracle(unittest.TestCase):
    """Each test sends all its cases to one `reconbench mask --requests -` run (the binary
    links LibTorch, so a process per case would be slow) and compares every mask."""

    def batch(self, cases):
        """cases: dicts (mtype, cfs, accs, widths, seeds, repeat, rng_seed, any_comb, offset)."""
        reqs, refs = [], []
        for c in cases:
            seeds = c.get("seeds", [None])
            req = {"type": c["mtype"], "width": c.get("widths", WIDTHS),
                   "center_fractions": c["cfs"], "accelerations": c["accs"],
                   "allow_any_combination": c.get("any_comb", False),
                   "rng_seed": c.get("rng_seed", 0), "repeat": c.get("repeat", 1)}
            ints = [s for s in seeds if isinstance(s, int)]
            files = [s for s in seeds if isinstance(s, str)]
            if ints:
                req["seed"] = ints
            if files:
                req["seed_file"] = ["/some/dir/" + f for f in files]
            if c.get("offset") is not None:
                req["offset"] = c["offset"]
            ref_seeds = ints + [ords(f) for f in files] if (ints or files) else [None]
            reqs.append(req)
            refs.append(reference_lines(c["mtype"], c["cfs"], c["accs"], req["width"],
                                        ref_seeds, req["repeat"], req["rng_seed"],
                                        req["allow_any_combination"], c.get("offset")))
        p = subprocess.run([RECONBENCH, "mask", "--requests", "-"], input=json.dumps(reqs),
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        got_all = json.loads(p.stdout)
        self.assertEqual(len(got_all), len(reqs))
        n = 0
        for req, ref, got in zip(reqs, refs, got_all):
            if any(r is None for r in ref):
                # fastMRI raises for some draw: reconbench must refuse the request too
                self.assertIsInstance(got, dict, f"{req}: fastMRI raises, reconbench did not")
                self.assertIn("error", got)
                continue
            self.assertIsInstance(got, list, f"{req}: {got}")
            self.assertEqual(len(got), len(ref))
            for g, (idx, nlf) in zip(got, ref):
                ctx = f"{req['type']} cfs={req['center_fractions']} " \
                      f"accs={req['accelerations']} width={g['width']} seed={g['seed']}"
                self.assertEqual(g["indices"], idx, ctx)
                self.assertEqual(g["num_low_frequencies"], nlf, ctx)
                s = set(idx)
                self.assertEqual(g["mask"], [1 if i in s else 0 for i in range(g["width"])])
                n += 1
        return n

    def test_int_and_file_seeds_all_types(self):
        seeds = [0, 1, 42, 123, 2**32 - 1] + FILES
        cases = [dict(mtype=t, cfs=cfs, accs=accs, seeds=seeds)
                 for t in CLASSES for cfs, accs in CONFIGS
                 if not (t == "magic_fraction" and 2 in accs)]
        self.assertGreater(self.batch(cases), 5000)
        # magic_fraction at 2X with cf 0.16 leaves no outer lines at some widths: fastMRI
        # raises there, and so must reconbench
        self.batch([dict(mtype="magic_fraction", cfs=[0.16], accs=[2], seeds=[0],
                         widths=[200, 320])])

    def test_unseeded_draws_follow_the_function_rng(self):
        # MaskFunc(seed=N) drawn from repeatedly: the state carries over between masks.
        self.batch([dict(mtype=t, cfs=[0.08, 0.04], accs=[4, 8], widths=[320, 333, 256],
                         repeat=4, rng_seed=r) for t in CLASSES for r in (0, 7, 2**31)])

    def test_any_combination(self):
        cases = []
        for t in ("random", "equispaced_fraction", "magic"):
            cases.append(dict(mtype=t, cfs=[0.04, 0.08], accs=[8, 4], seeds=[2, 8, 99],
                              any_comb=True))
            # (0.08 x 16 would leave no outer lines for equispaced_fraction: it raises)
            cases.append(dict(mtype=t, cfs=[0.04, 0.02], accs=[16, 8, 4], widths=[320, 300],
                              repeat=5, rng_seed=8, any_comb=True))
        self.batch(cases)

    def test_fixed_offsets(self):
        self.batch([dict(mtype=t, cfs=[0.08, 0.04], accs=[4, 8], seeds=[3], offset=off)
                    for t in ("equispaced", "equispaced_fraction", "magic", "magic_fraction")
                    for off in (0, 1, 2, 3, 5)])

    def test_non_integer_acceleration_fraction_masks(self):
        self.batch([dict(mtype=t, cfs=[0.08, 0.05], accs=[4.5, 6.3], seeds=[0, 5])
                    for t in ("random", "equispaced_fraction", "magic_fraction")])

    def test_fastmri_golden_choose_acceleration(self):
        # fastMRI tests/test_transforms.py::test_fraction_accel_sync
        for cfs, accs, seed, expect in (([0.04, 0.08], [8, 4], 2, (0.04, 4)),
                                        ([0.04, 0.08], [16, 8, 4], 8, (0.08, 16))):
            f = MaskFunc(cfs, accs, allow_any_combination=True, seed=seed)
            self.assertEqual(f.choose_acceleration(), expect)  # the reference itself
            got = json.loads(run_mask(["--type", "random", "--width", "320",
                                       "--center-fractions", fmt(cfs), "--accelerations",
                                       fmt(accs), "--allow-any-combination", "--rng-seed",
                                       str(seed), "--format", "json"]).stdout)
            self.assertEqual((got["center_fraction"], got["acceleration"]), expect)

    def test_errors_where_fastmri_raises(self):
        # magic_fraction with no budget left for outer lines: adjusted acceleration 0
        ref = reference_lines("magic_fraction", [0.5], [4], [10], [0])
        self.assertIsNone(ref[0])
        p = run_mask(["--type", "magic_fraction", "--width", "10", "--center-fractions", "0.5",
                      "--accelerations", "4", "--seed", "0"], check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("magic_fraction", p.stderr)
        # equispaced slicing needs an integer acceleration
        p = run_mask(["--type", "equispaced", "--width", "320", "--accelerations", "4.5"],
                     check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        # mismatched list lengths without --allow-any-combination
        p = run_mask(["--width", "320", "--accelerations", "4,8"], check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("center fractions", p.stderr)

    def test_text_output_and_out_file(self):
        import tempfile
        ref = reference_lines("equispaced_fraction", [0.08], [4], [372], [0])
        p = run_mask(["--width", "372", "--seed", "0"])
        self.assertEqual(p.stdout, " ".join(map(str, ref[0][0])) + "\n")
        # issue #54's example: offset 4, adjusted acceleration 5.428571, lines 4, 9, 15, 20
        self.assertEqual(ref[0][0][:4], [4, 9, 15, 20])
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "m.txt")
            p = run_mask(["--width", "372", "--seed", "0", "--out", out])
            self.assertEqual(p.stdout, "")
            with open(out) as f:
                self.assertEqual(f.read(), " ".join(map(str, ref[0][0])) + "\n")


if __name__ == "__main__":
    unittest.main()
