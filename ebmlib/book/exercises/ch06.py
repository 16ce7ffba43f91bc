"""Checks for chapter 6's exercises (noise-contrastive estimation).

NCE's classifier has log-odds :math:`G(u) = \\log p_m(u) - \\log p_n(u) - \\log k`, and the loss per
data point is

.. math::

    J = -\\operatorname{mean}_x \\log\\sigma(G(x)) - k \\operatorname{mean}_y \\log(1 - \\sigma(G(y)))

over ``N`` data rows ``x`` and ``k N`` noise rows ``y``. Expected answers come from
``objectives.nce`` (tested against closed forms), autograd, or closed forms checked by numerical
minimization in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch.nn.functional import softplus

from ._core import Case, Exercise, register

__all__: list[str] = []

LogDensity = Callable[[torch.Tensor], torch.Tensor]
_D = torch.distributions


def _gaussian_problem(gen: torch.Generator, d: int, t: int, k: int):
    """A model log-density with an offset c, a Gaussian noise, N data rows and kN noise rows."""
    a = torch.randn(d, d, dtype=torch.float64, generator=gen)
    model = _D.MultivariateNormal(
        torch.randn(d, dtype=torch.float64, generator=gen), a @ a.T + torch.eye(d, dtype=torch.float64)
    )
    c = 0.5 * torch.randn((), dtype=torch.float64, generator=gen).item()
    noise = _D.MultivariateNormal(torch.zeros(d, dtype=torch.float64), 2.0 * torch.eye(d, dtype=torch.float64))
    x = torch.randn(t, d, dtype=torch.float64, generator=gen) + model.mean
    y = torch.randn(k * t, d, dtype=torch.float64, generator=gen) * 2**0.5  # kT draws of the noise

    def log_model(u: torch.Tensor) -> torch.Tensor:
        return model.log_prob(u) + c

    text = (
        f"a {d}-D Gaussian model with log p_m off its normalized value by c = {c:.3f}, Gaussian noise, N = {t}, k = {k}"
    )
    return text, log_model, noise.log_prob, x, y


def _nce_problems(
    gen: torch.Generator,
    shapes: tuple[tuple[int, int, int], ...] = ((1, 6, 1), (1, 5, 3), (2, 4, 2), (2, 6, 5), (3, 5, 4)),
) -> Iterator[tuple[str, tuple]]:
    """One problem per ``(d, N, k)``."""
    for d, t, k in shapes:
        text, log_model, log_noise, x, y = _gaussian_problem(gen, d, t, k)
        yield text, (log_model, log_noise, x, y, k)


# --------------------------------------------------------------------------- 6.1


def _nce_loss(log_model: LogDensity, log_noise: LogDensity, x: torch.Tensor, y: torch.Tensor, k: int):
    g_x = log_model(x) - log_noise(x) - math.log(k)
    g_y = log_model(y) - log_noise(y) - math.log(k)
    return softplus(-g_x).mean() + k * softplus(g_y).mean()


def _nce_no_log_k(log_model, log_noise, x, y, k):
    return softplus(-(log_model(x) - log_noise(x))).mean() + k * softplus(log_model(y) - log_noise(y)).mean()


def _nce_noise_averaged(log_model, log_noise, x, y, k):
    g_x = log_model(x) - log_noise(x) - math.log(k)
    g_y = log_model(y) - log_noise(y) - math.log(k)
    return softplus(-g_x).mean() + softplus(g_y).mean()


def _nce_noise_as_data(log_model, log_noise, x, y, k):
    g_x = log_model(x) - log_noise(x) - math.log(k)
    g_y = log_model(y) - log_noise(y) - math.log(k)
    return softplus(-g_x).mean() + k * softplus(-g_y).mean()


def _nce_cases(gen: torch.Generator) -> Iterator[Case]:
    for text, args in _nce_problems(gen):
        yield Case(text, args, _nce_loss(*args), atol=1e-9, rtol=1e-9)


def _nce_hint(case: Case, got: object) -> str:
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    texts = {
        "the log-odds need the prior odds: G = log p_m - log p_n - log k (there are k noise points per data point)": (
            _nce_no_log_k
        ),
        "the noise term is weighted by k: the loss per data point sums the k noise points' terms, "
        "k times their mean": _nce_noise_averaged,
        "a noise point is labelled noise: its term is -log(1 - sigma(G(y))) = softplus(G(y)), "
        "not -log sigma(G(y))": _nce_noise_as_data,
    }
    for text, wrong in texts.items():
        if abs(value - float(wrong(*case.args))) < 1e-7 * (1 + abs(value)):
            return text
    return ""


register(
    Exercise(
        id="6.1",
        title="NCE's loss",
        cases=_nce_cases,
        reference=_nce_loss,
        wrong={
            "no log k in G": _nce_no_log_k,
            "noise term not weighted by k": _nce_noise_averaged,
            "noise labelled as data": _nce_noise_as_data,
            "sign flipped": lambda *a: -_nce_loss(*a),
        },
        hint=_nce_hint,
    )
)


# --------------------------------------------------------------------------- 6.2


def _discrete_pair(gen: torch.Generator, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.rand(m, dtype=torch.float64, generator=gen) + 0.05
    q = torch.rand(m, dtype=torch.float64, generator=gen) + 0.05
    return p / p.sum(), q / q.sum()


def _rounded(p: torch.Tensor) -> list[float]:
    return [round(v, 3) for v in p.tolist()]


def _min_loss(p_data: torch.Tensor, p_noise: torch.Tensor, k: int) -> torch.Tensor:
    mix = p_data + k * p_noise
    return -(p_data * torch.log(p_data / mix)).sum() - k * (p_noise * torch.log(k * p_noise / mix)).sum()


def _min_loss_no_k(p_data, p_noise, k):
    mix = p_data + p_noise
    return -(p_data * torch.log(p_data / mix)).sum() - k * (p_noise * torch.log(p_noise / mix)).sum()


def _min_loss_unweighted(p_data, p_noise, k):
    mix = p_data + k * p_noise
    return -(p_data * torch.log(p_data / mix)).sum() - (p_noise * torch.log(k * p_noise / mix)).sum()


def _min_loss_cases(gen: torch.Generator) -> Iterator[Case]:
    for m, k in ((2, 1), (3, 2), (4, 1), (5, 5), (6, 3)):
        p, q = _discrete_pair(gen, m)
        yield Case(
            f"{m} states, p_data = {_rounded(p)}, p_n = {_rounded(q)}, k = {k}",
            (p, q, k),
            _min_loss(p, q, k),
            atol=1e-9,
            rtol=1e-9,
        )


def _min_loss_hint(case: Case, got: object) -> str:
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    if abs(value - float(_min_loss_no_k(*case.args))) < 1e-7:
        return "the optimal classifier is sigma(G*) = p_data / (p_data + k p_n): k enters through the prior odds"
    if abs(value - float(_min_loss_unweighted(*case.args))) < 1e-7:
        return "the noise term of the loss per data point is weighted by k (k noise points per data point)"
    return ""


register(
    Exercise(
        id="6.2",
        title="NCE's optimal classifier and its loss",
        cases=_min_loss_cases,
        reference=_min_loss,
        wrong={
            "k left out of the optimal classifier": _min_loss_no_k,
            "noise term not weighted by k": _min_loss_unweighted,
        },
        hint=_min_loss_hint,
    )
)


# --------------------------------------------------------------------------- 6.3


def _dc(log_model: LogDensity, log_noise: LogDensity, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """dJ/dc for log p_m = (given) + c: -mean_x sigma(-G(x)) + k mean_y sigma(G(y))."""
    c = torch.zeros((), dtype=x.dtype, requires_grad=True)
    (g,) = torch.autograd.grad(_nce_loss(lambda u: log_model(u) + c, log_noise, x, y, k), c)
    return g


def _dc_no_k(log_model, log_noise, x, y, k):
    g_x = log_model(x) - log_noise(x) - math.log(k)
    g_y = log_model(y) - log_noise(y) - math.log(k)
    return -torch.sigmoid(-g_x).mean() + torch.sigmoid(g_y).mean()


def _dc_swapped(log_model, log_noise, x, y, k):
    g_x = log_model(x) - log_noise(x) - math.log(k)
    g_y = log_model(y) - log_noise(y) - math.log(k)
    return -torch.sigmoid(g_x).mean() + k * torch.sigmoid(-g_y).mean()


def _dc_cases(gen: torch.Generator) -> Iterator[Case]:
    # k > 1 throughout: at k = 1 swapping the two sigmoids only flips the sign
    for text, args in _nce_problems(gen, ((1, 5, 3), (2, 4, 2), (1, 6, 2), (2, 6, 5), (3, 5, 4))):
        yield Case(text, args, _dc(*args), atol=1e-9, rtol=1e-9)


def _dc_hint(case: Case, got: object) -> str:
    try:
        value = float(torch.as_tensor(got))
    except (TypeError, ValueError, RuntimeError):
        return ""
    if abs(value - float(_dc_no_k(*case.args))) < 1e-7:
        return "the noise term carries the factor k of the loss: k mean_y sigma(G(y))"
    if abs(value - float(_dc_swapped(*case.args))) < 1e-7:
        return (
            "d/dG of -log sigma(G) is -sigma(-G) = -(1 - sigma(G)), and of -log(1 - sigma(G)) is sigma(G): "
            "the two sigmoids are swapped"
        )
    return ""


register(
    Exercise(
        id="6.3",
        title="where NCE's constant stops",
        cases=_dc_cases,
        reference=_dc,
        wrong={
            "noise term without k": _dc_no_k,
            "sigmoids swapped": _dc_swapped,
            "sign flipped": lambda *a: -_dc(*a),
        },
        hint=_dc_hint,
    )
)


# --------------------------------------------------------------------------- 6.4


def _optimum(p_data: torch.Tensor, p_noise: torch.Tensor, k: int, delta: float) -> torch.Tensor:
    return torch.log(p_data) + delta


def _optimum_cases(gen: torch.Generator) -> Iterator[Case]:
    for m, k, delta in ((3, 1, 0.3), (4, 2, -0.5), (5, 5, 0.1), (6, 3, 1.2), (4, 1, -0.05)):
        p, q = _discrete_pair(gen, m)
        yield Case(
            f"{m} states, p_data = {_rounded(p)}, p_n = {_rounded(q)}, "
            f"k = {k}, the noise log-density used off by delta = {delta}",
            (p, q, k, delta),
            _optimum(p, q, k, delta),
            atol=1e-9,
            rtol=1e-9,
        )


def _optimum_hint(case: Case, got: object) -> str:
    p, q, k, delta = case.args
    g = torch.as_tensor(got).double() if isinstance(got, torch.Tensor) else None
    if g is None or g.shape != p.shape:
        return ""
    if torch.allclose(g, torch.log(p), atol=1e-7):
        return (
            "the classifier compares log p_m with the noise log-density it is given, which is off by delta; "
            "the best G is still log p_data - log p_n - log k, so log p_m absorbs the error"
        )
    if torch.allclose(g, torch.log(p) - delta, atol=1e-7):
        return "the sign of delta: log p_m - (log p_n + delta) must equal log p_data - log p_n"
    return ""


register(
    Exercise(
        id="6.4",
        title="NCE with a noise whose normalizer is off",
        cases=_optimum_cases,
        reference=_optimum,
        wrong={
            "delta ignored": lambda p, q, k, delta: torch.log(p),
            "delta with the wrong sign": lambda p, q, k, delta: torch.log(p) - delta,
            "noise divided out": lambda p, q, k, delta: torch.log(p / (k * q)) + delta,
        },
        hint=_optimum_hint,
    )
)
