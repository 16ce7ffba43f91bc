"""Exact score matching: ebmlib against TorchEBM 0.8.9 and against d backward passes.

One update (loss and backward) of exact score matching, batch 256, on the same small MLP
energy (two hidden layers of 64 SiLU units) for d = 2, 8, 32, 128. The Hessian trace is the
cost: ebmlib takes its d diagonal entries from one batched backward pass
(``torch.autograd.grad(..., is_grads_batched=True)``); TorchEBM's ``ScoreMatching``
(hessian_method="exact") takes per-example Jacobians with ``vmap(jacrev)``; the baseline loop
takes one backward pass per dimension. Target: ebmlib no slower than TorchEBM at any d.
TorchEBM runs only if installed (``pip install -r benchmarks/requirements.txt``).

Run: python benchmarks/score_matching.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import optional  # noqa: E402

from ebmlib import objectives  # noqa: E402
from ebmlib.models import MLPEnergy  # noqa: E402
from ebmlib.utils import make_generator, time_call  # noqa: E402


def loop_score_matching(model, x):
    """The baseline: the trace by d separate backward passes."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.energy(x).sum(), x, create_graph=True)
    score = -grad
    trace = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(x.shape[1]):
        (row,) = torch.autograd.grad(score[:, i].sum(), x, create_graph=True)
        trace = trace + row[:, i]
    return (0.5 * (score * score).sum(1) + trace).mean()


def main() -> None:
    torchebm = optional("torchebm.losses")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ms per update (loss + backward), batch 256")
    header = f"{'d':>5s}{'ebmlib':>10s}{'d passes':>10s}" + (f"{'TorchEBM':>10s}{'TorchEBM/ebmlib':>17s}" if torchebm else "")
    print(header)
    for d in (2, 8, 32, 128):
        model = MLPEnergy(d, hidden=(64, 64), generator=make_generator(0, "mlp", d))
        x = torch.randn(256, d, generator=make_generator(0, "x", d))
        values = {"ebmlib": objectives.score_matching(model, x).item(), "loop": loop_score_matching(model, x).item()}

        def update(loss_fn):
            def run():
                model.zero_grad()
                loss_fn(model, x).backward()
            return time_call(run, repeats=10, warmup=2) * 1e3

        row = {"ebmlib": update(objectives.score_matching), "loop": update(loop_score_matching)}
        if torchebm:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loss = torchebm.ScoreMatching(model=model, hessian_method="exact")
                values["torchebm"] = loss(x).item()
                row["torchebm"] = update(lambda m, b: loss(b))
        assert max(values.values()) - min(values.values()) < 1e-4 * max(1.0, abs(values["ebmlib"])), values
        line = f"{d:5d}{row['ebmlib']:10.2f}{row['loop']:10.2f}"
        if torchebm:
            line += f"{row['torchebm']:10.2f}{row['torchebm'] / row['ebmlib']:16.2f}x"
        print(line)
    print("(the three compute the same loss: checked to 1e-4 relative at every d)")


if __name__ == "__main__":
    main()
