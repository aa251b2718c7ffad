"""numpy peer for bench_fft: fastMRI's ifft2c + rss on a 16x640x320 complex64 slice.
Prints the median seconds of 20 runs."""
import sys
import time

import numpy as np

rng = np.random.default_rng(1)
k = (rng.standard_normal((16, 640, 320)) + 1j * rng.standard_normal((16, 640, 320))).astype(np.complex64)
ax = (-2, -1)
times = []
for _ in range(20):
    t = time.perf_counter()
    img = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(k, axes=ax), axes=ax, norm="ortho"), axes=ax)
    r = np.sqrt((np.abs(img) ** 2).sum(axis=0))
    times.append(time.perf_counter() - t)
print(f"{np.median(times):.6f}")
if len(sys.argv) > 1:  # also write the data for the BART peer (column-major cfl)
    base = sys.argv[1]
    # BART dims [read phase 1 coil]: column-major means numpy order (coil, 1, phase, read).
    np.ascontiguousarray(np.transpose(k, (0, 2, 1))[:, None, :, :]).astype(np.complex64).tofile(base + ".cfl")
    with open(base + ".hdr", "w") as f:
        f.write("# Dimensions\n640 320 1 16 1 1 1 1 1 1 1 1 1 1 1 1\n")
