"""PyTorch-Python peer of bench_ml.cpp: the same U-Net / VarNet (written from the fastMRI
spec in tests/oracle/test_ml_parity.py), same sizes, same thread count
(RECONBENCH_THREADS, default 1). Prints 'unet_ms varnet_ms unet_train_ms'; with the
argument varnet_train, the VarNet training step instead (fastMRI's SSIMLoss and Adam, 8
coils, 320x320): 'wall_ms cpu_ms peak_rss_mib' per step (run it in its own process for the
peak RSS; CPU time is the fair measure on a shared machine)."""
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
os.environ.setdefault("RECONBENCH", "unused")
from test_ml_parity import Unet, VarNet  # noqa: E402

torch.set_num_threads(int(os.environ.get("RECONBENCH_THREADS", "1")))
torch.manual_seed(0)


def timeit(f, n):
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1e3


def bench_mask():
    mask = torch.zeros(320, dtype=torch.bool)
    mask[::4] = True
    mask[147:173] = True
    return mask.view(1, 1, 1, 320, 1)


class SSIMLoss(torch.nn.Module):  # fastmri/losses.py
    def __init__(self, win_size=7, k1=0.01, k2=0.03):
        super().__init__()
        self.win_size, self.k1, self.k2 = win_size, k1, k2
        self.register_buffer("w", torch.ones(1, 1, win_size, win_size) / win_size ** 2)
        np_ = win_size ** 2
        self.cov_norm = np_ / (np_ - 1)

    def forward(self, X, Y, data_range):
        data_range = data_range[:, None, None, None]
        C1, C2 = (self.k1 * data_range) ** 2, (self.k2 * data_range) ** 2
        F = torch.nn.functional
        ux, uy = F.conv2d(X, self.w), F.conv2d(Y, self.w)
        uxx, uyy, uxy = F.conv2d(X * X, self.w), F.conv2d(Y * Y, self.w), F.conv2d(X * Y, self.w)
        vx, vy = self.cov_norm * (uxx - ux * ux), self.cov_norm * (uyy - uy * uy)
        vxy = self.cov_norm * (uxy - ux * uy)
        A1, A2, B1, B2 = 2 * ux * uy + C1, 2 * vxy + C2, ux ** 2 + uy ** 2 + C1, vx + vy + C2
        return 1 - (A1 * A2 / (B1 * B2)).mean()


if len(sys.argv) > 1 and sys.argv[1] == "varnet_train":
    vn = VarNet(12, 8, 4, 18, 4)
    loss_fn = SSIMLoss()
    opt = torch.optim.Adam(vn.parameters(), lr=3e-4)
    mask = bench_mask()
    k = torch.randn(1, 8, 320, 320, 2) * mask
    target, rng = torch.rand(1, 1, 320, 320), torch.ones(1)

    def vstep():
        opt.zero_grad()
        loss_fn(vn(k, mask).unsqueeze(1), target, rng).backward()
        opt.step()

    vstep()  # warm-up
    c0 = time.process_time()
    ms = timeit(vstep, 3)  # one more warm-up inside, then 3 timed steps
    cpu_ms = (time.process_time() - c0) / 4 * 1e3
    print(f"{ms:.1f} {cpu_ms:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    sys.exit(0)

unet = Unet(1, 1, 32, 4).eval()
x = torch.randn(1, 1, 320, 320)
with torch.no_grad():
    u = timeit(lambda: unet(x), 5)
    vn = VarNet(12, 8, 4, 18, 4).eval()
    mask = bench_mask()
    k = torch.randn(1, 8, 320, 320, 2) * mask
    v = timeit(lambda: vn(k, mask), 2)
net = Unet(1, 1, 32, 4)
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
y = torch.randn(1, 1, 320, 320)


def step():
    opt.zero_grad()
    torch.nn.functional.l1_loss(net(x), y).backward()
    opt.step()


t = timeit(step, 3)
print(f"{u:.1f} {v:.1f} {t:.1f}")
