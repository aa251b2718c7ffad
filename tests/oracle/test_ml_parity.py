"""Parity oracle: the fastMRI U-Net and E2E-VarNet written from the spec
(fastmri-reference.md §1e; fastmri/models/unet.py, varnet.py) in Debian's python3-torch,
random weights exported as a plain state_dict, imported with `reconbench convert-weights`,
run by `reconbench recon --method unet|varnet` on fastMRI files with odd sizes and several
coil counts; the outputs must agree to 1e-5 (relative to the image maximum).
"""
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RB = os.environ["RECONBENCH"]
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)


# ---------------------------------------------------------------- reference models (spec)
class ConvBlock(nn.Module):
    def __init__(self, i, o, p):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(i, o, 3, padding=1, bias=False), nn.InstanceNorm2d(o),
            nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(p),
            nn.Conv2d(o, o, 3, padding=1, bias=False), nn.InstanceNorm2d(o),
            nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(p))

    def forward(self, x):
        return self.layers(x)


class TransposeConvBlock(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.layers = nn.Sequential(nn.ConvTranspose2d(i, o, 2, stride=2, bias=False),
                                    nn.InstanceNorm2d(o), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x):
        return self.layers(x)


class Unet(nn.Module):
    def __init__(self, cin, cout, chans=32, pools=4, p=0.0):
        super().__init__()
        self.down_sample_layers = nn.ModuleList([ConvBlock(cin, chans, p)])
        ch = chans
        for _ in range(pools - 1):
            self.down_sample_layers.append(ConvBlock(ch, ch * 2, p))
            ch *= 2
        self.conv = ConvBlock(ch, ch * 2, p)
        self.up_conv = nn.ModuleList()
        self.up_transpose_conv = nn.ModuleList()
        for _ in range(pools - 1):
            self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch))
            self.up_conv.append(ConvBlock(ch * 2, ch, p))
            ch //= 2
        self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch))
        self.up_conv.append(nn.Sequential(ConvBlock(ch * 2, ch, p), nn.Conv2d(ch, cout, 1)))

    def forward(self, x):
        stack = []
        for layer in self.down_sample_layers:
            x = layer(x)
            stack.append(x)
            x = F.avg_pool2d(x, 2, 2, 0)
        x = self.conv(x)
        for tconv, conv in zip(self.up_transpose_conv, self.up_conv):
            skip = stack.pop()
            x = tconv(x)
            pad = [0, 0, 0, 0]
            if x.shape[-1] != skip.shape[-1]:
                pad[1] = 1
            if x.shape[-2] != skip.shape[-2]:
                pad[3] = 1
            if sum(pad):
                x = F.pad(x, pad, "reflect")
            x = conv(torch.cat([x, skip], 1))
        return x


def fft2c(x):
    c = torch.view_as_complex(x.contiguous())
    c = torch.fft.fftshift(torch.fft.fftn(torch.fft.ifftshift(c, (-2, -1)), dim=(-2, -1),
                                          norm="ortho"), (-2, -1))
    return torch.view_as_real(c)


def ifft2c(x):
    c = torch.view_as_complex(x.contiguous())
    c = torch.fft.fftshift(torch.fft.ifftn(torch.fft.ifftshift(c, (-2, -1)), dim=(-2, -1),
                                           norm="ortho"), (-2, -1))
    return torch.view_as_real(c)


def cmul(x, y):
    return torch.stack([x[..., 0] * y[..., 0] - x[..., 1] * y[..., 1],
                        x[..., 0] * y[..., 1] + x[..., 1] * y[..., 0]], -1)


def conj(x):
    return torch.stack([x[..., 0], -x[..., 1]], -1)


class NormUnet(nn.Module):
    def __init__(self, chans, pools):
        super().__init__()
        self.unet = Unet(2, 2, chans, pools)

    def forward(self, x):
        b, c, h, w, two = x.shape
        x = x.permute(0, 4, 1, 2, 3).reshape(b, 2 * c, h, w)
        g = x.view(b, 2, c * h * w)
        mean = g.mean(dim=2).view(b, 2, 1, 1)
        std = g.std(dim=2).view(b, 2, 1, 1)
        x = (x - mean) / std
        wm, hm = ((w - 1) | 15) + 1, ((h - 1) | 15) + 1
        wp = [math.floor((wm - w) / 2), math.ceil((wm - w) / 2)]
        hp = [math.floor((hm - h) / 2), math.ceil((hm - h) / 2)]
        x = F.pad(x, wp + hp)
        x = self.unet(x)
        x = x[..., hp[0]:hm - hp[1], wp[0]:wm - wp[1]]
        x = x * std + mean
        return x.view(b, 2, c, h, w).permute(0, 2, 3, 4, 1).contiguous()


class SensitivityModel(nn.Module):
    def __init__(self, chans, pools):
        super().__init__()
        self.norm_unet = NormUnet(chans, pools)

    def forward(self, k, mask):
        m = mask[:, 0, 0, :, 0].to(torch.int8)
        cent = m.shape[1] // 2
        left = torch.argmin(m[:, :cent].flip(1), dim=1)
        right = torch.argmin(m[:, cent:], dim=1)
        nlf = torch.max(2 * torch.min(left, right), torch.ones_like(left))
        pad = (mask.shape[-2] - nlf + 1) // 2
        keep = torch.zeros(k.shape[-2])
        keep[int(pad[0]):int(pad[0] + nlf[0])] = 1
        k = k * keep.view(1, 1, 1, -1, 1)
        im = ifft2c(k)
        b, c, h, w, two = im.shape
        s = self.norm_unet(im.view(b * c, 1, h, w, 2)).view(b, c, h, w, 2)
        return s / (s ** 2).sum(-1).sum(1).sqrt().unsqueeze(-1).unsqueeze(1)


class VarNetBlock(nn.Module):
    def __init__(self, chans, pools):
        super().__init__()
        self.model = NormUnet(chans, pools)
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward(self, cur, ref, mask, sens):
        zero = torch.zeros(1, 1, 1, 1, 1)
        dc = torch.where(mask, cur - ref, zero) * self.dc_weight
        red = cmul(ifft2c(cur), conj(sens)).sum(dim=1, keepdim=True)
        return cur - dc - fft2c(cmul(self.model(red), sens))


class VarNet(nn.Module):
    def __init__(self, cascades, sens_chans, sens_pools, chans, pools):
        super().__init__()
        self.sens_net = SensitivityModel(sens_chans, sens_pools)
        self.cascades = nn.ModuleList([VarNetBlock(chans, pools) for _ in range(cascades)])

    def forward(self, k, mask):
        sens = self.sens_net(k, mask)
        cur = k.clone()
        for c in self.cascades:
            cur = c(cur, k, mask, sens)
        return (ifft2c(cur) ** 2).sum(-1).sqrt().pow(2).sum(1).sqrt()


# ---------------------------------------------------------------- helpers
def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() > 1 else 1.0))
            if name.endswith("dc_weight"):
                p.copy_(torch.rand(1, generator=g) + 0.5)


def crop(x, h, w):
    H, W = x.shape[-2:]
    i, j = (H - h) // 2, (W - w) // 2
    return x[..., i:i + h, j:j + w]


def write_case(path, kspace, mask):
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace.astype(np.complex64))
        f.create_dataset("mask", data=mask.astype(np.float32))
        f.attrs["acquisition"] = "AXT2"


def run(*args):
    r = subprocess.run([RB, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def main():
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="rb_ml_parity_")
    cases = [(3, 48, 29), (1, 41, 33), (5, 64, 37)]  # (coils, read, phase): odd sizes
    for i, (c, h, w) in enumerate(cases):
        k = rng.standard_normal((2, c, h, w)) + 1j * rng.standard_normal((2, c, h, w))
        mask = np.zeros(w, np.float32)
        mask[::3] = 1
        p = (w - 6 + 1) // 2
        mask[p:p + 6] = 1
        k = k * mask
        write_case(os.path.join(tmp, f"case{i}.h5"), k, mask)

    torch.manual_seed(0)
    models = {
        "unet": Unet(1, 1, chans=8, pools=2),
        "varnet": VarNet(cascades=2, sens_chans=4, sens_pools=2, chans=6, pools=3),
    }
    worst = {}
    for name, model in models.items():
        randomise(model, 1 if name == "unet" else 2)
        model.eval()
        sd = os.path.join(tmp, f"{name}_sd.pt")
        torch.save(dict(model.state_dict()), sd)
        weights = os.path.join(tmp, f"{name}.pt")
        out = run("convert-weights", sd, "--out", weights)
        n = len(model.state_dict())
        assert f"{n} tensors" in out, out
        outdir = os.path.join(tmp, f"out_{name}")
        run("recon", "--method", name, "--weights", weights, tmp, "--out", outdir)
        worst[name] = 0.0
        for i, (c, h, w) in enumerate(cases):
            with h5py.File(os.path.join(tmp, f"case{i}.h5"), "r") as f:
                k = torch.view_as_real(torch.from_numpy(f["kspace"][()]))
                mask = torch.from_numpy(f["mask"][()])
            with h5py.File(os.path.join(outdir, f"case{i}.h5"), "r") as f:
                got = torch.from_numpy(f["reconstruction"][()])
            ch = cw = min(w, 320)  # no header: crop (320, 320) with the FLAIR-203 rule
            ch = min(ch, h)
            ref = []
            with torch.no_grad():
                for s in range(k.shape[0]):
                    ks = k[s:s + 1]
                    if name == "unet":
                        img = crop(((ifft2c(ks) ** 2).sum(-1)).sum(1).sqrt(), ch, cw)
                        mean, std = img.mean(), img.std()
                        x = ((img - mean) / (std + 1e-11)).clamp(-6, 6)
                        y = model(x.unsqueeze(1))[0, 0] * std + mean
                    else:
                        m = mask.bool().view(1, 1, 1, -1, 1)
                        y = crop(model(ks, m)[0], ch, cw)
                    ref.append(y)
            ref = torch.stack(ref)
            assert got.shape == ref.shape, (name, i, got.shape, ref.shape)
            err = float((got - ref).abs().max() / ref.abs().max())
            worst[name] = max(worst[name], err)
            print(f"{name} case {i} coils {c} {h}x{w}: max rel diff {err:.2e}")
    for name, err in worst.items():
        assert err < 1e-5, f"{name}: C++ and Python differ by {err:.3e} (> 1e-5)"
    print("parity OK", worst)


if __name__ == "__main__":
    main()
