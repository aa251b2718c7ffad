"""Data-parallel training through c10d Gloo: two `reconbench train` processes (world size 2)
on tiny fastMRI files written here with h5py, first with a TCPStore rendezvous on 127.0.0.1,
then with a FileStore. After two epochs both ranks must hold identical weights (equal
parameter checksums), the result must not depend on the rendezvous, and another seed must
give other weights (the checksum is not trivially constant).
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RB = os.environ["RECONBENCH"]


def write_files(d):
    rng = np.random.default_rng(3)
    os.makedirs(d)
    for i in range(2):
        k = rng.standard_normal((3, 4, 32, 24)) + 1j * rng.standard_normal((3, 4, 32, 24))
        img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, (-2, -1)), norm="ortho"), (-2, -1))
        rss = np.sqrt((np.abs(img) ** 2).sum(1))[:, 8:24, 4:20].astype(np.float32)
        with h5py.File(os.path.join(d, f"file_brain_AXT2_200_{i}.h5"), "w") as f:
            f.create_dataset("kspace", data=k.astype(np.complex64))
            f.create_dataset("reconstruction_rss", data=rss)
            f.attrs["acquisition"] = "AXT2"
            f.attrs["max"] = float(rss.max())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def train2(data, out, extra, seed="5"):
    procs = []
    for r in range(2):
        procs.append(subprocess.Popen(
            [RB, "--threads", "1", "train", "--model", "unet", "--data", data, "--chans", "4",
             "--pools", "2", "--epochs", "2", "--seed", seed, "--world-size", "2", "--rank",
             str(r), "--out", os.path.join(out, f"r{r}"), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    sums = []
    for r, p in enumerate(procs):
        so, se = p.communicate(timeout=600)
        if p.returncode != 0:
            sys.exit(f"rank {r} failed ({p.returncode}):\n{se}")
        m = re.search(r"parameter checksum \(rank %d\): (\S+)" % r, so)
        assert m, so
        sums.append(float(m.group(1)))
    return sums


def main():
    tmp = tempfile.mkdtemp(prefix="rb_ml_ddp_")
    data = os.path.join(tmp, "train")
    write_files(data)
    tcp = train2(data, os.path.join(tmp, "tcp"), ["--master-port", str(free_port())])
    print("TCPStore checksums", tcp)
    assert tcp[0] == tcp[1], f"ranks differ after all-reduce training: {tcp}"
    assert os.path.exists(os.path.join(tmp, "tcp", "r0", "model.pt"))
    assert not os.path.exists(os.path.join(tmp, "tcp", "r1", "model.pt")), "only rank 0 writes"
    fst = train2(data, os.path.join(tmp, "file"), ["--dist-file", os.path.join(tmp, "store")])
    print("FileStore checksums", fst)
    assert fst[0] == fst[1], f"ranks differ: {fst}"
    # deterministic: the same seed gives the same result whatever the rendezvous
    assert abs(fst[0] - tcp[0]) < 1e-9 * max(1.0, abs(tcp[0])), (fst, tcp)
    other = train2(data, os.path.join(tmp, "seed6"), ["--master-port", str(free_port())], "6")
    assert other[0] == other[1] and other[0] != tcp[0], (other, tcp)
    print("distributed OK")


if __name__ == "__main__":
    main()
