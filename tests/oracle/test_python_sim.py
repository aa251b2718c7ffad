#!/usr/bin/python3
"""Oracle: reconbench.simulate_slice / SimulatedSlices against the files `reconbench simulate`
writes (read with h5py): the first volumes of a split's stream are exactly those files (k-space,
reconstruction_rss, header, attrs max/norm/patient_id bit for bit); later volumes are fresh
subjects; the stream is deterministic, independent of the thread count, and sharded without
overlap; each sample has what fastMRI's SliceDataset gives a transform.
"""
import glob
import json
import os
import subprocess
import tempfile
import unittest

import xml.etree.ElementTree as etree

import h5py
import numpy as np

import reconbench as rb

RB = os.environ.get("RECONBENCH", "reconbench")
SEED = 11


def fastmri_metadata(header):
    """fastmri/data/mri_data.py SliceDataset._retrieve_metadata, from the header bytes."""
    root = etree.fromstring(header)

    def q(*path):
        return int(root.find("/".join("ismrmrd:" + p for p in path),
                             {"ismrmrd": "http://www.ismrm.org/ISMRMRD"}).text)

    enc = ("encoding", "encodedSpace", "matrixSize")
    rec = ("encoding", "reconSpace", "matrixSize")
    lims = ("encoding", "encodingLimits", "kspace_encoding_step_1")
    enc_size = tuple(q(*enc, a) for a in "xyz")
    padding_left = enc_size[1] // 2 - q(*lims, "center")
    return dict(padding_left=padding_left, padding_right=padding_left + q(*lims, "maximum") + 1,
                encoding_size=enc_size, recon_size=tuple(q(*rec, a) for a in "xyz"))


class Simulated(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        p = subprocess.run([RB, "simulate", "--profile", "ci", "--seed", str(SEED), "--splits",
                            "train", "--no-truth", "--out", cls.tmp.name], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        cls.files = sorted(glob.glob(os.path.join(cls.tmp.name, "multicoil_train", "*.h5")))
        assert len(cls.files) == 3, cls.files  # the ci profile's train split
        cls.whole = list(rb.SimulatedSlices("ci", seed=SEED, volumes=4))  # 3 files + 1 fresh

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_first_volumes_are_the_simulate_files(self):
        by_file = {}
        for s in self.whole:
            if "_r1" in s["fname"]:
                continue
            by_file.setdefault(s["fname"], []).append(s)
        self.assertEqual(sorted(by_file), sorted(os.path.basename(f) for f in self.files))
        for f in self.files:
            with h5py.File(f, "r") as h:
                k, t = h["kspace"][()], h["reconstruction_rss"][()]
                got = by_file[os.path.basename(f)]
                with self.subTest(file=os.path.basename(f)):
                    self.assertEqual([s["slice_num"] for s in got], list(range(k.shape[0])))
                    for s in got:
                        self.assertTrue(np.array_equal(s["kspace"], k[s["slice_num"]]))
                        self.assertTrue(np.array_equal(s["target"], t[s["slice_num"]]))
                        self.assertIsNone(s["mask"])
                        self.assertEqual(s["ismrmrd_header"].encode(), h["ismrmrd_header"][()])
                    a = got[0]["attrs"]
                    for key in ("acquisition", "patient_id", "max", "norm"):
                        self.assertEqual(a[key], h.attrs[key], key)
                    for key, value in fastmri_metadata(h["ismrmrd_header"][()]).items():
                        self.assertEqual(a[key], value, key)
        one = rb.simulate_slice("ci", SEED, volume=1, slice=2)
        with h5py.File(self.files[[os.path.basename(f) for f in self.files].index(one["fname"])], "r") as h:
            self.assertTrue(np.array_equal(one["kspace"], h["kspace"][2]))

    def test_simulator_version_is_the_manifests(self):
        with open(os.path.join(self.tmp.name, "manifest.json")) as f:
            self.assertEqual(rb.simulator_version, json.load(f)["version"])
        self.assertTrue(rb.simulator_version.startswith("reconbench-sim-"))

    def test_later_volumes_are_fresh_and_the_stream_is_deterministic(self):
        try:
            rb.set_num_threads(1)
            a = rb.simulate_slice("ci", SEED, volume=4)
            rb.set_num_threads(2)
            two = rb.simulate_slice("ci", SEED, volume=4)
        finally:
            rb.set_num_threads(0)
        self.assertTrue(np.array_equal(a["kspace"], two["kspace"]))
        self.assertTrue(np.array_equal(a["target"], two["target"]))
        b = rb.simulate_slice("ci", SEED, volume=1)  # the same plan, first pass
        self.assertEqual(a["fname"], b["fname"].replace(".h5", "_r1.h5"))
        self.assertFalse(np.array_equal(a["target"], b["target"]))

    def test_shards_partition_the_stream(self):
        whole = [(s["fname"], s["slice_num"]) for s in self.whole]
        parts = [(s["fname"], s["slice_num"]) for i in range(2)
                 for s in rb.SimulatedSlices("ci", seed=SEED, volumes=4).shard(i, 2)]
        self.assertEqual(sorted(whole), sorted(parts))
        self.assertEqual(len(set(whole)), len(whole))
        endless = iter(rb.SimulatedSlices("ci", seed=SEED))
        self.assertEqual([next(endless)["fname"] for _ in range(5)][-1], whole[4][0])

    def test_pytorch_dataloader_with_forked_workers(self):
        import torch  # Debian's python3-torch; reconbench itself never imports it

        class Sim(torch.utils.data.IterableDataset):
            def __iter__(self):
                src = rb.SimulatedSlices("ci", seed=SEED, volumes=4)
                w = torch.utils.data.get_worker_info()
                if w is not None:
                    src = src.shard(w.id, w.num_workers)
                for s in src:
                    yield torch.from_numpy(s["kspace"]), torch.from_numpy(s["target"]), \
                        s["fname"], s["slice_num"]

        rb.set_num_threads(2)  # the parent's thread pool exists before the workers fork
        try:
            direct = {(s["fname"], s["slice_num"]): s["target"] for s in self.whole}
            loader = torch.utils.data.DataLoader(Sim(), batch_size=None, num_workers=2,
                                                 multiprocessing_context="fork")
            got = {}
            for k, t, fname, s in loader:
                self.assertEqual(k.dtype, torch.complex64)
                got[(fname, s)] = t.numpy()
        finally:
            rb.set_num_threads(0)
        self.assertEqual(sorted(got), sorted(direct))
        for key, t in got.items():
            self.assertTrue(np.array_equal(t, direct[key]), key)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "unknown profile 'huge'"):
            rb.simulate_slice("huge")
        with self.assertRaisesRegex(ValueError, "unknown split 'dev'"):
            rb.simulate_slice("ci", split="dev")
        with self.assertRaisesRegex(ValueError, "slice 9 out of range"):
            rb.simulate_slice("ci", SEED, slice=9)
        with self.assertRaisesRegex(ValueError, "shard 2 of 2"):
            rb.SimulatedSlices(shard_index=2, shard_count=2)


if __name__ == "__main__":
    unittest.main()
