"""Checks for chapter 4's exercises (pseudolikelihood), on fully visible Boltzmann machines.

Every model is given as plain tensors: symmetric couplings ``W`` (``[n, n]``, zero diagonal),
biases ``b`` (``[n]``), energy :math:`E(x) = -\\tfrac12 x^\\top W x - b^\\top x`. Expected answers
come from ``ebmlib.objectives`` (itself tested against enumeration), autograd, or enumeration.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.nn.functional import logsigmoid, softplus

from ...exact import binary_states
from ...models import BoltzmannMachine
from ...objectives import exact_nll, pseudolikelihood
from ._core import Case, Exercise, register

__all__: list[str] = []


def _energy(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((x @ w) * x).sum(-1) - x @ b


def _machine(w: torch.Tensor, b: torch.Tensor) -> BoltzmannMachine:
    model = BoltzmannMachine(len(b), init_std=0.0, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(w)
        model.bias.copy_(b)
    return model


def _random_problem(n: int, batch: int, scale: float, gen: torch.Generator):
    """A random ``n``-unit machine (float64) and ``batch`` random binary rows."""
    a = torch.randn(n, n, dtype=torch.float64, generator=gen) * scale
    w = (a + a.T) / 2**0.5
    w.fill_diagonal_(0.0)
    b = torch.randn(n, dtype=torch.float64, generator=gen)
    x = (torch.rand(batch, n, dtype=torch.float64, generator=gen) < 0.5).double()
    return w, b, x


def _describe(w: torch.Tensor, x: torch.Tensor) -> str:
    return f"a {len(w)}-unit Boltzmann machine (largest |coupling| {w.abs().max().item():.2f}), {len(x)} rows x"


# --------------------------------------------------------------------------- 4.1


def _counts_cases(gen: torch.Generator) -> Iterator[Case]:
    for _ in range(5):
        counts = torch.randint(3, 60, (2, 2), generator=gen).double()
        yield Case(
            f"counts[x1, x2] = {counts.int().tolist()} (counts[0, 1]: x1 = 0, x2 = 1)",
            (counts,),
            _pl_estimate(counts),
            atol=1e-8,
            rtol=1e-8,
        )


def _pl_estimate(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = counts
    w = torch.log(n[0, 0] * n[1, 1] / (n[0, 1] * n[1, 0]))
    return w, torch.log(n[1, 0] / n[0, 0]), torch.log(n[0, 1] / n[0, 0])


def _counts_hint(case: Case, got: object) -> str:
    (n,) = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return ""
    marginal = torch.log(n[1].sum() / n[0].sum()).item()
    try:
        b1 = float(got[1])
    except (TypeError, ValueError):
        return ""
    if abs(b1 - marginal) < 1e-6:
        return (
            "b1 is the log-odds of x1 given x2 = 0 (a conditional, where x2's coupling drops out), "
            "not x1's marginal log-odds over all the data"
        )
    return ""


register(
    Exercise(
        id="4.1",
        title="the pseudolikelihood estimate of a 2-unit machine",
        cases=_counts_cases,
        reference=_pl_estimate,
        wrong={
            "marginal log-odds for the biases": lambda n: (
                torch.log(n[0, 0] * n[1, 1] / (n[0, 1] * n[1, 0])),
                torch.log(n[1].sum() / n[0].sum()),
                torch.log(n[:, 1].sum() / n[:, 0].sum()),
            ),
            "odds ratio upside down": lambda n: (
                torch.log(n[0, 1] * n[1, 0] / (n[0, 0] * n[1, 1])),
                torch.log(n[1, 0] / n[0, 0]),
                torch.log(n[0, 1] / n[0, 0]),
            ),
        },
        hint=_counts_hint,
    )
)


# --------------------------------------------------------------------------- 4.2


def _pl_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, batch, scale in ((2, 4, 1.0), (3, 6, 1.0), (4, 8, 1.5), (5, 10, 0.8), (6, 7, 2.0)):
        w, b, x = _random_problem(n, batch, scale, gen)
        yield Case(_describe(w, x), (w, b, x), _pl_loss(w, b, x), atol=1e-9, rtol=1e-9)


def _pl_loss(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return pseudolikelihood(_machine(w, b), x).detach()


def _pl_every_unit_on(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -logsigmoid(x @ w + b).sum(1).mean()


def _pl_hint(case: Case, got: object) -> str:
    w, b, x = case.args
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    if abs(value - _pl_every_unit_on(w, b, x).item()) < 1e-7:
        return (
            "you took log p(x_i = 1 | x_-i) for every unit; take the conditional of the value x_i "
            "has: log sigma(f_i) when x_i = 1, log sigma(-f_i) when x_i = 0"
        )
    if abs(value - exact_nll(_machine(w, b), x).item()) < 1e-7:
        return "that is the exact negative log-likelihood (normalized by Z); the pseudolikelihood never needs Z"
    return ""


register(
    Exercise(
        id="4.2",
        title="the pseudolikelihood loss of a Boltzmann machine",
        cases=_pl_cases,
        reference=_pl_loss,
        wrong={
            "log-PL, not its negative": lambda w, b, x: -_pl_loss(w, b, x),
            "summed over the batch": lambda w, b, x: _pl_loss(w, b, x) * len(x),
            "log p(x_i = 1 | rest) for every unit": _pl_every_unit_on,
            "the exact likelihood": lambda w, b, x: exact_nll(_machine(w, b), x).detach(),
        },
        hint=_pl_hint,
    )
)


# --------------------------------------------------------------------------- 4.3


def _pl_gradient(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(b)
    upper = torch.triu_indices(n, n, 1)
    pairs = w[upper[0], upper[1]].clone().requires_grad_(True)
    bias = b.clone().requires_grad_(True)
    full = torch.zeros(n, n, dtype=w.dtype).index_put((upper[0], upper[1]), pairs)
    full = full + full.T
    f = x @ full + bias
    loss = softplus(-(2 * x - 1) * f).sum(1).mean()
    g_pairs, g_bias = torch.autograd.grad(loss, (pairs, bias))
    g = torch.zeros(n, n, dtype=w.dtype).index_put((upper[0], upper[1]), g_pairs)
    return g + g.T, g_bias


def _one_conditional(w, b, x):
    r = torch.sigmoid(x @ w + b) - x
    g = r.T @ x / len(x)
    g.fill_diagonal_(0.0)
    return g, r.mean(0)


def _diagonal_kept(w, b, x):
    r = torch.sigmoid(x @ w + b) - x
    g = (r.T @ x + x.T @ r) / len(x)
    return g, r.mean(0)


def _gradient_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, batch, scale in ((2, 5, 1.0), (3, 6, 1.0), (4, 8, 1.5), (5, 9, 0.7), (6, 12, 1.2)):
        w, b, x = _random_problem(n, batch, scale, gen)
        yield Case(_describe(w, x), (w, b, x), _pl_gradient(w, b, x), atol=1e-9, rtol=1e-9)


def _gradient_hint(case: Case, got: object) -> str:
    w, b, x = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return ""
    g = torch.as_tensor(got[0]).double()
    if g.shape != w.shape:
        return ""
    if g.diagonal().abs().max() > 1e-9:
        return "there is no self-coupling w_ii: the diagonal of the coupling gradient is 0"
    one, _ = _one_conditional(w, b, x)
    if torch.allclose(g, one, atol=1e-9) or torch.allclose(g, one.T, atol=1e-9):
        return "w_ij enters two conditionals, unit i's field and unit j's: add both terms (the result is symmetric)"
    return ""


register(
    Exercise(
        id="4.3",
        title="the gradient of the pseudolikelihood, by hand",
        cases=_gradient_cases,
        reference=_pl_gradient,
        wrong={
            "one conditional per coupling": _one_conditional,
            "diagonal kept": _diagonal_kept,
            "sign flipped": lambda w, b, x: tuple(-g for g in _pl_gradient(w, b, x)),
        },
        hint=_gradient_hint,
    )
)


# --------------------------------------------------------------------------- 4.4


def _block_conditional(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, block: Sequence[int]) -> torch.Tensor:
    """``[batch]`` log p(x_S | x_-S), by listing the 2^|S| values of the block."""
    block = list(block)
    values = binary_states(len(block), dtype=x.dtype)  # [2^s, s]
    filled = x[:, None, :].repeat(1, len(values), 1)  # [batch, 2^s, n]
    filled[:, :, block] = values
    energies = _energy(w, b, filled)  # [batch, 2^s]
    return -_energy(w, b, x) - torch.logsumexp(-energies, dim=1)


def _block_product_of_singletons(w, b, x, block):
    f = x @ w + b
    return logsigmoid((2 * x - 1) * f)[:, list(block)].sum(1)


def _block_unnormalized(w, b, x, block):
    return -_energy(w, b, x)


def _block_joint(w, b, x, block):
    states = binary_states(len(b), dtype=x.dtype)
    return -_energy(w, b, x) - torch.logsumexp(-_energy(w, b, states), 0)


def _block_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, size, batch in ((3, 2, 4), (4, 2, 5), (5, 3, 6), (6, 2, 5), (6, 4, 4)):
        w, b, x = _random_problem(n, batch, 1.5, gen)
        block = sorted(torch.randperm(n, generator=gen)[:size].tolist())
        yield Case(
            _describe(w, x) + f", block S = {block}",
            (w, b, x, block),
            _block_conditional(w, b, x, block),
            atol=1e-9,
            rtol=1e-9,
        )


def _block_hint(case: Case, got: object) -> str:
    w, b, x, block = case.args
    g = torch.as_tensor(got).double() if isinstance(got, torch.Tensor) else None
    if g is None or g.shape != (len(x),):
        return ""
    candidates = {
        "you multiplied the one-unit conditionals of the block's units; their couplings make the "
        "block's joint conditional differ from that product: normalize over its 2^|S| values at once": (
            _block_product_of_singletons
        ),
        "you normalized over every state of all n units (that is log p(x), with Z); normalize over "
        "the 2^|S| values of the block only, the rest held at x": _block_joint,
        "the answer is not normalized: subtract the log-sum-exp of -E over the block's 2^|S| values": (
            _block_unnormalized
        ),
    }
    for text, wrong in candidates.items():
        if torch.allclose(g, wrong(w, b, x, block), atol=1e-7):
            return text
    return ""


register(
    Exercise(
        id="4.4",
        title="one conditional of the generalized pseudolikelihood",
        cases=_block_cases,
        reference=_block_conditional,
        wrong={
            "product of one-unit conditionals": _block_product_of_singletons,
            "normalized over every state": _block_joint,
            "not normalized": _block_unnormalized,
        },
        hint=_block_hint,
    )
)
