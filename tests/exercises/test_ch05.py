"""Chapter 5's exercise checks: each reference passes, each wrong answer is refused by name."""

from __future__ import annotations

import torch

from ebmlib import objectives
from ebmlib.book.exercises import get
from ebmlib.models import GaussianEnergy, MLPEnergy


def test_5_1_score_matching(check_works):
    check_works(
        "5.1",
        {
            "trace with the wrong sign": "wrong sign",
            "no trace term": "missing",
            "every Hessian entry": "diagonal",
            "no 1/2": "off by",
        },
    )


def test_5_1_reference_is_the_library_objective():
    gen = torch.Generator().manual_seed(5)
    for model in (MLPEnergy(3, hidden=(8, 8), generator=gen, dtype=torch.float64),):
        x = torch.randn(7, 3, dtype=torch.float64, generator=gen)
        ref = get("5.1").reference(model.energy, x)
        assert torch.allclose(ref, objectives.score_matching(model, x).detach(), atol=1e-10)
    # a Gaussian: J = 1/2 mean |Lambda (x - mu)|^2 - tr Lambda
    precision = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    mean = torch.tensor([0.3, -1.0], dtype=torch.float64)
    gauss = GaussianEnergy(2, mean=mean, precision=precision).double()
    x = torch.randn(9, 2, dtype=torch.float64, generator=gen)
    closed = 0.5 * ((x - mean) @ precision).pow(2).sum(1).mean() - precision.trace()
    assert torch.allclose(get("5.1").reference(gauss.energy, x), closed, atol=1e-10)


def test_5_2_fisher_between_gaussians(check_works):
    check_works(
        "5.2",
        {
            "the reverse divergence": "not symmetric",
            "standard deviations as variances": "variances",
            "no 1/2": "times 2",
        },
    )


def test_5_2_closed_form_against_quadrature():
    m1, v1, m2, v2 = 0.4, 0.7, -1.1, 2.3
    x = torch.linspace(-15, 15, 300_001, dtype=torch.float64)
    p = torch.distributions.Normal(m1, v1**0.5).log_prob(x).exp() * (x[1] - x[0])
    gap = -(x - m1) / v1 + (x - m2) / v2
    assert abs(0.5 * (p * gap**2).sum().item() - get("5.2").reference(m1, v1, m2, v2)) < 1e-6


def test_5_3_denoising(check_works):
    check_works(
        "5.3",
        {
            "target with the wrong sign": "wrong sign",
            "target times sigma": "scale",
            "score at the clean point": "noisy",
        },
    )


def test_5_3_reference_is_the_library_objective_for_the_same_noise():
    gen = torch.Generator().manual_seed(6)
    model = MLPEnergy(2, hidden=(8,), generator=gen, dtype=torch.float64)
    x = torch.randn(10, 2, dtype=torch.float64, generator=gen)
    state = gen.get_state()
    library = objectives.denoising_score_matching(model, x, 0.3, generator=gen).detach()
    gen.set_state(state)
    noise = torch.randn(x.shape, dtype=torch.float64, generator=gen)
    assert torch.allclose(get("5.3").reference(model.score, x, 0.3, noise), library, atol=1e-12)


def test_5_4_ratio_matching(check_works):
    check_works("5.4", {"not squared": "squared", "gap reversed": "reversed", "summed over the batch": "factor"})
