"""Checks for the exercises of chapter 2 (the log-likelihood gradient).

2.1 (by hand) the gradient of log Z of a two-unit Boltzmann machine.
2.2 (by hand) the stationary covariance of unadjusted Langevin on a Gaussian, step mis-set.
2.3 (implement) the log acceptance probability of a MALA step.
2.4 (implement) one systematic-scan Gibbs sweep, its uniforms given.

Exercise 2.5 (thinning and the autocorrelation of Gibbs samples) is an investigation, measured
in the chapter, with no check here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ... import exact
from ...models import GaussianEnergy, MLPEnergy
from ...models.base import EnergyModel
from ._core import Case, Exercise, register
from .ch01 import matching_mistake, two_unit_model

__all__: list[str] = []


# --------------------------------------------------------------------------- 2.1


def _grad_two_reference(w: float, b1: float, b2: float) -> tuple[float, float, float]:
    """By enumeration and autograd: d log Z / d(w, b1, b2)."""
    params = torch.tensor([w, b1, b2], dtype=torch.float64, requires_grad=True)
    x = exact.binary_states(2)
    neg_energy = params[0] * x[:, 0] * x[:, 1] + x @ params[1:]
    (grad,) = torch.autograd.grad(torch.logsumexp(neg_energy, 0), params)
    g = grad.tolist()
    return g[0], g[1], g[2]


def _grad_two_unnormalized(w: float, b1: float, b2: float) -> tuple[float, float, float]:
    e1, e2, e12 = math.exp(b1), math.exp(b2), math.exp(w + b1 + b2)
    return e12, e1 + e12, e2 + e12


def _grad_two_independent(w: float, b1: float, b2: float) -> tuple[float, float, float]:
    s1, s2 = 1 / (1 + math.exp(-b1)), 1 / (1 + math.exp(-b2))
    return s1 * s2, s1, s2


def _grad_two_cases(gen: torch.Generator) -> Iterator[Case]:
    for _ in range(5):
        w, b1, b2 = (1.5 * torch.randn(3, dtype=torch.float64, generator=gen)).tolist()
        states, probs = exact.distribution(two_unit_model(w, b1, b2))  # by enumeration
        moments = probs @ torch.stack([states[:, 0] * states[:, 1], states[:, 0], states[:, 1]], 1)
        expected = tuple(moments.tolist())  # E[x1 x2], E[x1], E[x2]
        yield Case(f"w = {w:.3f}, b1 = {b1:.3f}, b2 = {b2:.3f}", (w, b1, b2), expected, atol=1e-6, rtol=1e-6)


_GRAD_TWO_MISTAKES = {
    "unnormalized": (
        _grad_two_unnormalized,
        "these are sums of p~(x) times the statistics: divide by Z to get expectations under p",
    ),
    "independent units": (
        _grad_two_independent,
        "sigmoid(b_i) is the marginal of independent units; the coupling w changes the marginals too",
    ),
    "minus the gradient": (
        lambda w, b1, b2: tuple(-g for g in _grad_two_reference(w, b1, b2)),
        "d log Z / d theta = +E_p[d log p~ / d theta]: a sign",
    ),
}

register(
    Exercise(
        "2.1",
        "the gradient of log Z of two units",
        _grad_two_cases,
        reference=_grad_two_reference,
        wrong={name: f for name, (f, _) in _GRAD_TWO_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _GRAD_TWO_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 2.2


def _ula_reference(precision: torch.Tensor, step: float) -> torch.Tensor:
    eye = torch.eye(len(precision), dtype=precision.dtype)
    return torch.linalg.inv(precision @ (eye - step * precision / 2))


def _ula_by_lyapunov(precision: torch.Tensor, step: float) -> torch.Tensor:
    """Sigma = C Sigma C^T + 2 step I (C = I - step Lambda) solved as a linear system in vec(Sigma).

    A route apart from the closed form: ``(I - C kron C) vec(Sigma) = 2 step vec(I)``.
    """
    d = len(precision)
    eye = torch.eye(d, dtype=torch.float64)
    c = eye - step * precision.double()
    system = torch.eye(d * d, dtype=torch.float64) - torch.kron(c, c)
    return torch.linalg.solve(system, 2 * step * eye.reshape(-1)).reshape(d, d)


def _ula_cases(gen: torch.Generator) -> Iterator[Case]:
    for d, max_step_times_lambda in [(1, 0.5), (1, 1.5), (2, 0.4), (2, 1.2), (3, 0.8)]:
        root = torch.randn(d, d, dtype=torch.float64, generator=gen)
        precision = root @ root.T + 0.5 * torch.eye(d, dtype=torch.float64)
        step = max_step_times_lambda / torch.linalg.eigvalsh(precision).max().item()
        yield Case(
            f"precision {precision.numpy().round(3).tolist()}, step {step:.4f}",
            (precision, step),
            _ula_by_lyapunov(precision, step),
            atol=1e-9,
            rtol=1e-7,
        )


_ULA_MISTAKES = {
    "the target's covariance": (
        lambda precision, step: torch.linalg.inv(precision),
        "that is the target's covariance Lambda^{-1}; unadjusted Langevin with a step > 0 is biased",
    ),
    "noise variance step": (
        lambda precision, step: _ula_reference(precision, step) / 2,
        "the noise is sqrt(2 step) xi: its variance is 2 step, not step",
    ),
    "shrinks instead of widens": (
        lambda precision, step: torch.linalg.inv(
            precision @ (torch.eye(len(precision), dtype=precision.dtype) + step * precision / 2)
        ),
        "expand (I - step Lambda)^2 again: the chain's covariance is *larger* than Lambda^{-1}",
    ),
}

register(
    Exercise(
        "2.2",
        "the stationary covariance of unadjusted Langevin",
        _ula_cases,
        reference=_ula_reference,
        wrong={name: f for name, (f, _) in _ULA_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _ULA_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 2.3


def _energy_and_grad(model: EnergyModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    energy = model.energy(x)
    (grad,) = torch.autograd.grad(energy.sum(), x)
    return energy.detach(), grad


def _log_q(to: torch.Tensor, start: torch.Tensor, grad_start: torch.Tensor, step: float, var: float) -> torch.Tensor:
    """log N(to; start - step grad E(start), var I), without the constant (it cancels)."""
    return -((to - start + step * grad_start) ** 2).sum(-1) / (2 * var)


def _mala_reference(model: EnergyModel, x: torch.Tensor, x_new: torch.Tensor, step: float) -> torch.Tensor:
    e_old, g_old = _energy_and_grad(model, x)
    e_new, g_new = _energy_and_grad(model, x_new)
    log_ratio = e_old - e_new + _log_q(x, x_new, g_new, step, 2 * step) - _log_q(x_new, x, g_old, step, 2 * step)
    return log_ratio.clamp_max(0.0)


def _mala_random_walk(model: EnergyModel, x: torch.Tensor, x_new: torch.Tensor, step: float) -> torch.Tensor:
    return (model.energy(x) - model.energy(x_new)).detach().clamp_max(0.0)


def _mala_variance_step(model: EnergyModel, x: torch.Tensor, x_new: torch.Tensor, step: float) -> torch.Tensor:
    e_old, g_old = _energy_and_grad(model, x)
    e_new, g_new = _energy_and_grad(model, x_new)
    return (e_old - e_new + _log_q(x, x_new, g_new, step, step) - _log_q(x_new, x, g_old, step, step)).clamp_max(0.0)


def _mala_drift_at_start(model: EnergyModel, x: torch.Tensor, x_new: torch.Tensor, step: float) -> torch.Tensor:
    e_old, g_old = _energy_and_grad(model, x)
    e_new, _ = _energy_and_grad(model, x_new)
    reverse = _log_q(x, x_new, g_old, step, 2 * step)
    return (e_old - e_new + reverse - _log_q(x_new, x, g_old, step, 2 * step)).clamp_max(0.0)


def _mala_unclipped(model: EnergyModel, x: torch.Tensor, x_new: torch.Tensor, step: float) -> torch.Tensor:
    e_old, g_old = _energy_and_grad(model, x)
    e_new, g_new = _energy_and_grad(model, x_new)
    return e_old - e_new + _log_q(x, x_new, g_new, step, 2 * step) - _log_q(x_new, x, g_old, step, 2 * step)


def _mala_cases(gen: torch.Generator) -> Iterator[Case]:
    models: list[tuple[str, EnergyModel]] = []
    for d in (2, 3):
        root = torch.randn(d, d, generator=gen)
        precision = root @ root.T + torch.eye(d)
        models.append(
            (f"a {d}-d Gaussian energy", GaussianEnergy(d, mean=torch.randn(d, generator=gen), precision=precision))
        )
    models.append(("a 2-d MLP energy", MLPEnergy(2, hidden=(16,), envelope_std=2.0, generator=gen)))
    for (name, model), step in zip(models, (0.1, 0.05, 0.3)):
        model = model.double()
        x = torch.randn(64, model.n_features, dtype=torch.float64, generator=gen)
        _, grad = _energy_and_grad(model, x)
        noise = torch.randn(x.shape, dtype=torch.float64, generator=gen)
        x_new = x - step * grad + math.sqrt(2 * step) * noise  # a MALA proposal
        yield Case(
            f"{name}, 64 points x and proposals x_new, step {step}",
            (model, x, x_new, step),
            _mala_reference(model, x, x_new, step),
            atol=1e-9,
            rtol=1e-7,
        )


_MALA_MISTAKES = {
    "no proposal correction": (
        _mala_random_walk,
        "this is the random-walk ratio E(x) - E(x'): the Langevin proposal is not symmetric, add "
        "log q(x | x') - log q(x' | x)",
    ),
    "proposal variance step": (
        _mala_variance_step,
        "the proposal is N(x - step grad E(x), 2 step I): its variance is 2 step",
    ),
    "reverse drift at x": (
        _mala_drift_at_start,
        "the reverse move x' -> x drifts along the gradient at x': q(x | x') = N(x; x' - step grad E(x'), 2 step I)",
    ),
    "not clipped at 0": (
        _mala_unclipped,
        "an acceptance probability is at most 1: its log is min(0, log ratio)",
    ),
}

register(
    Exercise(
        "2.3",
        "MALA's log acceptance probability",
        _mala_cases,
        reference=_mala_reference,
        wrong={name: f for name, (f, _) in _MALA_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _MALA_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 2.4


def _sweep_reference(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    for i in range(x.shape[1]):
        field = bias[i] + x @ weight[:, i]  # uses the units before i already redrawn
        x[:, i] = (u[:, i] < torch.sigmoid(field)).to(x.dtype)
    return x


def _sweep_parallel(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return (u < torch.sigmoid(bias + x @ weight)).to(x.dtype)


def _sweep_sign(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return _sweep_reference(-weight, -bias, x, u)


def _sweep_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, chains in [(2, 8), (4, 16), (6, 32)]:
        root = torch.randn(n, n, dtype=torch.float64, generator=gen)
        weight = root + root.T
        weight.fill_diagonal_(0.0)
        bias = torch.randn(n, dtype=torch.float64, generator=gen)
        x = (torch.rand(chains, n, dtype=torch.float64, generator=gen) < 0.5).double()
        u = torch.rand(chains, n, dtype=torch.float64, generator=gen)
        yield Case(
            f"{n} units, {chains} chains", (weight, bias, x, u), _sweep_reference(weight, bias, x, u), atol=0, rtol=0
        )


_SWEEP_MISTAKES = {
    "all units at once": (
        _sweep_parallel,
        "every unit was redrawn from the old state at once; a sweep redraws unit i given the units "
        "before it *already redrawn* (in turn), which keeps p invariant",
    ),
    "field with the wrong sign": (
        _sweep_sign,
        "p(x_i = 1 | x_-i) = sigmoid(b_i + sum_j W_ij x_j): check the sign of the local field",
    ),
}

register(
    Exercise(
        "2.4",
        "one Gibbs sweep",
        _sweep_cases,
        reference=_sweep_reference,
        wrong={name: f for name, (f, _) in _SWEEP_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _SWEEP_MISTAKES),
    )
)
