"""Checks for the exercises of chapter 1 (the partition function).

1.1 (by hand) log Z of a two-unit Boltzmann machine, as a formula in ``w, b1, b2``.
1.2 (implement) log Z of a ring of spins by transfer matrices (a trace).
1.3 (by hand) the second derivative of log Z in the inverse temperature: the energy's variance.
1.4 (implement) an RBM's log Z by summing out the visible layer.

Exercise 1.5 (how coarse the integration grid can be) is an investigation, measured in the
chapter, with no check here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ... import exact
from ...models import RBM, BoltzmannMachine
from ._core import Case, Exercise, compare_values, register

__all__: list[str] = []


def matching_mistake(case: Case, got: Any, mistakes: dict[str, tuple[Callable[..., Any], str]]) -> str:
    """The message of the first named mistake whose answer ``got`` reproduces on ``case``, or ``""``.

    ``mistakes`` maps a name to ``(wrong_answer, message)``; ``wrong_answer`` is called with the
    case's arguments. Chapter modules use it to turn a wrong result into the mistake behind it.
    """
    for wrong, message in mistakes.values():
        try:
            value = wrong(*case.args, **case.kwargs)
        except Exception:  # noqa: BLE001 - a mistake that does not apply to this case
            continue
        if not compare_values(value, got, case.atol, case.rtol):
            return message
    return ""


# --------------------------------------------------------------------------- 1.1


def two_unit_model(w: float, b1: float, b2: float) -> BoltzmannMachine:
    """The Boltzmann machine with coupling ``w`` between its two units and biases ``b1, b2`` (float64)."""
    model = BoltzmannMachine(2, init_std=0.0, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, w], [w, 0.0]], dtype=torch.float64))
        model.bias.copy_(torch.tensor([b1, b2], dtype=torch.float64))
    return model


def _log_z_two(w: float, b1: float, b2: float) -> float:
    return float(torch.logsumexp(torch.tensor([0.0, b1, b2, w + b1 + b2], dtype=torch.float64), 0))


def _two_unit_cases(gen: torch.Generator) -> Iterator[Case]:
    for _ in range(5):
        w, b1, b2 = (2 * torch.randn(3, dtype=torch.float64, generator=gen)).tolist()
        states = exact.binary_states(2)  # the four states, enumerated: a route apart from the formula
        expected = torch.logsumexp(-two_unit_model(w, b1, b2).energy(states), 0).item()
        yield Case(f"w = {w:.3f}, b1 = {b1:.3f}, b2 = {b2:.3f}", (w, b1, b2), expected, atol=1e-6, rtol=1e-6)


_TWO_UNIT_MISTAKES = {
    "half the coupling": (
        lambda w, b1, b2: _log_z_two(w / 2, b1, b2),
        "with a symmetric W, x^T W x / 2 = w x1 x2: the 1/2 cancels the two equal terms W12 and W21",
    ),
    "all-off state forgotten": (
        lambda w, b1, b2: float(torch.logsumexp(torch.tensor([b1, b2, w + b1 + b2]), 0)),
        "a term is missing: the state x = (0, 0) has energy 0 and contributes e^0 = 1 to Z",
    ),
    "Z instead of log Z": (
        lambda w, b1, b2: math.exp(_log_z_two(w, b1, b2)),
        "this is Z itself; the exercise asks for log Z",
    ),
    "energy sign": (
        lambda w, b1, b2: _log_z_two(-w, -b1, -b2),
        "the weights are e^{-E(x)} = e^{w x1 x2 + b1 x1 + b2 x2}: check the sign of the energy",
    ),
}

register(
    Exercise(
        "1.1",
        "log Z of two units",
        _two_unit_cases,
        reference=_log_z_two,
        wrong={name: f for name, (f, _) in _TWO_UNIT_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _TWO_UNIT_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 1.2

_SPINS = torch.tensor([-1.0, 1.0], dtype=torch.float64)


def _ring_by_enumeration(coupling: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    n = len(field)
    s = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=n)), dtype=torch.float64)
    neg_energy = (coupling * s * s.roll(-1, 1)).sum(1) + s @ field
    return torch.logsumexp(neg_energy, 0)


def _log_transfer(coupling_i: torch.Tensor, field_i: torch.Tensor) -> torch.Tensor:
    """``log T_i[s, s'] = h_i s + J_i s s'`` as a ``[2, 2]`` tensor."""
    return field_i * _SPINS[:, None] + coupling_i * _SPINS[:, None] * _SPINS[None, :]


def _ring_reference(coupling: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """log tr(T_0 T_1 ... T_{n-1}), in log space."""
    product = _log_transfer(coupling[0], field[0])  # log of the running product of matrices
    for i in range(1, len(field)):
        product = torch.logsumexp(product[:, :, None] + _log_transfer(coupling[i], field[i])[None], 1)
    return torch.logsumexp(torch.diagonal(product), 0)


def _ring_open(coupling: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    closed = coupling.clone()
    closed[-1] = 0.0
    return _ring_by_enumeration(closed, field)


def _ring_sum_of_entries(coupling: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    product = _log_transfer(coupling[0], field[0])
    for i in range(1, len(field)):
        product = torch.logsumexp(product[:, :, None] + _log_transfer(coupling[i], field[i])[None], 1)
    return torch.logsumexp(product.reshape(-1), 0)


def _ring_cases(gen: torch.Generator) -> Iterator[Case]:
    for n in (3, 4, 6, 8, 10):
        coupling = torch.randn(n, dtype=torch.float64, generator=gen)
        field = torch.randn(n, dtype=torch.float64, generator=gen)
        yield Case(
            f"a ring of {n} spins, J = {coupling.numpy().round(3).tolist()}, h = {field.numpy().round(3).tolist()}",
            (coupling, field),
            _ring_by_enumeration(coupling, field),
            atol=1e-8,
            rtol=1e-8,
        )


_RING_MISTAKES = {
    "open chain": (
        _ring_open,
        "this is the open chain: the ring closes with the coupling J[n-1] s_{n-1} s_0 (the last matrix)",
    ),
    "sum of all entries instead of the trace": (
        _ring_sum_of_entries,
        "on a ring the last spin is the first one again: take the trace of the product "
        "(s_0 = s_n), not the sum of all its entries",
    ),
}

register(
    Exercise(
        "1.2",
        "log Z of a ring by transfer matrices",
        _ring_cases,
        reference=_ring_reference,
        wrong={name: f for name, (f, _) in _RING_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _RING_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 1.3


def _energy_moments(model: BoltzmannMachine) -> tuple[torch.Tensor, torch.Tensor]:
    states, probs = exact.distribution(model)
    energies = model.energy(states).detach().double()
    return probs @ energies, probs @ energies**2


def _curvature_reference(model: BoltzmannMachine) -> torch.Tensor:
    mean, second = _energy_moments(model)
    return second - mean**2


def _curvature_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, scale in [(3, 0.5), (4, 1.0), (5, 1.5), (6, 1.0)]:
        model = BoltzmannMachine.random(n, weight_std=scale, bias_std=scale, generator=gen).double()
        yield Case(
            f"a random {n}-unit Boltzmann machine (couplings of std {scale})",
            (model,),
            _curvature_reference(model),
            atol=1e-8,
            rtol=1e-6,
        )


_CURVATURE_MISTAKES = {
    "second moment": (
        lambda m: _energy_moments(m)[1],
        "this is E[E(x)^2]; the second derivative of log Z is a variance: subtract E[E(x)]^2",
    ),
    "mean energy": (
        lambda m: _energy_moments(m)[0],
        "this is E[E(x)], minus the *first* derivative of log Z; differentiate once more",
    ),
    "minus the variance": (
        lambda m: -_curvature_reference(m),
        "log Z is convex in beta: its second derivative is a variance, never negative (a sign)",
    ),
}

register(
    Exercise(
        "1.3",
        "the curvature of log Z in the inverse temperature",
        _curvature_cases,
        reference=_curvature_reference,
        wrong={name: f for name, (f, _) in _CURVATURE_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _CURVATURE_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 1.4


def _rbm_log_z_reference(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> torch.Tensor:
    hidden = exact.binary_states(weight.shape[1], dtype=weight.dtype)  # [2^m, m]
    fields = visible_bias + hidden @ weight.T  # [2^m, n]: b + W h
    return torch.logsumexp(hidden @ hidden_bias + torch.nn.functional.softplus(fields).sum(1), 0)


def _rbm_of(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> RBM:
    model = RBM(weight.shape[0], weight.shape[1], init_std=0.0, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(weight)
        model.visible_bias.copy_(visible_bias)
        model.hidden_bias.copy_(hidden_bias)
    return model


def _rbm_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, m in [(3, 2), (5, 3), (8, 4), (4, 6)]:
        weight = torch.randn(n, m, dtype=torch.float64, generator=gen)
        visible_bias = torch.randn(n, dtype=torch.float64, generator=gen)
        hidden_bias = torch.randn(m, dtype=torch.float64, generator=gen)
        # enumerate the visible layer, the one the exercise sums out: a different route
        states = exact.binary_states(n)
        expected = torch.logsumexp(-_rbm_of(weight, visible_bias, hidden_bias).energy(states), 0).detach()
        yield Case(
            f"an RBM with {n} visible and {m} hidden units",
            (weight, visible_bias, hidden_bias),
            expected,
            atol=1e-8,
            rtol=1e-8,
        )


def _rbm_no_hidden_bias(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> torch.Tensor:
    return _rbm_log_z_reference(weight, visible_bias, torch.zeros_like(hidden_bias))


def _rbm_exp_not_softplus(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> torch.Tensor:
    hidden = exact.binary_states(weight.shape[1], dtype=weight.dtype)
    fields = visible_bias + hidden @ weight.T
    return torch.logsumexp(hidden @ hidden_bias + fields.clamp_min(0).sum(1), 0)


def _rbm_log_mean_exp(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> torch.Tensor:
    return _rbm_log_z_reference(weight, visible_bias, hidden_bias) - weight.shape[1] * math.log(2)


_RBM_MISTAKES = {
    "hidden bias forgotten": (
        _rbm_no_hidden_bias,
        "the term a^T h (the hidden biases) is missing from the exponent",
    ),
    "max instead of the sum over v_i": (
        _rbm_exp_not_softplus,
        "summing v_i over {0, 1} gives 1 + e^{t}, whose log is softplus(t) = log(1 + e^t), not max(0, t)",
    ),
    "log-mean-exp over h": (
        _rbm_log_mean_exp,
        "Z is a sum over the 2^m hidden states, not a mean: use logsumexp, not a log-mean-exp",
    ),
}

register(
    Exercise(
        "1.4",
        "an RBM's log Z over its hidden layer",
        _rbm_cases,
        reference=_rbm_log_z_reference,
        wrong={name: f for name, (f, _) in _RBM_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _RBM_MISTAKES),
    )
)
