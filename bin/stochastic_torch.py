"""PyTorch reference of infozoo's `vae` and `vimae` at their zoo sizes (the VIMAE appendix's
WAE/DCGAN nets for MNIST), for side-by-side CPU timing with `infozoo bench` (issue 21).
Run it from a separate venv (the project does not depend on PyTorch):
    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch==2.13.0
    /work/venv-torch/bin/python bin/stochastic_torch.py --model vimae [--bf16] [--channels-last]
The nets (infozoo/nets/encoders.py, zoo_configs/vae.yaml, vimae.yaml): encoder 4 x (Conv 4x4
stride 2 SAME, no bias -> BN -> ReLU) with 128-256-512-1024 channels (28 -> 14 -> 7 -> 4 -> 2),
flatten, dense head to 2 z (vae: mu, softplus(s) + 1e-4) or z (vimae), z = 8; decoder FC to
7x7x1024 -> ReLU -> ConvT 4x4 stride 2 (512, 256; no bias, BN, ReLU) -> ConvT 4x4 stride 1 to
1 channel -> sigmoid. Loss: ||x - x_hat||^2 (sum) + KL (vae, beta 1) or + 10 MMD^2 (vimae:
unbiased, multi-scale IMQ, C = 2 d s, s in 0.1..10, against N(0, I) draws; encoder input noise
N(0, 0.01^2) clipped at 0.01). Adam lr 1e-3, beta1 0.5; training steps on random MNIST-shaped
data. TensorFlow's SAME padding of the even 4x4 kernels is asymmetric (1 before, 2 after at
stride 2); here the convs pad explicitly the same way, so the shapes and FLOPs agree.
Prints one `RESULT {json}` line (the format of ../shared/bench/inn_torch.py: median of timed
windows after warm-up, foreign CPU cores from /proc/stat).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", choices=("vae", "vimae"), default="vimae")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--windows", type=int, default=3)
p.add_argument("--steps", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--bf16", action="store_true")
p.add_argument("--channels-last", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
Z, ENC, DEC, K = 8, (128, 256, 512, 1024), (1024, 512, 256), 4


class SameConv(nn.Module):
    """Conv 4x4 stride 2 with TensorFlow's SAME padding (1 before, 2 after)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, K, stride=2, bias=False)

    def forward(self, x):
        return self.conv(F.pad(x, (1, 2, 1, 2)))


class Net(nn.Module):
    def __init__(self, gaussian):
        super().__init__()
        layers, c = [], 1
        for ch in ENC:
            layers += [SameConv(c, ch), nn.BatchNorm2d(ch, momentum=0.1), nn.ReLU()]
            c = ch
        self.enc = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(2 * 2 * 1024, 2 * Z if gaussian else Z)
        self.fc = nn.Linear(Z, 7 * 7 * DEC[0])
        layers, c = [], DEC[0]
        for ch in DEC[1:]:   # ConvT 4x4 stride 2 SAME: 7 -> 14 -> 28 (output_padding 0, pad 1)
            layers += [nn.ConvTranspose2d(c, ch, K, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(ch, momentum=0.1), nn.ReLU()]
            c = ch
        self.dec = nn.Sequential(*layers)
        self.out = nn.ConvTranspose2d(c, 1, K, stride=1, padding=0)   # then crop to SAME
        self.gaussian = gaussian

    def decode(self, z):
        h = F.relu(self.fc(z)).reshape(-1, DEC[0], 7, 7)
        if a.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        h = self.out(self.dec(h))[:, :, 1:29, 1:29]   # stride-1 4x4 SAME: 28 + 3 -> crop 28
        return torch.sigmoid(h)


def mmd_imq(x, y):
    n = x.shape[0]
    def k(a, b):
        d2 = (a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)
        return sum(c / (c + d2) for c in (2.0 * Z * s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10)))
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = lambda m: m.sum() - m.diagonal().sum()  # noqa: E731
    return off(kxx) / (n * (n - 1)) + off(kyy) / (n * (n - 1)) - 2 * kxy.mean()


net = Net(a.model == "vae")
x = torch.rand(a.batch, 1, 28, 28)
if a.channels_last:
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))


def loss_fn():
    if a.model == "vae":
        mu, s = net.head(net.enc(x)).float().chunk(2, 1)
        sigma = F.softplus(s) + 1e-4
        z = mu + sigma * torch.randn_like(mu)
        kl = 0.5 * (mu.pow(2) + sigma.pow(2) - 1 - 2 * torch.log(sigma)).sum(1)
        xh = net.decode(z).float()
        return ((xh - x).pow(2).flatten(1).sum(1) + kl).mean()
    noise = (0.01 * torch.randn_like(x)).clamp(-0.01, 0.01)
    z = net.head(net.enc(x + noise)).float()
    xh = net.decode(z).float()
    return (xh - x).pow(2).flatten(1).sum(1).mean() + 10.0 * mmd_imq(z, torch.randn_like(z))


def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        loss = loss_fn()
    loss.backward()
    opt.step()
    return loss


def busy():
    with open("/proc/stat") as f:
        v = [int(t) for t in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


step()  # warm-up (oneDNN primitive creation)
rates, foreign, own = [], [], []
for _ in range(a.windows):
    b0, c0, t0 = busy(), time.process_time(), time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    wall = time.perf_counter() - t0
    rates.append(a.steps * a.batch / wall)
    own.append((time.process_time() - c0) / wall)
    foreign.append(max(0.0, busy() - b0 - (time.process_time() - c0)) / wall)
assert torch.isfinite(loss), "loss not finite"
name = f"torch-{a.model}{'-cl' if a.channels_last else ''}{'-bf16' if a.bf16 else ''}-t{a.threads}"
print("RESULT " + json.dumps({
    "name": name, "images_per_s": statistics.median(rates),
    "images_per_s_windows": [round(r, 1) for r in rates], "foreign_cpu_cores": round(max(foreign), 2),
    "own_cpu_util": round(statistics.median(own), 2), "params": sum(q.numel() for q in net.parameters()), "torch": torch.__version__,
    "threads": torch.get_num_threads()}), flush=True)
