"""What float64-accurate AIS increments cost: the RBM path's step (weight increment, then a block-Gibbs
move) with ebmlib's increment (per unit log1p(sigmoid(a) expm1(s)) in float32, summed in float64)
against the same step with the increment formed as the difference of two float32 log f's (the
previous code, kept here as the baseline), on 784 x 20 and 784 x 500 RBMs with 1,000 chains.
Also prints each version's error against the same model in float64, at a step of 1e-4 in beta
(smaller than a 1,000-distribution schedule's).

Run: python benchmarks/ais_increments.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.nn.functional import softplus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report  # noqa: E402

from ebmlib import estimators, samplers  # noqa: E402
from ebmlib.distributions import IndependentBernoulli  # noqa: E402
from ebmlib.models import RBM  # noqa: E402
from ebmlib.utils import time_call  # noqa: E402


class Float32Increments(estimators.RBMPath):
    """The previous increment: two float32 log f's, subtracted, then cast."""

    def _increment(self, v, lo, hi, pre):
        def log_f(beta):
            return v @ self._bias(beta).to(v) + softplus(beta * pre).sum(1)

        return (log_f(hi) - log_f(lo)).double()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    for hidden in (20, 500):
        gen = torch.Generator().manual_seed(hidden)
        model = RBM.random(784, hidden, weight_std=0.05, bias_std=0.5, generator=gen).to(device)
        base = IndependentBernoulli(model.visible_bias.detach().double())
        ours, old = estimators.RBMPath(model, base), Float32Increments(model, base)
        v = base.sample(1000, generator=torch.Generator(device=device).manual_seed(1)).float()
        kernel = samplers.Gibbs()
        g = torch.Generator(device=device).manual_seed(2)
        times = {
            name: time_call(
                lambda p=path, v=v, k=kernel, g=g: p.advance(v, 0.5, 0.5001, k, generator=g), repeats=20, warmup=2
            )
            for name, path in [("float32 increments", old), ("ebmlib increments", ours)]
        }
        report(
            f"AIS step, RBM 784 x {hidden}, 1,000 chains [{device}]",
            ("float32 increments", times["float32 increments"]),
            ("ebmlib increments", times["ebmlib increments"]),
            "<= 1.3x slower",
        )
        exact = estimators.RBMPath(model.double(), base)
        want = exact.increment(v.double(), 0.5, 0.5001)
        for name, path in [("float32 increments", old), ("ebmlib increments", ours)]:
            err = float((path.increment(v, 0.5, 0.5001) - want).abs().max())
            print(
                f"    {name}: largest error against the float64 model {err:.1e} nats "
                f"(increments up to {float(want.abs().max()):.1e})"
            )
        model.float()


if __name__ == "__main__":
    main()
