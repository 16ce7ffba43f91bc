"""Checks for chapter 8's exercises (estimating the partition function).

* 8.1 (by hand) the effective sample size of importance sampling between two Gaussians;
* 8.2 (implement) the log weights of an AIS run (the update of each step);
* 8.4 (implement) bridge sampling's fixed point with the optimal bridge.

Expected answers: a closed form (8.1), the same run recomputed with the same deterministic
kernels (8.2; the tests also check that the reference is unbiased for Z_K / Z_0 by enumeration),
and :func:`ebmlib.estimators.bridge_sampling` iterated to convergence (8.4; the library is tested
against exact log Z).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ebmlib import estimators
from ebmlib.utils import log_mean_exp

from ._core import Case, Exercise, mistakes, register, same_values

__all__: list[str] = []

_F = torch.float64


# --------------------------------------------------------------------------- 8.1


def _ess_reference(a: float, d: int) -> float:
    return (math.sqrt(2 * a - 1) / a) ** d


def _ess_mistakes(a: float, d: int) -> dict[str, float]:
    one = math.sqrt(2 * a - 1) / a
    swapped = math.sqrt(2 / a - 1) * a if a < 2 else float("nan")
    return {"one dimension": one, "inverted": 1 / one**d, "variance for precision": swapped**d}


def _ess_cases(gen: torch.Generator) -> Iterator[Case]:
    del gen  # the cases are fixed: the answer is a formula of (a, d)
    for a, d in ((1.5, 3), (2.0, 1), (0.8, 5), (3.0, 10), (1.2, 20)):
        yield Case(f"precision a = {a} in d = {d} dimensions", (a, d), _ess_reference(a, d), atol=1e-9, rtol=1e-7)


def _ess_hint(case: Case, got: Any) -> str:
    m = _ess_mistakes(*case.args)
    if same_values(got, m["one dimension"]):
        return "this is one dimension's factor: the d coordinates are independent, so the factors multiply (a power d)"
    if same_values(got, m["inverted"]):
        return "ESS / N tends to E[w]^2 / E[w^2], which is at most 1: your ratio is upside down"
    if same_values(got, m["variance for precision"]):
        return "the target's density is exp(-a x^2 / 2): a is a precision, its variance is 1 / a"
    return ""


register(
    Exercise(
        id="8.1",
        title="the effective sample size of importance sampling",
        cases=_ess_cases,
        reference=_ess_reference,
        wrong=mistakes(_ess_mistakes, "one dimension", "inverted", "variance for precision"),
        hint=_ess_hint,
    )
)


# --------------------------------------------------------------------------- 8.2


class TinyPath:
    """The geometric path from independent units (log-odds ``b0``) to a Boltzmann machine.

    ``log_f(x, beta) = (1 - beta) x.b0 + beta (x.b + x.W x / 2)`` on ``[N, n]`` binary ``x``;
    ``kernel(x, beta)`` is one Gibbs sweep under ``p_beta`` whose random numbers depend only on
    ``beta`` (so the same run can be recomputed exactly).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, base: torch.Tensor, seed: int) -> None:
        self.weight, self.bias, self.base, self.seed = weight, bias, base, seed

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        model = x @ self.bias + 0.5 * ((x @ self.weight) * x).sum(-1)
        return (1 - beta) * (x @ self.base) + beta * model

    def kernel(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed + round(beta * 1_000_000))
        x = x.clone()
        for i in range(x.shape[1]):
            field = (1 - beta) * self.base[i] + beta * (self.bias[i] + x @ self.weight[:, i])
            x[:, i] = (torch.rand(len(x), dtype=_F, generator=gen) < torch.sigmoid(field)).to(_F)
        return x

    def log_z(self, beta: float) -> float:
        """Exact log Z_beta by enumeration."""
        states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=len(self.bias))), dtype=_F)
        return float(torch.logsumexp(self.log_f(states, beta), 0))

    def sample_base(self, n: int, generator: torch.Generator) -> torch.Tensor:
        probs = torch.sigmoid(self.base).expand(n, -1)
        return (torch.rand(probs.shape, dtype=_F, generator=generator) < probs).to(_F)


def tiny_path(n_units: int, generator: torch.Generator, scale: float = 1.0) -> TinyPath:
    """A random :class:`TinyPath` on ``n_units`` binary units."""
    w = scale * torch.randn(n_units, n_units, dtype=_F, generator=generator)
    w = torch.triu(w, 1)
    w = w + w.T
    b = torch.randn(n_units, dtype=_F, generator=generator)
    b0 = torch.randn(n_units, dtype=_F, generator=generator)
    return TinyPath(w, b, b0, int(torch.randint(1 << 30, (), generator=generator)))


def _ais_reference(x: torch.Tensor, betas: list[float], log_f: Callable, kernel: Callable) -> torch.Tensor:
    log_w = torch.zeros(len(x), dtype=_F)
    for k in range(1, len(betas)):
        log_w = log_w + log_f(x, betas[k]) - log_f(x, betas[k - 1])
        if k < len(betas) - 1:
            x = kernel(x, betas[k])
    return log_w


def _ais_moved_first(x: torch.Tensor, betas: list[float], log_f: Callable, kernel: Callable) -> torch.Tensor:
    log_w = torch.zeros(len(x), dtype=_F)
    for k in range(1, len(betas)):
        x = kernel(x, betas[k])
        log_w = log_w + log_f(x, betas[k]) - log_f(x, betas[k - 1])
    return log_w


def _ais_one_jump(x: torch.Tensor, betas: list[float], log_f: Callable, kernel: Callable) -> torch.Tensor:
    return log_f(x, betas[-1]) - log_f(x, betas[0])


def _ais_cases(gen: torch.Generator) -> Iterator[Case]:
    for n_units, n_betas in ((3, 5), (4, 10), (3, 20), (5, 8)):
        path = tiny_path(n_units, gen)
        betas = torch.linspace(0, 1, n_betas).tolist()
        x = path.sample_base(6, gen)
        yield Case(
            f"a {n_units}-unit Boltzmann machine, {n_betas} distributions, 6 runs",
            (x, betas, path.log_f, path.kernel),
            _ais_reference(x, betas, path.log_f, path.kernel),
            atol=1e-9,
            rtol=1e-7,
        )


def _ais_hint(case: Case, got: Any) -> str:
    if same_values(got, _ais_moved_first(*case.args)):
        return (
            "the factor f_k / f_{k-1} is evaluated at the state *before* the kernel of p_k moves it: "
            "weight first, then move"
        )
    if same_values(got, _ais_one_jump(*case.args)):
        return "this is simple importance sampling (one jump from f_0 to f_K): AIS multiplies a factor at every step"
    return ""


register(
    Exercise(
        id="8.2",
        title="the log weights of an AIS run",
        cases=_ais_cases,
        reference=_ais_reference,
        wrong={
            "moved before weighting": _ais_moved_first,
            "one jump": _ais_one_jump,
            "reversed ratio": lambda x, betas, log_f, kernel: -_ais_reference(x, betas, log_f, kernel),
        },
        hint=_ais_hint,
    )
)


# --------------------------------------------------------------------------- 8.4


def _bridge_library(l0: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
    """log r from the library, fed the log ratios directly (log f0 = 0, log f1 = the ratio)."""
    est = estimators.bridge_sampling(
        lambda x: torch.zeros(len(x), dtype=_F),
        lambda x: x[:, 0],
        l0[:, None],
        l1[:, None],
        n_iter=10_000,
        tol=1e-14,
    )
    return est.log_z.double()


def _bridge_reference(l0: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
    log_s0 = math.log(len(l0) / (len(l0) + len(l1)))
    log_s1 = math.log(len(l1) / (len(l0) + len(l1)))
    log_r = log_mean_exp(l0, 0)
    for _ in range(10_000):
        top = log_mean_exp(l0 - torch.logaddexp(log_s1 + l0, log_s0 + log_r), 0)
        bottom = log_mean_exp(-torch.logaddexp(log_s1 + l1, log_s0 + log_r), 0)
        new = top - bottom
        if abs(float(new - log_r)) < 1e-14:
            return new
        log_r = new
    return log_r


def _swapped(l0: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
    log_s0 = math.log(len(l0) / (len(l0) + len(l1)))
    log_s1 = math.log(len(l1) / (len(l0) + len(l1)))
    log_r = log_mean_exp(l0, 0)
    for _ in range(10_000):
        top = log_mean_exp(l0 - torch.logaddexp(log_s0 + l0, log_s1 + log_r), 0)
        bottom = log_mean_exp(-torch.logaddexp(log_s0 + l1, log_s1 + log_r), 0)
        new = top - bottom
        if abs(float(new - log_r)) < 1e-14:
            return new
        log_r = new
    return log_r


def _bridge_one_step(l0: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
    log_s0 = math.log(len(l0) / (len(l0) + len(l1)))
    log_s1 = math.log(len(l1) / (len(l0) + len(l1)))
    log_r = log_mean_exp(l0, 0)
    top = log_mean_exp(l0 - torch.logaddexp(log_s1 + l0, log_s0 + log_r), 0)
    bottom = log_mean_exp(-torch.logaddexp(log_s1 + l1, log_s0 + log_r), 0)
    return top - bottom


def _bridge_cases(gen: torch.Generator) -> Iterator[Case]:
    for n_units, n0, n1 in ((3, 40, 400), (4, 300, 30), (3, 20, 200), (5, 500, 50)):
        path = tiny_path(n_units, gen)
        states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_units)), dtype=_F)
        ratio = path.log_f(states, 1.0) - path.log_f(states, 0.0)  # log f1 / f0 on every state
        p0 = torch.softmax(path.log_f(states, 0.0), 0)
        p1 = torch.softmax(path.log_f(states, 1.0), 0)
        l0 = ratio[torch.multinomial(p0, n0, replacement=True, generator=gen)]
        l1 = ratio[torch.multinomial(p1, n1, replacement=True, generator=gen)]
        yield Case(
            f"a {n_units}-unit Boltzmann machine and an independent base, n0 = {n0}, n1 = {n1} exact samples",
            (l0, l1),
            _bridge_library(l0, l1),
            atol=1e-7,
            rtol=1e-7,
        )


def _bridge_hint(case: Case, got: Any) -> str:
    l0, l1 = case.args
    if same_values(got, _swapped(l0, l1)):
        return (
            "each share goes with the density its samples came from: a is proportional to "
            "1 / (s_1 f_1 + s_0 r f_0), with s_1 = n1 / (n0 + n1)"
        )
    if same_values(got, log_mean_exp(l0, 0)):
        return "this is importance sampling from p0 alone, the fixed point's starting value: iterate the bridge"
    if same_values(got, _bridge_one_step(l0, l1)):
        return "this is one update of the fixed point: iterate until log r stops moving"
    return ""


register(
    Exercise(
        id="8.4",
        title="bridge sampling's fixed point",
        cases=_bridge_cases,
        reference=_bridge_reference,
        wrong={
            "shares swapped": _swapped,
            "importance sampling": lambda l0, l1: log_mean_exp(l0, 0),
            "one iteration": _bridge_one_step,
        },
        hint=_bridge_hint,
    )
)
