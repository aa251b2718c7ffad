#!/usr/bin/python3
"""Oracle: reconbench.recon against `reconbench recon` on the same simulated test files
(bit-identical volumes for sense, zero-filled, grappa, cs-wavelet and the learned unet,
varnet, unet-grappa and varnet-grappa, which load the LibTorch plugin; classical methods
never map LibTorch); fft2c/ifft2c/rss against numpy with fastMRI's conventions; espirit
against `bart ecalib`; read_fastmri/write_fastmri against h5py; a SIGINT stops a long
reconstruction with KeyboardInterrupt.
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import h5py
import numpy as np

import reconbench as rb

RB = os.environ.get("RECONBENCH", "reconbench")
SRC = os.environ["RECONBENCH_SOURCE_DIR"]
UNET = os.path.join(SRC, "models", "unet_small.pt")


def run(*args):
    p = subprocess.run([RB, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"reconbench {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def fft2c_np(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def ifft2c_np(x):
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


class Data:
    tmp = None

    @classmethod
    def get(cls):
        """ci test files (4X and 8X, one with PE padding) written by `reconbench simulate`."""
        if cls.tmp is None:
            cls.tmp = tempfile.TemporaryDirectory()
            run("simulate", "--profile", "ci", "--seed", "22", "--splits", "test", "--no-truth",
                "--out", cls.tmp.name)
            cls.files = sorted(glob.glob(os.path.join(cls.tmp.name, "multicoil_test", "*.h5")))
            assert len(cls.files) == 2, cls.files
        return cls


class ReconAgainstCli(unittest.TestCase):
    def check_method(self, method, params=(), kwargs=None, weights=None):
        d = Data.get()
        out = os.path.join(d.tmp.name, "recon_" + method)
        args = ["recon", "--method", method, os.path.dirname(d.files[0]), "--out", out]
        for p in params:
            args += ["--param", p]
        if weights:
            args += ["--weights", weights]
        run(*args)
        for f in d.files:
            v = rb.read_fastmri(f)
            got = rb.recon(method, v["kspace"], v["mask"], header=v["ismrmrd_header"],
                           num_low_frequency=v["attrs"]["num_low_frequency"],
                           weights=weights or "", **(kwargs or {}))
            with h5py.File(os.path.join(out, os.path.basename(f)), "r") as h:
                ref = h["reconstruction"][()]
            with self.subTest(method=method, file=os.path.basename(f)):
                self.assertEqual(got.dtype, np.float32)
                self.assertEqual(got.shape, ref.shape)
                self.assertTrue(np.array_equal(got, ref), f"max |diff| {np.abs(got - ref).max()}")

    def test_sense_equals_the_cli(self):
        self.check_method("sense")
        self.check_method("sense", ["iter=5", "maps=2", "lambda=0.02"],
                          {"iter": 5, "maps": 2, "lambda": 0.02})

    def test_zero_filled_grappa_and_cs_equal_the_cli(self):
        self.check_method("zero-filled")
        self.check_method("grappa")
        self.check_method("cs-wavelet", ["iter=5", "cycle_spin=0"], {"iter": 5, "cycle_spin": False})
        self.check_method("cs-tv", ["iter=20", "rho=0.7"], {"iter": 20, "rho": 0.7})

    def test_learned_methods_equal_the_cli(self):
        self.check_method("unet", weights=UNET)
        self.check_method("varnet")  # default weights: models/varnet_small.pt

    def test_grappa_initialised_methods_equal_the_cli(self):
        # weights of one tiny training step on the simulator (no shipped weights for these)
        for kind in ("unet-grappa", "varnet-grappa"):
            out = os.path.join(Data.get().tmp.name, "train_" + kind)
            run("train", "--model", kind, "--data", "sim:ci:3", "--out", out, "--max-steps", "1",
                "--epochs", "1", "--epoch-steps", "1", "--chans", "4", "--pools", "1",
                "--cascades", "1", "--sens-chans", "2", "--sens-pools", "1",
                "--max-val-files", "1", "--sim-block", "1")
            weights = os.path.join(out, "model.pt")
            self.check_method(kind, weights=weights)
            self.check_method(kind, ["coils=2"], {"coils": 2}, weights=weights)

    def test_single_slice_and_fastmri_mask_shape(self):
        v = rb.read_fastmri(Data.get().files[0])
        vol = rb.recon("zero-filled", v["kspace"], v["mask"], header=v["ismrmrd_header"])
        one = rb.recon("zero-filled", v["kspace"][1], v["mask"].reshape(1, 1, -1, 1),
                       header=v["ismrmrd_header"])
        self.assertTrue(np.array_equal(one, vol[1]))

    def test_errors_carry_the_cli_messages(self):
        d = Data.get()
        v = rb.read_fastmri(d.files[0])
        p = subprocess.run([RB, "recon", "--method", "sense", "--param", "bogus=1",
                            os.path.dirname(d.files[0]), "--out", os.path.join(d.tmp.name, "x")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        with self.assertRaises(ValueError) as e:
            rb.recon("sense", v["kspace"], v["mask"], bogus=1)
        self.assertIn(str(e.exception), p.stderr)
        with self.assertRaisesRegex(ValueError, "unknown reconstruction method 'nope'.*varnet"):
            rb.recon("nope", v["kspace"], v["mask"])
        with self.assertRaisesRegex(ValueError, "mask has 7 entries"):
            rb.recon("zero-filled", v["kspace"], np.ones(7))

    def test_methods_list_the_cli_parameters(self):
        listing = run("recon", "--list-methods").stdout
        methods = rb.methods()
        self.assertEqual(sorted(methods), ["cs-tv", "cs-wavelet", "dualnet", "dualnet-grappa",
                                           "grappa", "jointicnet", "recurrentvarnet", "sense",
                                           "unet", "unet-grappa", "varnet", "varnet-grappa",
                                           "zero-filled"])
        self.assertIn("iter", [p["key"] for p in methods["sense"]["params"]])
        for name, m in methods.items():
            self.assertIn(f"`{name}`", listing)
            for p in m["params"]:
                self.assertIn(f"`{p['key']}={p['default']}` ({p['type']})", listing, name)

    def test_classical_methods_do_not_map_libtorch(self):
        # Classical methods, metrics and the method listing (learned ones included, as the
        # CLI's --list-methods) leave LibTorch unmapped; building a learned method maps it.
        f = Data.get().files[0]
        code = ("import reconbench as rb; v = rb.read_fastmri(%r)\n"
                "rb.recon('sense', v['kspace'], v['mask'], header=v['ismrmrd_header'], iter=2)\n"
                "rb.ssim(np.ones((1, 8, 8)), np.ones((1, 8, 8)))\n"
                "classical, listed = rb.methods(learned=False), rb.methods()\n"
                "torch = lambda: 'libtorch' in open('/proc/self/maps').read()\n"
                "before = torch()\n"
                "try:\n"
                "    rb.recon('unet', np.zeros((1, 2, 32, 32), np.complex64), weights='/none.pt')\n"
                "except ValueError:\n"
                "    pass\n"
                "print(','.join(sorted(classical)), 'unet-grappa' in listed, before, torch())\n"
                ) % f
        p = subprocess.run([sys.executable, "-c", "import numpy as np\n" + code],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["cs-tv,cs-wavelet,grappa,sense,zero-filled", "True",
                                            "False", "True"])

    def test_a_missing_plugin_is_a_clear_error(self):
        pkg = os.path.dirname(rb.__file__)
        with tempfile.TemporaryDirectory() as t:
            os.makedirs(os.path.join(t, "reconbench"))
            for f in os.listdir(pkg):
                if f.endswith(".py") or f.startswith("_reconbench"):
                    os.symlink(os.path.join(pkg, f), os.path.join(t, "reconbench", f))
            code = ("import numpy as np, reconbench as rb\n"
                    "try:\n    rb.recon('unet', np.zeros((2, 32, 32), np.complex64))\n"
                    "except ValueError as e:\n    print(e)\n")
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=t))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("learned methods need the LibTorch plugin", p.stdout)
        self.assertIn(os.path.join(t, "reconbench", "libreconbench_ml.so"), p.stdout)

    def test_sigint_stops_a_long_reconstruction(self):
        v = rb.read_fastmri(Data.get().files[0])
        k, m = v["kspace"][:1], v["mask"]
        t0 = time.perf_counter()
        rb.recon("cs-tv", k, m, iter=20)
        per_iter = (time.perf_counter() - t0) / 20
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        t0 = time.perf_counter()
        with self.assertRaises(KeyboardInterrupt):
            rb.recon("cs-tv", k, m, iter=int(60 / per_iter))  # ~60 s uninterrupted
        self.assertLess(time.perf_counter() - t0, 5.0)
        timer.join()
        again = rb.recon("cs-tv", k, m, iter=3)  # the interrupt flag was reset
        self.assertEqual(again.shape[0], 1)

    def test_heavy_calls_release_the_gil(self):
        v = rb.read_fastmri(Data.get().files[0])
        k, m = v["kspace"][:1], v["mask"]
        count, stop = [0], threading.Event()

        def spin():
            while not stop.is_set():
                count[0] += 1

        th = threading.Thread(target=spin)
        th.start()
        try:
            c0, t0 = count[0], time.perf_counter()
            time.sleep(0.3)  # baseline: the GIL is free
            rate = (count[0] - c0) / (time.perf_counter() - t0)
            c0, t0 = count[0], time.perf_counter()
            rb.recon("cs-tv", k, m, iter=300)
            during = (count[0] - c0) / (time.perf_counter() - t0)
        finally:
            stop.set()
            th.join()
        # Held, the spinning thread would get at most one 5 ms switch interval.
        self.assertGreater(during, 0.2 * rate, f"{during:.0f}/s during the call, {rate:.0f}/s idle")


class Transforms(unittest.TestCase):
    def test_fft2c_ifft2c_rss_against_numpy(self):
        rng = np.random.default_rng(0)
        for shape in ((4, 32, 24), (2, 3, 17, 31), (9, 8)):
            x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
            with self.subTest(shape=shape):
                np.testing.assert_allclose(rb.fft2c(x), fft2c_np(x.astype(np.complex128)),
                                           rtol=0, atol=2e-5 * np.abs(x).max() * np.sqrt(x.size))
                np.testing.assert_allclose(rb.ifft2c(x), ifft2c_np(x.astype(np.complex128)),
                                           rtol=0, atol=2e-5 * np.abs(x).max() * np.sqrt(x.size))
                self.assertEqual(rb.fft2c(x).dtype, np.complex64)
                if len(shape) >= 3:
                    ref = np.sqrt((np.abs(x.astype(np.complex128)) ** 2).sum(axis=-3))
                    np.testing.assert_allclose(rb.rss(x), ref, rtol=1e-6)
                    np.testing.assert_allclose(rb.rss(np.abs(x)), ref, rtol=1e-6)
        with self.assertRaisesRegex(ValueError, "third from last"):
            rb.rss(np.ones((2, 3, 4, 5), np.float32), axis=0)


class Espirit(unittest.TestCase):
    def test_maps_agree_with_bart_ecalib(self):
        v = rb.read_fastmri(Data.get().files[0], slice=1)
        k = v["kspace"]  # [coil read phase]
        maps, eig = rb.espirit(k, maps=1, return_eigenvalues=True)
        self.assertEqual(maps.shape, (1,) + k.shape)
        with tempfile.TemporaryDirectory() as t:
            # BART .cfl: dims [read phase 1 coil], column-major complex64
            kb = np.transpose(k, (1, 2, 0))[:, :, None, :]
            with open(os.path.join(t, "k.hdr"), "w") as f:
                f.write("# Dimensions\n" + " ".join(map(str, kb.shape)) + " 1" * 12 + "\n")
            kb.astype(np.complex64).ravel(order="F").tofile(os.path.join(t, "k.cfl"))
            subprocess.run(["bart", "ecalib", "-m1", os.path.join(t, "k"), os.path.join(t, "s")],
                           check=True, capture_output=True)
            with open(os.path.join(t, "s.hdr")) as f:
                dims = [int(x) for x in f.read().split("\n")[1].split()]
            s = np.fromfile(os.path.join(t, "s.cfl"), np.complex64).reshape(dims[:5], order="F")
            self.assertEqual(int(np.prod(dims[5:])), 1)
        sb = np.transpose(s[:, :, 0, :, 0], (2, 0, 1))  # [coil read phase]
        ours = maps[0]
        kept_ours, kept_bart = np.linalg.norm(ours, axis=0) > 0.5, np.linalg.norm(sb, axis=0) > 0.5
        self.assertLess((kept_ours != kept_bart).mean(), 0.05)  # the same pixels cropped
        inside = kept_ours & kept_bart
        self.assertGreater(inside.mean(), 0.2)
        ip = np.abs((np.conj(ours) * sb).sum(axis=0))[inside]
        agree = ip / (np.linalg.norm(ours, axis=0) * np.linalg.norm(sb, axis=0))[inside]
        self.assertGreater(np.median(agree), 0.999)
        self.assertGreater(np.percentile(agree, 5), 0.99)


class Files(unittest.TestCase):
    def test_read_write_against_h5py(self):
        f = Data.get().files[0]
        v = rb.read_fastmri(f)
        with h5py.File(f, "r") as h:
            self.assertTrue(np.array_equal(v["kspace"], h["kspace"][()]))
            self.assertTrue(np.array_equal(v["mask"], h["mask"][()].astype(np.float32)))
            self.assertEqual(v["ismrmrd_header"].encode(), h["ismrmrd_header"][()])
            for key in ("acquisition", "patient_id", "acceleration", "num_low_frequency"):
                self.assertEqual(v["attrs"][key], h.attrs[key], key)
            self.assertNotIn("reconstruction_rss", v)
        s = rb.read_fastmri(f, slice=-1)
        self.assertTrue(np.array_equal(s["kspace"], v["kspace"][-1]))
        with tempfile.TemporaryDirectory() as t:
            out = os.path.join(t, "copy.h5")
            rb.write_fastmri(out, **v)
            w = rb.read_fastmri(out)
            self.assertEqual(sorted(w), sorted(v))
            for key in ("kspace", "mask"):
                self.assertTrue(np.array_equal(w[key], v[key]))
            self.assertEqual(w["attrs"], v["attrs"])
            with h5py.File(out, "r") as h:
                self.assertEqual(h["kspace"].dtype, np.complex64)
            gt = np.random.default_rng(1).random((2, 16, 16)).astype(np.float32)
            rb.write_reconstruction(os.path.join(t, "r.h5"), gt, acquisition="AXT2")
            with h5py.File(os.path.join(t, "r.h5"), "r") as h:
                self.assertTrue(np.array_equal(h["reconstruction"][()], gt))
                self.assertEqual(h.attrs["acquisition"], "AXT2")
            self.assertTrue(np.array_equal(rb.read_reconstruction(os.path.join(t, "r.h5")), gt))
        with self.assertRaisesRegex(ValueError, "nope.h5"):
            rb.read_fastmri(os.path.join(os.path.dirname(f), "nope.h5"))
        with self.assertRaisesRegex(ValueError, "unknown attribute 'colour'"):
            rb.write_fastmri("/tmp/never.h5", v["kspace"], attrs={"colour": "red"})
        with self.assertRaisesRegex(ValueError, "attribute max='big' has the wrong type"):
            rb.write_fastmri("/tmp/never.h5", v["kspace"], attrs={"max": "big"})
        self.assertFalse(os.path.exists("/tmp/never.h5"))


if __name__ == "__main__":
    unittest.main()
