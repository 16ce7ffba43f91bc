"""Chapter 8's checks: each reference passes, each wrong answer is refused with a pointed hint;
the AIS reference is unbiased for Z_K / Z_0 (exact enumeration)."""

from __future__ import annotations

import math

import pytest
import torch

from ebmlib.book.exercises import ch08
from ebmlib.utils import log_mean_exp


@pytest.mark.parametrize(
    "exercise_id, key_words",
    [
        ("8.1", {"one dimension": "power d", "inverted": "upside down", "variance for precision": "precision"}),
        ("8.2", {"moved before weighting": "weight first", "one jump": "simple importance sampling"}),
        ("8.4", {"shares swapped": "share", "importance sampling": "iterate", "one iteration": "iterate"}),
    ],
)
def test_check_refuses_the_wrong_answers(check_works, exercise_id, key_words):
    check_works(exercise_id, key_words)


def test_ess_formula_matches_simulation():
    # ESS / N of N(0, 1) draws weighted towards exp(-a x^2 / 2), d = 2, a = 1.5: 1e6 draws
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1_000_000, 2, dtype=torch.float64, generator=gen)
    log_w = -0.75 * (x**2).sum(1) + 0.5 * (x**2).sum(1)
    w = torch.exp(log_w - log_w.max())
    ess = float(w.sum() ** 2 / (w**2).sum()) / len(w)
    assert abs(ess - ch08._ess_reference(1.5, 2)) < 0.01


def test_ais_reference_is_unbiased_for_the_ratio_of_normalizers():
    gen = torch.Generator().manual_seed(1)
    path = ch08.tiny_path(4, gen)
    betas = torch.linspace(0, 1, 6).tolist()
    log_w = ch08._ais_reference(path.sample_base(200_000, gen), betas, path.log_f, path.kernel)
    estimate = float(log_mean_exp(log_w, 0))
    exact = path.log_z(1.0) - path.log_z(0.0)
    stderr = float(torch.exp(log_w - estimate).std()) / math.sqrt(len(log_w))
    assert abs(estimate - exact) < max(5 * stderr, 1e-3), (estimate, exact, stderr)
    # the mistake the check refuses is biased: moving under p_k before weighting
    wrong = float(
        log_mean_exp(ch08._ais_moved_first(path.sample_base(200_000, gen), betas, path.log_f, path.kernel), 0)
    )
    assert abs(wrong - exact) > 10 * stderr


def test_bridge_reference_agrees_with_the_library():
    gen = torch.Generator().manual_seed(2)
    l0, l1 = torch.randn(30, dtype=torch.float64, generator=gen), torch.randn(70, dtype=torch.float64, generator=gen)
    assert abs(float(ch08._bridge_reference(l0, l1) - ch08._bridge_library(l0, l1))) < 1e-10
