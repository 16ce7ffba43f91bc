"""Chapter 6's exercise checks: each reference passes, each wrong answer is refused by name."""

from __future__ import annotations

import torch

from ebmlib import objectives
from ebmlib.book.exercises import get
from ebmlib.models import GaussianEnergy, LearnedNormalizer

D = torch.distributions


def test_6_1_nce_loss(check_works):
    check_works(
        "6.1",
        {
            "no log k in G": "prior odds",
            "noise term not weighted by k": "weighted by k",
            "noise labelled as data": "labelled noise",
            "sign flipped": "sign",
        },
    )


def test_6_1_reference_is_the_library_loss():
    gen = torch.Generator().manual_seed(7)
    model = LearnedNormalizer(GaussianEnergy(2, torch.tensor([0.5, -1.0]), torch.tensor([[2.0, 0.3], [0.3, 1.0]])))
    model = model.double()
    with torch.no_grad():
        model.c.fill_(-1.3)
    noise = D.MultivariateNormal(torch.zeros(2, dtype=torch.float64), 2.0 * torch.eye(2, dtype=torch.float64))
    x = torch.randn(8, 2, dtype=torch.float64, generator=gen)
    y = torch.randn(24, 2, dtype=torch.float64, generator=gen)
    library = objectives.nce(model, x, noise, 3, noise_samples=y)
    ref = get("6.1").reference(lambda u: -model.energy(u), noise.log_prob, x, y, 3)
    assert torch.allclose(ref, library, atol=1e-12)


def _population_loss(theta, p, q, k, delta=0.0):
    g_data = theta - (torch.log(q) + delta) - torch.log(torch.tensor(float(k), dtype=torch.float64))
    return (p * torch.nn.functional.softplus(-g_data)).sum() + k * (q * torch.nn.functional.softplus(g_data)).sum()


def _minimise(p, q, k, delta=0.0):
    theta = torch.zeros(len(p), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [theta], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = _population_loss(theta, p, q, k, delta)
        loss.backward()
        return loss

    opt.step(closure)
    return theta.detach(), _population_loss(theta, p, q, k, delta).item()


def test_6_2_nce_minimum(check_works):
    check_works(
        "6.2", {"k left out of the optimal classifier": "prior odds", "noise term not weighted by k": "weighted by k"}
    )


def test_6_2_and_6_4_closed_forms_are_the_numerical_minima():
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    q = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    theta, value = _minimise(p, q, 3)
    assert abs(value - get("6.2").reference(p, q, 3).item()) < 1e-9
    assert torch.allclose(theta, torch.log(p), atol=1e-5)
    theta, _ = _minimise(p, q, 2, delta=0.7)
    assert torch.allclose(theta, get("6.4").reference(p, q, 2, 0.7), atol=1e-5)


def test_6_3_derivative_in_c(check_works):
    check_works("6.3", {"noise term without k": "factor k", "sigmoids swapped": "swapped", "sign flipped": "sign"})


def test_6_3_reference_in_closed_form():
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(5, 1, dtype=torch.float64, generator=gen)
    y = torch.randn(10, 1, dtype=torch.float64, generator=gen)

    def log_model(u):
        return -0.5 * u[:, 0] ** 2

    def log_noise(u):
        return -0.25 * u[:, 0] ** 2 - 1.0

    g_x = log_model(x) - log_noise(x) - torch.log(torch.tensor(2.0))
    g_y = log_model(y) - log_noise(y) - torch.log(torch.tensor(2.0))
    closed = -torch.sigmoid(-g_x).mean() + 2 * torch.sigmoid(g_y).mean()
    assert torch.allclose(get("6.3").reference(log_model, log_noise, x, y, 2), closed, atol=1e-12)


def test_6_4_misnormalized_noise(check_works):
    check_works(
        "6.4",
        {"delta ignored": "absorbs", "delta with the wrong sign": "sign of delta", "noise divided out": "off by"},
    )
