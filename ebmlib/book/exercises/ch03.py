"""Checks for the exercises of chapter 3 (contrastive divergence and stochastic maximum likelihood).

3.1 (by hand) CD-1's negative statistics on two units, one sweep from the data.
3.2 (implement) an RBM's mean-field reconstruction cross-entropy (CD as an autoencoder).
3.3 (implement) the exact law of CD-k's chains, q T^k, from the transition matrix.

Exercises 3.4 (SML needs a small learning rate) and 3.5 (Berglund and Raiko's counterfactual)
are investigations, measured in the chapter, with no check here.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.nn.functional import softplus

from ... import exact
from ...models import BoltzmannMachine
from ._core import Case, Exercise, register
from .ch01 import matching_mistake, two_unit_model

__all__: list[str] = []


def _law_of(x: torch.Tensor) -> torch.Tensor:
    """The empirical law of binary rows ``x`` over the ``2^n`` states of :func:`exact.binary_states`."""
    n = x.shape[1]
    codes = (x.double() * 2 ** torch.arange(n, dtype=torch.float64)).sum(1).long()
    return torch.bincount(codes, minlength=2**n).double() / len(x)


def _two_unit_stats(law: torch.Tensor) -> tuple[float, float, float]:
    states = exact.binary_states(2)
    s = law @ torch.stack([states[:, 0] * states[:, 1], states[:, 0], states[:, 1]], 1)
    return s[0].item(), s[1].item(), s[2].item()


# --------------------------------------------------------------------------- 3.1


def _cd1_two_reference(w: float, b1: float, b2: float, data: torch.Tensor) -> tuple[float, float, float]:
    law = exact.chain_law(two_unit_model(w, b1, b2), _law_of(data), 1)
    return _two_unit_stats(law)


def _sig(t: torch.Tensor | float) -> torch.Tensor:
    return torch.sigmoid(torch.as_tensor(t, dtype=torch.float64))


def _cd1_two_parallel(w: float, b1: float, b2: float, data: torch.Tensor) -> tuple[float, float, float]:
    x1, x2 = data[:, 0].double(), data[:, 1].double()
    p1, p2 = _sig(b1 + w * x2), _sig(b2 + w * x1)  # both from the old state
    return (p1 * p2).mean().item(), p1.mean().item(), p2.mean().item()


def _cd1_two_model(w: float, b1: float, b2: float, data: torch.Tensor) -> tuple[float, float, float]:
    return _two_unit_stats(exact.distribution(two_unit_model(w, b1, b2))[1])


def _cd1_two_data(w: float, b1: float, b2: float, data: torch.Tensor) -> tuple[float, float, float]:
    return _two_unit_stats(_law_of(data))


def _cd1_two_cases(gen: torch.Generator) -> Iterator[Case]:
    for size in (5, 20, 50, 100):
        w, b1, b2 = (1.5 * torch.randn(3, dtype=torch.float64, generator=gen)).tolist()
        data = (torch.rand(size, 2, dtype=torch.float64, generator=gen) < torch.rand(2, generator=gen)).double()
        yield Case(
            f"w = {w:.3f}, b1 = {b1:.3f}, b2 = {b2:.3f}, {size} data rows (mean of x2: {data[:, 1].mean():.2f})",
            (w, b1, b2, data),
            _cd1_two_reference(w, b1, b2, data),
            atol=1e-6,  # float32 arithmetic passes; every listed mistake is off by far more
            rtol=1e-6,
        )


_CD1_TWO_MISTAKES = {
    "both units from the old state": (
        _cd1_two_parallel,
        "unit 2 is redrawn *after* unit 1, given the new x1': E[x2'] = E[sigmoid(b2 + w x1')], and "
        "E[x1' x2'] = E[x1'] sigmoid(b2 + w)",
    ),
    "the model's statistics": (
        _cd1_two_model,
        "these are the model's exact statistics (the maximum-likelihood negative phase): CD-1 stops "
        "after one sweep from the data",
    ),
    "the data's statistics": (
        _cd1_two_data,
        "these are the data's own statistics (zero steps): make the sweep",
    ),
}

register(
    Exercise(
        "3.1",
        "CD-1's negative statistics on two units",
        _cd1_two_cases,
        reference=_cd1_two_reference,
        wrong={name: f for name, (f, _) in _CD1_TWO_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _CD1_TWO_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 3.2


def _reconstruction_logits(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    hidden = torch.sigmoid(hidden_bias + v @ weight)  # [batch, m]: p(h_j = 1 | v)
    return visible_bias + hidden @ weight.T  # [batch, n]: logits of the reconstruction


def _reconstruction_reference(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    logits = _reconstruction_logits(weight, visible_bias, hidden_bias, v)
    return (softplus(logits) - v * logits).sum(1)  # -[v log r + (1 - v) log(1 - r)], r = sigmoid


def _reconstruction_by_probabilities(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """The cross-entropy written with the probabilities r (a different route, float64)."""
    r = torch.sigmoid(_reconstruction_logits(weight, visible_bias, hidden_bias, v))
    return -(v * torch.log(r) + (1 - v) * torch.log1p(-r)).sum(1)


def _reconstruction_squared(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    r = torch.sigmoid(_reconstruction_logits(weight, visible_bias, hidden_bias, v))
    return ((v - r) ** 2).sum(1)


def _reconstruction_no_hidden_bias(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    return _reconstruction_reference(weight, visible_bias, torch.zeros_like(hidden_bias), v)


def _reconstruction_mean(
    weight: torch.Tensor, visible_bias: torch.Tensor, hidden_bias: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    return _reconstruction_reference(weight, visible_bias, hidden_bias, v) / v.shape[1]


def _reconstruction_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, m, batch in [(4, 3, 5), (9, 4, 8), (16, 6, 10)]:
        weight = torch.randn(n, m, dtype=torch.float64, generator=gen)
        visible_bias = torch.randn(n, dtype=torch.float64, generator=gen)
        hidden_bias = torch.randn(m, dtype=torch.float64, generator=gen)
        v = (torch.rand(batch, n, dtype=torch.float64, generator=gen) < 0.5).double()
        yield Case(
            f"an RBM with {n} visible and {m} hidden units, {batch} binary rows v",
            (weight, visible_bias, hidden_bias, v),
            _reconstruction_by_probabilities(weight, visible_bias, hidden_bias, v),
            atol=1e-9,
            rtol=1e-8,
        )


_RECONSTRUCTION_MISTAKES = {
    "squared error": (
        _reconstruction_squared,
        "this is the squared error; the exercise asks for the cross-entropy "
        "-sum_i [v_i log r_i + (1 - v_i) log(1 - r_i)]",
    ),
    "hidden bias forgotten": (
        _reconstruction_no_hidden_bias,
        "the hidden probabilities are sigmoid(a + v W): the hidden biases a are missing",
    ),
    "mean over pixels": (
        _reconstruction_mean,
        "sum over the n pixels of a row, do not average them",
    ),
}

register(
    Exercise(
        "3.2",
        "an RBM's reconstruction cross-entropy",
        _reconstruction_cases,
        reference=_reconstruction_reference,
        wrong={name: f for name, (f, _) in _RECONSTRUCTION_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _RECONSTRUCTION_MISTAKES),
    )
)


# --------------------------------------------------------------------------- 3.3


def _cd_law_reference(model: BoltzmannMachine, x: torch.Tensor, k: int) -> torch.Tensor:
    transition = exact.gibbs_transition(model)
    return _law_of(x) @ torch.linalg.matrix_power(transition, k)


def _cd_law_data(model: BoltzmannMachine, x: torch.Tensor, k: int) -> torch.Tensor:
    return _law_of(x)


def _cd_law_one_more(model: BoltzmannMachine, x: torch.Tensor, k: int) -> torch.Tensor:
    return _cd_law_reference(model, x, k + 1)


def _cd_law_transposed(model: BoltzmannMachine, x: torch.Tensor, k: int) -> torch.Tensor:
    return torch.linalg.matrix_power(exact.gibbs_transition(model), k) @ _law_of(x)


def _cd_law_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, k, scale in [(3, 1, 1.0), (4, 2, 1.5), (5, 1, 2.0), (5, 3, 1.0)]:
        model = BoltzmannMachine.random(n, weight_std=scale, bias_std=0.5, generator=gen).double()
        x = (torch.rand(40, n, dtype=torch.float64, generator=gen) < 0.5).double()
        yield Case(
            f"a random {n}-unit Boltzmann machine (couplings of std {scale}), 40 data rows, k = {k}",
            (model, x, k),
            exact.chain_law(model, _law_of(x), k),  # propagated pair by pair, no matrix
            atol=1e-10,
            rtol=1e-8,
        )


_CD_LAW_MISTAKES = {
    "the data's law": (_cd_law_data, "this is the data's own law q; the chains then take k sweeps: q T^k"),
    "one sweep too many": (_cd_law_one_more, "this is q T^(k+1): one sweep too many"),
    "T^k q instead of q T^k": (
        _cd_law_transposed,
        "T[i, j] is the probability of moving from state i to state j, so a law is a row vector: q T^k, not T^k q",
    ),
}

register(
    Exercise(
        "3.3",
        "the exact law of CD-k's chains",
        _cd_law_cases,
        reference=_cd_law_reference,
        wrong={name: f for name, (f, _) in _CD_LAW_MISTAKES.items()},
        hint=lambda case, got: matching_mistake(case, got, _CD_LAW_MISTAKES),
    )
)
