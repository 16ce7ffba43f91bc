"""Checks for chapter 10's exercises (every method side by side).

* 10.1 (implement) the exact log-likelihood of a tiny RBM, the score every table uses;
* 10.2 (by hand) the variational bound of a stacked RBM: the first layer's posterior, a new
  prior over its hidden units;
* 10.4 (implement) the aggregate posterior, the prior that a second layer would learn.

Expected answers: :func:`ebmlib.exact.log_likelihood` (10.1, tested against brute-force sums)
and the bound summed over every hidden state (10.2; the tests check that it equals the exact
log-likelihood when the prior is the RBM's own hidden marginal, and is below it otherwise);
the aggregate posterior summed over every hidden state (10.4).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from ebmlib import exact
from ebmlib.models import RBM

from ._core import Case, Exercise, mistakes, register, same_values

__all__: list[str] = []

_F = torch.float64


def rbm_from(weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor) -> RBM:
    """An :class:`RBM` in float64 with these parameters (``weight`` is ``[n_visible, n_hidden]``)."""
    rbm = RBM(*weight.shape, dtype=_F)
    with torch.no_grad():
        rbm.weight.copy_(weight)
        rbm.visible_bias.copy_(visible_bias)
        rbm.hidden_bias.copy_(hidden_bias)
    return rbm


def _random_rbm(n_visible: int, n_hidden: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    w = torch.randn(n_visible, n_hidden, dtype=_F, generator=gen)
    b = torch.randn(n_visible, dtype=_F, generator=gen)
    a = torch.randn(n_hidden, dtype=_F, generator=gen)
    return w, b, a


def _binary(n: int, n_units: int, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, n_units, dtype=_F, generator=gen) < 0.5).to(_F)


# --------------------------------------------------------------------------- 10.1


def _ll_reference(w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return exact.log_likelihood(rbm_from(w, b, a), x)


def _neg_free_energy(w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return v @ b + F.softplus(a + v @ w).sum(-1)


def _all_visible(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=_F)


def _ll_mistakes(w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    linear = x @ b + (a + x @ w).sum(-1)
    linear_z = torch.logsumexp(_all_visible(len(b)) @ b + (a + _all_visible(len(b)) @ w).sum(-1), 0)
    return {
        "no softplus": linear - linear_z,
        "Z without the hidden units": _neg_free_energy(w, b, a, x) - F.softplus(b).sum(),
        "unnormalized": _neg_free_energy(w, b, a, x),
    }


def _ll_cases(gen: torch.Generator) -> Iterator[Case]:
    for n_visible, n_hidden in ((3, 2), (4, 3), (5, 2), (6, 4), (4, 5)):
        w, b, a = _random_rbm(n_visible, n_hidden, gen)
        x = _binary(5, n_visible, gen)
        yield Case(
            f"an RBM with {n_visible} visible and {n_hidden} hidden units, 5 binary rows",
            (w, b, a, x),
            _ll_reference(w, b, a, x),
            atol=1e-8,
            rtol=1e-8,
        )


def _ll_hint(case: Case, got: Any) -> str:
    m = _ll_mistakes(*case.args)
    if same_values(got, m["no softplus"]):
        return "summing out a hidden unit gives log(1 + exp(a_j + v.W_j)) (a softplus), not a_j + v.W_j"
    if same_values(got, m["Z without the hidden units"]):
        return "log Z sums exp(-F(v)) over every visible state, hidden units included: not the visible biases alone"
    return ""


register(
    Exercise(
        id="10.1",
        title="the exact log-likelihood of a tiny RBM",
        cases=_ll_cases,
        reference=_ll_reference,
        wrong=mistakes(_ll_mistakes, "no softplus", "Z without the hidden units", "unnormalized"),
        hint=_ll_hint,
    )
)


# --------------------------------------------------------------------------- 10.2


def _bound_parts(
    w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, v: torch.Tensor, hidden_states: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log q(h | v) and log p(v | h), both ``[B, 2^n_h]``."""
    pre_h = a + v @ w  # [B, n_h]
    log_q = hidden_states @ F.logsigmoid(pre_h).T + (1 - hidden_states) @ F.logsigmoid(-pre_h).T  # [H, B]
    pre_v = b + hidden_states @ w.T  # [H, n_v]
    log_pv = F.logsigmoid(pre_v) @ v.T + F.logsigmoid(-pre_v) @ (1 - v).T  # [H, B]
    return log_q.T, log_pv.T


def _bound_reference(
    w: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    v: torch.Tensor,
    hidden_states: torch.Tensor,
    log_prior: torch.Tensor,
) -> torch.Tensor:
    log_q, log_pv = _bound_parts(w, b, a, v, hidden_states)
    return (log_q.exp() * (log_prior + log_pv - log_q)).sum(-1)


def _bound_mistakes(
    w: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    v: torch.Tensor,
    hidden_states: torch.Tensor,
    log_prior: torch.Tensor,
) -> dict[str, torch.Tensor]:
    log_q, log_pv = _bound_parts(w, b, a, v, hidden_states)
    q = log_q.exp()
    return {
        "no entropy": (q * (log_prior + log_pv)).sum(-1),
        "prior left out": (q * (log_pv - log_q)).sum(-1),
        "average over h": (log_prior + log_pv).mean(-1),
    }


def _bound_cases(gen: torch.Generator) -> Iterator[Case]:
    for n_visible, n_hidden in ((3, 2), (4, 3), (5, 2), (4, 4)):
        w, b, a = _random_rbm(n_visible, n_hidden, gen)
        v = _binary(5, n_visible, gen)
        states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_hidden)), dtype=_F)
        log_prior = torch.log_softmax(torch.randn(len(states), dtype=_F, generator=gen), 0)
        yield Case(
            f"an RBM with {n_visible} visible and {n_hidden} hidden units, a random prior over the "
            f"{len(states)} hidden states, 5 binary rows",
            (w, b, a, v, states, log_prior),
            _bound_reference(w, b, a, v, states, log_prior),
            atol=1e-8,
            rtol=1e-8,
        )


def _bound_hint(case: Case, got: Any) -> str:
    m = _bound_mistakes(*case.args)
    if same_values(got, m["no entropy"]):
        return "the bound also has the entropy of q(h | v), -sum_h q log q: without it the bound is too low"
    if same_values(got, m["prior left out"]):
        return "the new model is p(v, h) = p_2(h) p_1(v | h): log p_2(h) belongs in the bound"
    if same_values(got, m["average over h"]):
        return "average over q(h | v), the first layer's posterior, not uniformly over the hidden states"
    return ""


register(
    Exercise(
        id="10.2",
        title="the bound of a stacked RBM",
        cases=_bound_cases,
        reference=_bound_reference,
        wrong=mistakes(_bound_mistakes, "no entropy", "prior left out", "average over h"),
        hint=_bound_hint,
    )
)


# --------------------------------------------------------------------------- 10.4


def _aggregate_reference(
    w: torch.Tensor, a: torch.Tensor, v: torch.Tensor, hidden_states: torch.Tensor
) -> torch.Tensor:
    pre_h = a + v @ w
    log_q = F.logsigmoid(pre_h) @ hidden_states.T + F.logsigmoid(-pre_h) @ (1 - hidden_states).T  # [B, H]
    return torch.logsumexp(log_q, 0) - torch.log(torch.tensor(float(len(v)), dtype=_F))


def _aggregate_mistakes(
    w: torch.Tensor, a: torch.Tensor, v: torch.Tensor, hidden_states: torch.Tensor
) -> dict[str, torch.Tensor]:
    pre_h = a + v @ w
    log_q = F.logsigmoid(pre_h) @ hidden_states.T + F.logsigmoid(-pre_h) @ (1 - hidden_states).T
    mean_p = torch.sigmoid(pre_h).mean(0)
    return {
        "mean of log q": log_q.mean(0),
        "not divided by N": torch.logsumexp(log_q, 0),
        "factorized": hidden_states @ mean_p.log() + (1 - hidden_states) @ (1 - mean_p).log(),
    }


def _aggregate_cases(gen: torch.Generator) -> Iterator[Case]:
    for n_visible, n_hidden, n in ((3, 2, 4), (4, 3, 6), (5, 2, 5), (4, 4, 8)):
        w, _, a = _random_rbm(n_visible, n_hidden, gen)
        v = _binary(n, n_visible, gen)
        states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_hidden)), dtype=_F)
        yield Case(
            f"an RBM with {n_visible} visible and {n_hidden} hidden units, {n} training rows",
            (w, a, v, states),
            _aggregate_reference(w, a, v, states),
            atol=1e-9,
            rtol=1e-8,
        )


def _aggregate_hint(case: Case, got: Any) -> str:
    m = _aggregate_mistakes(*case.args)
    if same_values(got, m["mean of log q"]):
        return "the prior is the log of the mean of q(h | v_n) (a log-mean-exp), not the mean of the logs"
    if same_values(got, m["factorized"]):
        return "the aggregate posterior is a mixture of N products, not a product of the averaged units"
    return ""


register(
    Exercise(
        id="10.4",
        title="the aggregate posterior as a second layer",
        cases=_aggregate_cases,
        reference=_aggregate_reference,
        wrong=mistakes(_aggregate_mistakes, "mean of log q", "not divided by N", "factorized"),
        hint=_aggregate_hint,
    )
)
