#!/usr/bin/python3
"""Peer for the eval benchmark (issue 4): fastMRI's evaluate.py with scikit-image, beside
`reconbench eval` on the same directory of volumes, in the same run.

  eval_peer.py make-data DIR [--volumes 8 --slices 16 --size 320]
      writes DIR/gt/*.h5 (reconstruction_rss, attrs acquisition/acceleration) and
      DIR/pred/*.h5 (reconstruction): brain-like magnitude volumes in chi noise
  eval_peer.py evaluate --target DIR --predictions DIR [--json]
      evaluate.py exactly: per target file, h5py read, centre crop to (W, W), SSIM per slice
      (skimage defaults, data_range = volume max) averaged, PSNR, NMSE; prints the seconds
  eval_peer.py ssim-volume [--slices 16 --size 320]
      seconds for the SSIM of one 16x320x320 float32 volume (the peer of bench_eval's
      BM_SsimVolume), median of 5
  eval_peer.py compare --reconbench BIN [--data DIR] [--threads 1,2]
      both on the same directory: median wall times, the ratio, reconbench's throughput in
      GB/s of images read, and the largest per-volume difference of SSIM/PSNR/NMSE
      (must be <= 1e-6). Exit status 1 if the numbers differ.

Run with Debian's /usr/bin/python3 (numpy, h5py, scikit-image 0.19). Single-threaded like
evaluate.py.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def center_crop(data, shape):
    w_from = (data.shape[-2] - shape[0]) // 2
    h_from = (data.shape[-1] - shape[1]) // 2
    return data[..., w_from:w_from + shape[0], h_from:h_from + shape[1]]


def nmse(gt, pred):
    return np.linalg.norm(gt - pred) ** 2 / np.linalg.norm(gt) ** 2


def psnr(gt, pred, maxval):
    return peak_signal_noise_ratio(gt, pred, data_range=maxval)


def ssim(gt, pred, maxval):
    return np.mean([structural_similarity(gt[s], pred[s], data_range=maxval)
                    for s in range(gt.shape[0])])


def evaluate(target_dir, pred_dir):
    """fastmri/evaluate.py's loop (multicoil: key reconstruction_rss)."""
    out = {}
    for name in sorted(os.listdir(target_dir)):
        if not name.endswith(".h5"):
            continue
        with h5py.File(os.path.join(target_dir, name), "r") as t, \
                h5py.File(os.path.join(pred_dir, name), "r") as r:
            target = t["reconstruction_rss"][()]
            recons = r["reconstruction"][()]
            target = center_crop(target, (target.shape[-1], target.shape[-1]))
            recons = center_crop(recons, (target.shape[-1], target.shape[-1]))
            maxval = target.max()
            out[name] = dict(ssim=float(ssim(target, recons, maxval)),
                             psnr=float(psnr(target, recons, maxval)),
                             nmse=float(nmse(target, recons)))
    return out


def brain_volume(rng, slices, n):
    yy, xx = np.mgrid[0:n, 0:n]
    vol = np.empty((slices, n, n), np.float32)
    for s in range(slices):
        e = ((yy - n / 2) / (0.41 * n - s)) ** 2 + ((xx - n / 2) / (0.33 * n)) ** 2
        img = np.where(e < 1, 0.6 + 0.3 * np.sin(yy * 0.2) * np.cos(xx * 0.17), 0.0)
        ch = rng.standard_normal((4, n, n)) * 0.03
        ch[0] += img
        vol[s] = np.sqrt((ch ** 2).sum(0)) * 1e-4
    return vol


def make_data(root, volumes, slices, size):
    rng = np.random.default_rng(4)
    os.makedirs(os.path.join(root, "gt"), exist_ok=True)
    os.makedirs(os.path.join(root, "pred"), exist_ok=True)
    acqs = ["AXT2", "AXFLAIR", "AXT1POST", "AXT1PRE", "AXT1"]
    for v in range(volumes):
        name = f"file_brain_{acqs[v % len(acqs)]}_bench_{v:03d}.h5"
        gt = brain_volume(rng, slices, size)
        pred = np.abs(gt + rng.normal(0, 2e-6, gt.shape)).astype(np.float32)
        with h5py.File(os.path.join(root, "gt", name), "w") as f:
            f.create_dataset("reconstruction_rss", data=gt)
            f.attrs["acquisition"] = acqs[v % len(acqs)]
            f.attrs["acceleration"] = 4 if v % 2 == 0 else 8
            f.attrs["max"] = float(gt.max())
        with h5py.File(os.path.join(root, "pred", name), "w") as f:
            f.create_dataset("reconstruction", data=pred)


def image_bytes(root):
    total = 0
    for sub, key in (("gt", "reconstruction_rss"), ("pred", "reconstruction")):
        for name in os.listdir(os.path.join(root, sub)):
            with h5py.File(os.path.join(root, sub, name), "r") as f:
                total += f[key].size * f[key].dtype.itemsize
    return total


def time_startup(binary, repeats=5):
    """Median wall seconds of `reconbench --version` (process start: loading the shared
    libraries; LibTorch is not loaded by eval), subtracted to report the evaluation itself."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([binary, "--version"], capture_output=True)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_peer_process(root, repeats=3):
    """Median wall seconds of evaluate.py's loop run as its own process, as a user runs it
    (/usr/bin/python3 start, numpy/h5py/scikit-image imports, reads, metrics)."""
    cmd = [sys.executable, os.path.abspath(__file__), "evaluate", "--target",
           os.path.join(root, "gt"), "--predictions", os.path.join(root, "pred")]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_reconbench(binary, root, threads, repeats=5):
    cmd = [binary, "--threads", str(threads), "eval", "--target", os.path.join(root, "gt"),
           "--predictions", os.path.join(root, "pred"), "--json"]
    env = dict(os.environ, RECONBENCH_PROGRESS="0")
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"reconbench eval failed:\n{p.stderr}")
        out = json.loads(p.stdout)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-data")
    m.add_argument("dir")
    m.add_argument("--volumes", type=int, default=8)
    m.add_argument("--slices", type=int, default=16)
    m.add_argument("--size", type=int, default=320)
    e = sub.add_parser("evaluate")
    e.add_argument("--target", required=True)
    e.add_argument("--predictions", required=True)
    e.add_argument("--json", action="store_true")
    s = sub.add_parser("ssim-volume")
    s.add_argument("--slices", type=int, default=16)
    s.add_argument("--size", type=int, default=320)
    c = sub.add_parser("compare")
    c.add_argument("--reconbench", required=True)
    c.add_argument("--data", help="existing make-data directory (default: a temporary one)")
    c.add_argument("--threads", default="1,2")
    c.add_argument("--volumes", type=int, default=8)
    a = ap.parse_args()

    if a.cmd == "make-data":
        make_data(a.dir, a.volumes, a.slices, a.size)
    elif a.cmd == "evaluate":
        t = time.perf_counter()
        res = evaluate(a.target, a.predictions)
        dt = time.perf_counter() - t
        print(json.dumps({"seconds": dt, "volumes": res}, indent=1) if a.json else f"{dt:.6f}")
    elif a.cmd == "ssim-volume":
        rng = np.random.default_rng(1)
        gt = brain_volume(rng, a.slices, a.size)
        pred = np.abs(gt + rng.normal(0, 2e-6, gt.shape)).astype(np.float32)
        times, cpu = [], []
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            ssim(gt, pred, gt.max())
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        # median wall seconds, then median CPU seconds (robust on a shared machine)
        print(f"{np.median(times):.6f} {np.median(cpu):.6f}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            root = a.data or tmp
            if not a.data:
                make_data(root, a.volumes, 16, 320)
            nbytes = image_bytes(root)
            t = time.perf_counter()
            ref = evaluate(os.path.join(root, "gt"), os.path.join(root, "pred"))
            t_py = time.perf_counter() - t
            print(f"skimage evaluate.py ({len(ref)} volumes 16x320x320, 1 thread): {t_py:8.3f} s")
            t_pyproc = time_peer_process(root)
            print(f"skimage evaluate.py as a process (interpreter start and imports included): {t_pyproc:8.3f} s")
            worst = 0.0
            t0 = time_startup(a.reconbench)
            print(f"reconbench process start (--version): {t0:8.3f} s")
            for threads in [int(x) for x in a.threads.split(",")]:
                t_rb, out = time_reconbench(a.reconbench, root, threads)
                got = {v["file"]: v for v in out["volumes"]}
                if sorted(got) != sorted(ref) or out["errors"]:
                    sys.exit(f"reconbench evaluated {sorted(got)} with errors {out['errors']}")
                for name, r in ref.items():
                    for k in ("ssim", "psnr", "nmse"):
                        worst = max(worst, abs(got[name][k] - r[k]))
                t_ev = max(t_rb - t0, 1e-6)
                print(f"reconbench eval --threads {threads} as a process vs evaluate.py as a process: "
                      f"{t_rb:8.3f} s vs {t_pyproc:8.3f} s  ratio {t_pyproc / t_rb:6.1f}x (issue 19 target >= 8x)")
                print(f"reconbench eval --threads {threads} (process, incl. HDF5 read + masked metrics): "
                      f"{t_rb:8.3f} s  ratio skimage/reconbench = {t_py / t_rb:6.1f}x; without process "
                      f"start {t_ev:8.3f} s  ratio {t_py / t_ev:6.1f}x  "
                      f"throughput {nbytes / t_ev / 1e9:5.2f} GB/s of images read")
            print(f"largest |difference| of SSIM/PSNR/NMSE vs evaluate.py: {worst:.2e} "
                  f"({'OK' if worst <= 1e-6 else 'FAIL'}: tolerance 1e-6)")
            if worst > 1e-6:
                sys.exit(1)


if __name__ == "__main__":
    main()
