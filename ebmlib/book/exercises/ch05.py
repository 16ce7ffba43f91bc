"""Checks for chapter 5's exercises (score matching, the Fisher divergence, ratio matching).

Continuous models are small float64 energies (``MLPEnergy`` with SiLU units, ``GaussianEnergy``);
the expected values come from double autograd done term by term here (the library's
``objectives.score_matching`` agrees, see the tests), or from closed forms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ...models import GaussianEnergy, MLPEnergy
from ...objectives import ratio_matching
from ._core import Case, Exercise, register
from .ch04 import _describe, _machine, _random_problem

__all__: list[str] = []

Energy = Callable[[torch.Tensor], torch.Tensor]


def _grad_and_hessian_terms(energy: Energy, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(grad E [b, d], laplacian E [b], sum of every Hessian entry [b])`` by double autograd."""
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(energy(x).sum(), x, create_graph=True)
    rows = []
    for i in range(x.shape[1]):
        (row,) = torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)
        rows.append(row)
    hessian = torch.stack(rows, 1)  # [b, d, d]
    return g.detach(), torch.diagonal(hessian, dim1=1, dim2=2).sum(-1), hessian.sum((1, 2))


def _random_energies(gen: torch.Generator) -> Iterator[tuple[str, Energy, torch.Tensor]]:
    for d in (1, 2, 3):
        a = torch.randn(d, d, dtype=torch.float64, generator=gen)
        precision = a @ a.T + 0.5 * torch.eye(d, dtype=torch.float64)
        mean = torch.randn(d, dtype=torch.float64, generator=gen)
        model = GaussianEnergy(d, mean=mean, precision=precision).double()
        x = torch.randn(6, d, dtype=torch.float64, generator=gen) + mean
        yield f"a {d}-D Gaussian energy (precision with trace {precision.trace().item():.3f}), 6 rows", model.energy, x
    for d in (2, 4):
        mlp = MLPEnergy(d, hidden=(8, 8), generator=gen, dtype=torch.float64)
        x = torch.randn(5, d, dtype=torch.float64, generator=gen)
        yield f"a {d}-D MLP energy (two SiLU layers of 8), 5 rows", mlp.energy, x


# --------------------------------------------------------------------------- 5.1


def _sm_loss(energy: Energy, x: torch.Tensor) -> torch.Tensor:
    g, lap, _ = _grad_and_hessian_terms(energy, x)
    return (0.5 * (g * g).sum(1) - lap).mean()


def _sm_trace_sign(energy, x):
    g, lap, _ = _grad_and_hessian_terms(energy, x)
    return (0.5 * (g * g).sum(1) + lap).mean()


def _sm_no_trace(energy, x):
    g, _, _ = _grad_and_hessian_terms(energy, x)
    return (0.5 * (g * g).sum(1)).mean()


def _sm_whole_hessian(energy, x):
    g, _, whole = _grad_and_hessian_terms(energy, x)
    return (0.5 * (g * g).sum(1) - whole).mean()


def _sm_cases(gen: torch.Generator) -> Iterator[Case]:
    for text, energy, x in _random_energies(gen):
        yield Case(text, (energy, x), _sm_loss(energy, x), atol=1e-8, rtol=1e-8)


def _sm_hint(case: Case, got: object) -> str:
    energy, x = case.args
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    if abs(value - _sm_trace_sign(energy, x).item()) < 1e-7:
        return "the trace term has the wrong sign: tr grad_x s = -(Laplacian of E), so J = 1/2 |grad E|^2 - Laplacian E"
    if abs(value - _sm_no_trace(energy, x).item()) < 1e-7:
        return "the Hessian-trace term is missing: 1/2 |s|^2 alone is minimised by a flat energy"
    if abs(value - _sm_whole_hessian(energy, x).item()) < 1e-7:
        return "you summed every entry of the Hessian; the trace takes its diagonal only (d^2 E / dx_i^2)"
    return ""


register(
    Exercise(
        id="5.1",
        title="the score matching loss, Hessian trace included",
        cases=_sm_cases,
        reference=_sm_loss,
        wrong={
            "trace with the wrong sign": _sm_trace_sign,
            "no trace term": _sm_no_trace,
            "every Hessian entry": _sm_whole_hessian,
            "no 1/2": lambda e, x: _sm_loss(e, x) + 0.5 * (_grad_and_hessian_terms(e, x)[0] ** 2).sum(1).mean(),
        },
        hint=_sm_hint,
    )
)


# --------------------------------------------------------------------------- 5.2


def _fisher_gaussians(m1: float, v1: float, m2: float, v2: float) -> float:
    """D_F(N(m1, v1) || N(m2, v2)) = 1/2 E_p (s_p - s_q)^2, with variances v1, v2."""
    return 0.5 * ((m1 - m2) ** 2 / v2**2 + v1 * (1 / v2 - 1 / v1) ** 2)


def _fisher_cases(gen: torch.Generator) -> Iterator[Case]:
    for _ in range(5):
        m1, m2 = (3 * torch.randn(2, generator=gen, dtype=torch.float64)).tolist()
        v1, v2 = (0.2 + 3 * torch.rand(2, generator=gen, dtype=torch.float64)).tolist()
        yield Case(
            f"p = N({m1:.3f}, variance {v1:.3f}), q = N({m2:.3f}, variance {v2:.3f})",
            (m1, v1, m2, v2),
            _fisher_gaussians(m1, v1, m2, v2),
            atol=1e-9,
            rtol=1e-9,
        )


def _fisher_hint(case: Case, got: object) -> str:
    m1, v1, m2, v2 = case.args
    try:
        value = float(got)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if abs(value - _fisher_gaussians(m2, v2, m1, v1)) < 1e-7 * (1 + abs(value)):
        return "that is D_F(q || p): the Fisher divergence is not symmetric; D_F(p || q) averages (s_p - s_q)^2 over p"
    s1, s2 = v1**0.5, v2**0.5
    if abs(value - _fisher_gaussians(m1, s1, m2, s2)) < 1e-7 * (1 + abs(value)):
        return "v1 and v2 are variances, not standard deviations"
    return ""


register(
    Exercise(
        id="5.2",
        title="the Fisher divergence between two Gaussians",
        cases=_fisher_cases,
        reference=_fisher_gaussians,
        wrong={
            "the reverse divergence": lambda m1, v1, m2, v2: _fisher_gaussians(m2, v2, m1, v1),
            "standard deviations as variances": lambda m1, v1, m2, v2: _fisher_gaussians(m1, v1**0.5, m2, v2**0.5),
            "no 1/2": lambda m1, v1, m2, v2: 2 * _fisher_gaussians(m1, v1, m2, v2),
        },
        hint=_fisher_hint,
    )
)


# --------------------------------------------------------------------------- 5.3


def _dsm_loss(score: Energy, x: torch.Tensor, sigma: float, noise: torch.Tensor) -> torch.Tensor:
    return 0.5 * (score(x + sigma * noise) + noise / sigma).pow(2).sum(1).mean()


def _dsm_cases(gen: torch.Generator) -> Iterator[Case]:
    for (text, energy, x), sigma in zip(_random_energies(gen), (0.1, 0.5, 1.0, 0.3, 0.7)):
        noise = torch.randn(x.shape, dtype=torch.float64, generator=gen)
        score = _score_of(energy)
        yield Case(
            f"{text}, sigma = {sigma}",
            (score, x, sigma, noise),
            _dsm_loss(score, x, sigma, noise).detach(),
            atol=1e-9,
            rtol=1e-9,
        )


def _score_of(energy: Energy) -> Energy:
    def score(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(energy(x).sum(), x)
        return -g

    return score


def _dsm_wrong_sign(score, x, sigma, noise):
    return 0.5 * (score(x + sigma * noise) - noise / sigma).pow(2).sum(1).mean()


def _dsm_times_sigma(score, x, sigma, noise):
    return 0.5 * (score(x + sigma * noise) + noise * sigma).pow(2).sum(1).mean()


def _dsm_clean(score, x, sigma, noise):
    return 0.5 * (score(x) + noise / sigma).pow(2).sum(1).mean()


def _dsm_hint(case: Case, got: object) -> str:
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    texts = {
        "the target has the wrong sign: noise moved x by +sigma e, the blurred conditional's score "
        "points back, -e / sigma, so the loss holds s(x + sigma e) + e / sigma": _dsm_wrong_sign,
        "the target's scale: the score of N(x, sigma^2 I) at x + sigma e is -e / sigma, not -sigma e": _dsm_times_sigma,
        "evaluate the model's score at the noisy point x + sigma e, not at the clean x": _dsm_clean,
    }
    for text, wrong in texts.items():
        if abs(value - wrong(*case.args).item()) < 1e-7 * (1 + abs(value)):
            return text
    return ""


register(
    Exercise(
        id="5.3",
        title="the denoising score matching loss",
        cases=_dsm_cases,
        reference=_dsm_loss,
        wrong={
            "target with the wrong sign": _dsm_wrong_sign,
            "target times sigma": _dsm_times_sigma,
            "score at the clean point": _dsm_clean,
        },
        hint=_dsm_hint,
    )
)


# --------------------------------------------------------------------------- 5.4


def _rm_loss(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ratio_matching(_machine(w, b), x).detach()


def _rm_gaps(w, b, x):
    """E(x) - E(x^(i)) for each row and unit, from the local fields."""
    return -(2 * x - 1) * (x @ w + b)


def _rm_cases(gen: torch.Generator) -> Iterator[Case]:
    for n, batch, scale in ((2, 4, 1.0), (3, 6, 1.0), (4, 8, 1.5), (5, 10, 0.8), (6, 7, 2.0)):
        w, b, x = _random_problem(n, batch, scale, gen)
        yield Case(_describe(w, x), (w, b, x), _rm_loss(w, b, x), atol=1e-9, rtol=1e-9)


def _rm_hint(case: Case, got: object) -> str:
    w, b, x = case.args
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    gaps = _rm_gaps(w, b, x)
    if abs(value - torch.sigmoid(gaps).sum(1).mean().item()) < 1e-7:
        return "each term is squared: sigma(E(x) - E(x^(i)))^2"
    if abs(value - torch.sigmoid(-gaps).pow(2).sum(1).mean().item()) < 1e-7:
        return (
            "the gap is reversed: the term is 1 / (1 + p(x) / p(x^(i)))^2 = sigma(E(x) - E(x^(i)))^2, "
            "small when the data state x is more probable than its flip"
        )
    return ""


register(
    Exercise(
        id="5.4",
        title="ratio matching for a Boltzmann machine",
        cases=_rm_cases,
        reference=_rm_loss,
        wrong={
            "not squared": lambda w, b, x: torch.sigmoid(_rm_gaps(w, b, x)).sum(1).mean(),
            "gap reversed": lambda w, b, x: torch.sigmoid(-_rm_gaps(w, b, x)).pow(2).sum(1).mean(),
            "summed over the batch": lambda w, b, x: _rm_loss(w, b, x) * len(x),
        },
        hint=_rm_hint,
    )
)
