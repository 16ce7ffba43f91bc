"""Chapter 2's exercise checks: each reference passes, each wrong answer is refused with its hint."""

from __future__ import annotations

import torch

from ebmlib import exact, samplers
from ebmlib.book.exercises import ch02, exercises
from ebmlib.models import BoltzmannMachine, GaussianEnergy


def test_gradient_of_log_z_of_two_units(check_works):
    check_works("2.1", {"unnormalized": "divide by Z", "independent units": "coupling", "minus the gradient": "sign"})


def test_ula_covariance(check_works):
    check_works(
        "2.2",
        {"the target's covariance": "biased", "noise variance step": "2 step", "shrinks instead of widens": "larger"},
    )


def test_mala_log_acceptance(check_works):
    check_works(
        "2.3",
        {
            "no proposal correction": "not symmetric",
            "proposal variance step": "2 step",
            "reverse drift at x": "gradient at x'",
            "not clipped at 0": "at most 1",
        },
    )


def test_gibbs_sweep(check_works):
    check_works("2.4", {"all units at once": "in turn", "field with the wrong sign": "sign"})


def test_every_chapter_2_exercise_is_tested():
    assert sorted(k for k in exercises() if k.startswith("2.")) == ["2.1", "2.2", "2.3", "2.4"]


def test_ula_covariance_matches_long_unadjusted_langevin_runs():
    precision = torch.tensor([[2.0, 1.2], [1.2, 1.5]])
    gauss = GaussianEnergy(2, precision=precision)
    gen = torch.Generator().manual_seed(0)
    x = samplers.langevin(gauss, gauss.sample(20000, generator=gen), 300, step_size=0.3, generator=gen)
    empirical = torch.cov(x.x.double().T)
    formula = ch02._ula_reference(precision.double(), 0.3)
    # 20,000 chains: a covariance entry's standard error is below 0.02 here; the bias is 0.24
    assert (empirical - formula).abs().max() < 0.06
    assert (empirical - torch.linalg.inv(precision.double())).abs().max() > 0.15


def test_gibbs_sweep_reference_has_the_exact_transition_law():
    gen = torch.Generator().manual_seed(2)
    model = BoltzmannMachine.random(3, weight_std=1.0, generator=gen).double()
    chains = 200_000
    start = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64).expand(chains, 3)
    u = torch.rand(chains, 3, dtype=torch.float64, generator=gen)
    out = ch02._sweep_reference(model.coupling.detach(), model.bias.detach(), start, u)
    codes = (out * torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)).sum(1).long()
    freq = torch.bincount(codes, minlength=8).double() / chains
    law = exact.gibbs_transition(model)[5]  # state 1 + 4 = 5
    assert ((freq - law).abs() <= 5 * (law * (1 - law) / chains).sqrt() + 1e-9).all()
