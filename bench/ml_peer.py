"""PyTorch-Python peer of bench_ml.cpp: the same U-Net / VarNet (written from the fastMRI
spec in tests/oracle/test_ml_parity.py), same sizes, same thread count
(RECONBENCH_THREADS, default 1). Prints 'unet_ms varnet_ms unet_train_ms'."""
import os
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


unet = Unet(1, 1, 32, 4).eval()
x = torch.randn(1, 1, 320, 320)
with torch.no_grad():
    u = timeit(lambda: unet(x), 5)
    vn = VarNet(12, 8, 4, 18, 4).eval()
    mask = torch.zeros(320, dtype=torch.bool)
    mask[::4] = True
    mask[147:173] = True
    mask = mask.view(1, 1, 1, 320, 1)
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
