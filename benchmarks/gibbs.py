"""How fast are ebmlib's Gibbs samplers? Ratios, all measured in this one run.

(a) One systematic-scan sweep of a 784-unit fully visible Boltzmann machine, one chain:
    ebmlib against a plain per-unit Python loop that sums each unit's field term by
    term, the way the blog post in the seeds (004) samples. Target: >= 1000x faster.
(b) One block-Gibbs step (v -> h -> v) of a 784 x 500 RBM on 1,000 chains against the
    time of its two bare matrix products (v @ W and h @ W^T). Target: <= 1.5x, both per
    step of a 20-step run and for one call ``samplers.gibbs(rbm, v, 1)`` on its own (how a
    hand-written PCD loop calls it, paying the argument checks and set-up every time).
(c) The same block-Gibbs steps with ebmlib's compiled Bernoulli draw and with torch's own
    ``torch.rand(...) < p`` (the draw ebmlib falls back to without numba), at three RBM sizes.
    Target for keeping the compiled draw: >= 1.3x.

Run: python benchmarks/gibbs.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report  # noqa: E402

from ebmlib import samplers  # noqa: E402
from ebmlib.models import RBM, BoltzmannMachine  # noqa: E402
from ebmlib.utils import time_call  # noqa: E402


def per_unit_python_sweep(weight: torch.Tensor, bias: torch.Tensor, state: list) -> list:
    """The baseline: for each unit, a Python sum over every other unit, then a draw."""
    n = len(state)
    for i in range(n):
        field = sum([weight[i, j] * state[j] for j in range(n) if j != i]) + bias[i]
        state[i] = torch.bernoulli(torch.sigmoid(field))
    return state


def bench_boltzmann(device: str) -> None:
    n = 784
    model = BoltzmannMachine.random(n, weight_std=0.05, bias_std=0.1, generator=torch.Generator().manual_seed(0))
    x = (torch.rand(1, n, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    weight, bias = model.coupling.detach(), model.bias.detach()
    baseline = time_call(lambda: per_unit_python_sweep(weight, bias, list(x[0])), repeats=1, warmup=0)
    model = model.to(device)
    xd = x.to(device)
    gen = torch.Generator(device=device).manual_seed(2)
    ours = time_call(lambda: samplers.gibbs(model, xd, 1, generator=gen), repeats=20, warmup=2)
    report(
        f"(a) BM 784 units, 1 chain, one sweep [{device}]",
        ("per-unit Python loop", baseline),
        ("ebmlib samplers.gibbs", ours),
        ">= 1000x",
    )
    if device == "cpu":
        torch_loop = time_call(lambda: samplers.gibbs(model, xd, 1, generator=gen, backend="torch"), repeats=5)
        print(f"    (tensor-loop backend         : {torch_loop * 1e3:11.3f} ms, {baseline / torch_loop:.0f}x)")


def bench_rbm(device: str) -> None:
    gen = torch.Generator(device=device).manual_seed(3)
    model = RBM.random(784, 500, weight_std=0.05, bias_std=0.1, generator=torch.Generator().manual_seed(2)).to(device)
    v = (torch.rand(1000, 784, device=device, generator=gen) < 0.5).float()
    h = (torch.rand(1000, 500, device=device, generator=gen) < 0.5).float()
    w = model.weight.detach()

    def bare():
        v @ w
        h @ w.T

    floor = time_call(bare, repeats=20, warmup=3)
    steps = 20
    per_step = time_call(lambda: samplers.gibbs(model, v, steps, generator=gen), repeats=5, warmup=1) / steps
    single = time_call(lambda: samplers.gibbs(model, v, 1, generator=gen), repeats=20, warmup=3)
    report(
        f"(b) RBM 784x500, 1000 chains, one block-Gibbs step [{device}]",
        ("two bare matmuls", floor),
        ("ebmlib gibbs, per step of 20", per_step),
        "<= 1.5x",
    )
    print(
        f"    {'one samplers.gibbs(.., 1) call':28s}: {single * 1e3:11.3f} ms, {single / floor:.2f}x the floor "
        f"(target <= 1.5x)"
    )


def bench_draws(device: str) -> None:
    """(c) What the compiled Bernoulli draw buys: the same block-Gibbs steps with ebmlib's numba
    draw (xoshiro256+, compared in place) and with torch's own ``torch.rand(...) < p``."""
    if device != "cpu":
        return  # the compiled draw is CPU-only: CUDA always draws with torch
    from ebmlib import _random

    gen = torch.Generator().manual_seed(4)
    for n_visible, n_hidden, chains in [(784, 500, 1000), (784, 20, 1000), (64, 16, 1000)]:
        model = RBM.random(
            n_visible, n_hidden, weight_std=0.05, bias_std=0.1, generator=torch.Generator().manual_seed(5)
        )
        v = (torch.rand(chains, n_visible, generator=gen) < 0.5).float()
        compiled = time_call(lambda m=model, v=v: samplers.gibbs(m, v, 20, generator=gen), repeats=5, warmup=1)
        kernels, _random._KERNELS = _random._KERNELS, {}
        try:
            plain = time_call(lambda m=model, v=v: samplers.gibbs(m, v, 20, generator=gen), repeats=5, warmup=1)
        finally:
            _random._KERNELS = kernels
        report(
            f"(c) RBM {n_visible}x{n_hidden}, {chains} chains, 20 block-Gibbs steps: the draws",
            ("torch.rand < p", plain),
            ("numba xoshiro draw", compiled),
            ">= 1.3x to keep it",
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_boltzmann(args.device)
    bench_rbm(args.device)
    bench_draws(args.device)
