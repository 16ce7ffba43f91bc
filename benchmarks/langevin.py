"""Langevin sampling and Langevin maximum likelihood: ebmlib against TorchEBM 0.8.9 and plain torch.

1. Sampling throughput: 10,000 chains x 100 unadjusted Langevin steps on an MLP energy (two
   hidden layers of 64 SiLU units) in 2-D and 32-D: ebmlib's ``samplers.langevin`` against
   TorchEBM's ``LangevinDynamics`` (the same update: TorchEBM's ``noise_scale=1`` is
   ebmlib's default ``sqrt(2 eps)``) and against the loop anyone would write in plain torch.
2. One training update of Langevin maximum likelihood (batch 256, 20 steps from a replay
   buffer, 5% re-initialised, Adam): ebmlib's ``objectives.LangevinML`` inside the update,
   against TorchEBM's ``ContrastiveDivergence(persistent=True)`` with the same sampler, and
   against a plain torch update.

Every side computes the same energy network; the ratios are times over ebmlib's (above 1:
ebmlib is faster). Target: no slower than either. TorchEBM runs only if installed
(``pip install -r benchmarks/requirements.txt``).

Run: python benchmarks/langevin.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import optional  # noqa: E402

from ebmlib import objectives, samplers  # noqa: E402
from ebmlib.models import MLPEnergy  # noqa: E402
from ebmlib.utils import make_generator, time_call  # noqa: E402

STEP = 0.01


def plain_langevin(model, x, n_steps, step):
    """The obvious loop: autograd for the score, then the update."""
    noise = (2 * step) ** 0.5
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.energy(x).sum(), x)
        x = x - step * grad + noise * torch.randn_like(x)
    return x.detach()


def torchebm_model(core, mlp):
    class Wrapped(core.BaseModel):
        def __init__(self):
            super().__init__()
            self.mlp = mlp

        def forward(self, x):
            return self.mlp.energy(x)

    return Wrapped()


def sampling(device, tebm_core, tebm_samplers):
    print("1. Sampling: 10,000 chains x 100 unadjusted Langevin steps (ms)")
    print(f"{'d':>5s}{'ebmlib':>10s}{'plain':>10s}{'plain/ebmlib':>14s}"
          + (f"{'TorchEBM':>10s}{'TorchEBM/ebmlib':>17s}" if tebm_core else ""))
    for d in (2, 32):
        model = MLPEnergy(d, (64, 64), generator=make_generator(0, "mlp", d)).to(device)
        x0 = torch.randn(10_000, d, device=device, generator=make_generator(0, "x", d, device=device))
        gen = make_generator(1, device=device)
        row = {
            "ebmlib": time_call(lambda: samplers.langevin(model, x0, 100, step_size=STEP, generator=gen), 3),
            "plain": time_call(lambda: plain_langevin(model, x0, 100, STEP), 3),
        }
        line = f"{d:5d}{1e3 * row['ebmlib']:10.1f}{1e3 * row['plain']:10.1f}{row['plain'] / row['ebmlib']:13.2f}x"
        if tebm_core:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sampler = tebm_samplers.LangevinDynamics(torchebm_model(tebm_core, model), step_size=STEP,
                                                         noise_scale=1.0, device=device)
                row["torchebm"] = time_call(lambda: sampler.sample(x=x0.clone(), n_steps=100), 3)
            line += f"{1e3 * row['torchebm']:10.1f}{row['torchebm'] / row['ebmlib']:16.2f}x"
        print(line)


def training_update(device, tebm_core, tebm_samplers, tebm_losses):
    print("2. One Langevin maximum-likelihood update: batch 256, 20 steps from a replay buffer (ms)")
    print(f"{'d':>5s}{'ebmlib':>10s}{'plain':>10s}{'plain/ebmlib':>14s}"
          + (f"{'TorchEBM':>10s}{'TorchEBM/ebmlib':>17s}" if tebm_core else ""))
    for d in (2, 32):
        data = torch.randn(256, d, device=device, generator=make_generator(2, d, device=device))
        row = {}

        model = MLPEnergy(d, (64, 64), generator=make_generator(0, "mlp", d)).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        objective = objectives.LangevinML(20, STEP, start="buffer", buffer_size=10_000, reinit=0.05,
                                          energy_penalty=0.001, generator=make_generator(3, device=device))

        def ebmlib_update():
            optimizer.zero_grad()
            objective(model, data).backward()
            optimizer.step()

        row["ebmlib"] = time_call(ebmlib_update, 10, warmup=2)

        plain_model = MLPEnergy(d, (64, 64), generator=make_generator(0, "mlp", d)).to(device)
        plain_opt = torch.optim.Adam(plain_model.parameters(), lr=1e-3)
        buffer = torch.rand(10_000, d, device=device) * 2 - 1

        def plain_update():
            nonlocal buffer
            idx = torch.randint(len(buffer), (256,), device=device)
            start = buffer[idx]
            fresh = torch.rand(256, device=device) < 0.05
            start[fresh] = torch.rand(int(fresh.sum()), d, device=device) * 2 - 1
            negatives = plain_langevin(plain_model, start, 20, STEP)
            buffer[idx] = negatives
            plain_opt.zero_grad()
            pos, neg = plain_model.energy(data), plain_model.energy(negatives)
            (pos.mean() - neg.mean() + 0.001 * (pos.pow(2).mean() + neg.pow(2).mean())).backward()
            plain_opt.step()

        row["plain"] = time_call(plain_update, 10, warmup=2)
        line = f"{d:5d}{1e3 * row['ebmlib']:10.2f}{1e3 * row['plain']:10.2f}{row['plain'] / row['ebmlib']:13.2f}x"

        if tebm_core:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mlp = MLPEnergy(d, (64, 64), generator=make_generator(0, "mlp", d)).to(device)
                wrapped = torchebm_model(tebm_core, mlp)
                sampler = tebm_samplers.LangevinDynamics(wrapped, step_size=STEP, noise_scale=1.0, device=device)
                loss_fn = tebm_losses.ContrastiveDivergence(
                    model=wrapped, sampler=sampler, k_steps=20, persistent=True, buffer_size=10_000,
                    new_sample_ratio=0.05, init_steps=0, energy_reg_weight=0.001, device=device)
                tebm_opt = torch.optim.Adam(wrapped.parameters(), lr=1e-3)

                def torchebm_update():
                    tebm_opt.zero_grad()
                    loss, _ = loss_fn(data)
                    loss.backward()
                    tebm_opt.step()

                row["torchebm"] = time_call(torchebm_update, 10, warmup=2)
            line += f"{1e3 * row['torchebm']:10.2f}{row['torchebm'] / row['ebmlib']:16.2f}x"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    device = torch.device(parser.parse_args().device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    tebm_core = optional("torchebm.core")
    tebm_samplers = optional("torchebm.samplers") if tebm_core else None
    tebm_losses = optional("torchebm.losses") if tebm_core else None
    sampling(device, tebm_core, tebm_samplers)
    training_update(device, tebm_core, tebm_samplers, tebm_losses)


if __name__ == "__main__":
    main()
