"""Chapter 9's checks: each reference passes, each wrong answer is refused with a pointed hint;
the closed forms agree with simulated chains and with the fixed point they describe."""

from __future__ import annotations

import math

import pytest
import torch

from ebmlib.book.exercises import ch09


@pytest.mark.parametrize(
    "exercise_id, key_words",
    [
        (
            "9.1",
            {
                "continuous time": "small-step limit",
                "the target's variance": "depends on eps",
                "standard deviation": "standard deviation",
            },
        ),
        ("9.2", {"gradient ascent": "down", "half the drift": "eps / 2", "noise sqrt(2 eps)": "given noise"}),
        (
            "9.4",
            {"continuous time": "small-step", "the data's variance": "solve for v", "the other root": "two roots"},
        ),
    ],
)
def test_check_refuses_the_wrong_answers(check_works, exercise_id, key_words):
    check_works(exercise_id, key_words)


def test_stationary_variance_matches_simulated_chains():
    gen = torch.Generator().manual_seed(0)
    s2, eps, sigma = torch.tensor([1.0, 2.0], dtype=torch.float64), 0.5, 0.7
    x = torch.zeros(20_000, 2, dtype=torch.float64)
    for _ in range(200):  # (1 - eps / s^2)^200 is below 1e-20
        x = x - eps * x / s2 + sigma * torch.randn(x.shape, dtype=torch.float64, generator=gen)
    expected = ch09._stationary_reference(s2, eps, sigma)
    assert torch.allclose(x.var(0), expected, rtol=0.04), (x.var(0), expected)


def test_fitted_variance_is_the_fixed_point_of_maximum_likelihood():
    # the chains of the fitted model have exactly the data's variance
    s2, eps, sigma = torch.tensor([0.9, 1.7], dtype=torch.float64), 0.05, 0.3
    v = ch09._fitted_reference(s2, eps, sigma)
    assert torch.allclose(ch09._stationary_reference(v, eps, sigma), s2, rtol=1e-12)
    # and tends to s^2 / T for small steps
    small = ch09._fitted_reference(s2, 1e-6, math.sqrt(2e-6 * 0.5))
    assert torch.allclose(small, s2 / 0.5, rtol=1e-5)
