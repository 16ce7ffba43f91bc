"""Checks for chapter 9's exercises (deep EBMs and Langevin maximum likelihood).

* 9.1 (by hand) the stationary variance of unadjusted Langevin on a Gaussian, any step and noise;
* 9.2 (implement) K steps of Langevin dynamics on a network's energy, with given noise;
* 9.4 (by hand) the variance maximum likelihood fits with such chains on Gaussian data.

Expected answers: closed forms (9.1, 9.4; the tests check them against simulation and the
fixed point of 9.1) and the same K steps recomputed with autograd (9.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ._core import Case, Exercise, mistakes, register, same_values

__all__: list[str] = []

_F = torch.float64


# --------------------------------------------------------------------------- 9.1


def _stationary_reference(s2: torch.Tensor, eps: float, sigma: float) -> torch.Tensor:
    a = eps / s2  # x' = (1 - a) x + sigma xi
    return sigma**2 / (a * (2 - a))


def _stationary_mistakes(s2: torch.Tensor, eps: float, sigma: float) -> dict[str, torch.Tensor]:
    return {
        "continuous time": sigma**2 / (2 * eps) * s2,
        "the target's variance": s2.clone(),
        "standard deviation": _stationary_reference(s2, eps, sigma).sqrt(),
    }


def _stationary_cases(gen: torch.Generator) -> Iterator[Case]:
    for d, eps, sigma in ((4, 0.01, 0.2), (3, 0.1, math.sqrt(0.2)), (2, 0.5, 1.0), (3, 0.3, 0.1), (1, 0.05, 0.5)):
        s2 = 0.5 + 1.5 * torch.rand(d, dtype=_F, generator=gen)
        yield Case(
            f"variances s^2 = {[round(x, 3) for x in s2.tolist()]}, step eps = {eps}, noise sigma = {sigma:.4g}",
            (s2, eps, sigma),
            _stationary_reference(s2, eps, sigma),
            atol=1e-9,
            rtol=1e-7,
        )


def _stationary_hint(case: Case, got: Any) -> str:
    m = _stationary_mistakes(*case.args)
    if same_values(got, m["continuous time"]):
        return (
            "T s^2 with T = sigma^2 / (2 eps) is the small-step limit; the update is the AR(1) "
            "x' = (1 - eps / s^2) x + sigma xi, whose variance solves v = (1 - eps / s^2)^2 v + sigma^2"
        )
    if same_values(got, m["the target's variance"]):
        return "the chain does not sample the target exactly: its variance depends on eps and sigma"
    if same_values(got, m["standard deviation"]):
        return "this is a standard deviation: the question asks for the variance"
    return ""


register(
    Exercise(
        id="9.1",
        title="the stationary law of Langevin with a mis-set step",
        cases=_stationary_cases,
        reference=_stationary_reference,
        wrong=mistakes(
            _stationary_mistakes,
            "continuous time",
            "the target's variance",
            "standard deviation",
        ),
        hint=_stationary_hint,
    )
)


# --------------------------------------------------------------------------- 9.2


class _TinyEnergy(torch.nn.Module):
    """A small network energy ``[B, n] -> [B]`` (tanh MLP plus a quadratic envelope)."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(n, 8, dtype=_F, generator=generator))
        self.w2 = torch.nn.Parameter(torch.randn(8, dtype=_F, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w1) @ self.w2 + 0.5 * (x**2).sum(-1)


def _grad(energy: Callable, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(energy(x).sum(), x)[0]


def _langevin_reference(
    energy: Callable, x0: torch.Tensor, eps: float, sigma: float, noise: torch.Tensor
) -> torch.Tensor:
    x = x0
    for xi in noise:
        x = (x - eps * _grad(energy, x) + sigma * xi).detach()
    return x


def _langevin_ascent(energy: Callable, x0: torch.Tensor, eps: float, sigma: float, noise: torch.Tensor) -> torch.Tensor:
    x = x0
    for xi in noise:
        x = (x + eps * _grad(energy, x) + sigma * xi).detach()
    return x


def _langevin_half(energy: Callable, x0: torch.Tensor, eps: float, sigma: float, noise: torch.Tensor) -> torch.Tensor:
    x = x0
    for xi in noise:
        x = (x - eps / 2 * _grad(energy, x) + sigma * xi).detach()
    return x


def _langevin_sqrt_noise(
    energy: Callable, x0: torch.Tensor, eps: float, sigma: float, noise: torch.Tensor
) -> torch.Tensor:
    x = x0
    for xi in noise:
        x = (x - eps * _grad(energy, x) + math.sqrt(2 * eps) * xi).detach()
    return x


def _langevin_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, k, eps, sigma in ((2, 5, 0.1, 0.2), (3, 10, 0.05, 0.1), (2, 20, 0.01, 0.5), (4, 3, 0.2, 0.05)):
        energy = _TinyEnergy(n, gen)
        x0 = torch.randn(6, n, dtype=_F, generator=gen)
        noise = torch.randn(k, 6, n, dtype=_F, generator=gen)
        yield Case(
            f"a small network energy on {n} dimensions, 6 chains, K = {k} steps, eps = {eps}, sigma = {sigma}",
            (energy, x0, eps, sigma, noise),
            _langevin_reference(energy, x0, eps, sigma, noise),
            atol=1e-9,
            rtol=1e-7,
        )


def _langevin_hint(case: Case, got: Any) -> str:
    if same_values(got, _langevin_ascent(*case.args)):
        return "the chains must go *down* the energy: x - eps grad E(x), not x + eps grad E(x)"
    if same_values(got, _langevin_half(*case.args)):
        return "the drift here is eps grad E(x), not eps / 2 grad E(x) (the other convention has noise sqrt(eps))"
    if same_values(got, _langevin_sqrt_noise(*case.args)):
        return "use the given noise scale sigma, not sqrt(2 eps): the chapter's chains mis-set it on purpose"
    return ""


register(
    Exercise(
        id="9.2",
        title="K steps of Langevin on a network's energy",
        cases=_langevin_cases,
        reference=_langevin_reference,
        wrong={
            "gradient ascent": _langevin_ascent,
            "half the drift": _langevin_half,
            "noise sqrt(2 eps)": _langevin_sqrt_noise,
        },
        hint=_langevin_hint,
    )
)


# --------------------------------------------------------------------------- 9.4


def _fitted_reference(s2: torch.Tensor, eps: float, sigma: float) -> torch.Tensor:
    s = s2.sqrt()
    return eps * s * (s + (s2 - sigma**2).sqrt()) / sigma**2


def _fitted_mistakes(s2: torch.Tensor, eps: float, sigma: float) -> dict[str, torch.Tensor]:
    s = s2.sqrt()
    return {
        "continuous time": 2 * eps * s2 / sigma**2,
        "the data's variance": s2.clone(),
        "the other root": eps * s * (s - (s2 - sigma**2).sqrt()) / sigma**2,
    }


def _fitted_cases(gen: torch.Generator) -> Iterator[Case]:
    for d, eps, sigma in ((2, 0.01, 0.1), (3, 0.1, math.sqrt(0.2)), (4, 0.05, 0.2), (3, 0.2, math.sqrt(0.4))):
        s2 = 0.8 + 1.5 * torch.rand(d, dtype=_F, generator=gen)
        yield Case(
            f"data variances s^2 = {[round(x, 3) for x in s2.tolist()]}, step eps = {eps}, noise sigma = {sigma:.4g}",
            (s2, eps, sigma),
            _fitted_reference(s2, eps, sigma),
            atol=1e-9,
            rtol=1e-7,
        )


def _fitted_hint(case: Case, got: Any) -> str:
    m = _fitted_mistakes(*case.args)
    if same_values(got, m["continuous time"]):
        return (
            "s^2 / T is the small-step answer; with a finite step the chains' variance is exercise "
            "9.1's formula at the model's v, and the fit stops where that equals s^2"
        )
    if same_values(got, m["the data's variance"]):
        return "at the fixed point the *chains'* variance equals the data's, not the model's: solve for v"
    if same_values(got, m["the other root"]):
        return "the quadratic has two roots: take the one that tends to s^2 / T as eps goes to 0"
    return ""


register(
    Exercise(
        id="9.4",
        title="the variance that Langevin maximum likelihood fits",
        cases=_fitted_cases,
        reference=_fitted_reference,
        wrong=mistakes(_fitted_mistakes, "continuous time", "the data's variance", "the other root"),
        hint=_fitted_hint,
    )
)
