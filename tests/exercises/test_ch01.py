"""Chapter 1's exercise checks: each reference passes, each wrong answer is refused with its hint."""

from __future__ import annotations

import math

import torch

from ebmlib import exact
from ebmlib.book.exercises import ch01, check, exercises
from ebmlib.models import BoltzmannMachine


def test_log_z_of_two_units(check_works):
    check_works(
        "1.1",
        {
            "half the coupling": "1/2 cancels",
            "all-off state forgotten": "(0, 0)",
            "Z instead of log Z": "log Z",
            "energy sign": "sign",
        },
    )


def test_ring_by_transfer_matrices(check_works):
    check_works("1.2", {"open chain": "ring closes", "sum of all entries instead of the trace": "trace"})


def test_curvature_of_log_z(check_works):
    check_works("1.3", {"second moment": "subtract", "mean energy": "first", "minus the variance": "convex"})


def test_rbm_log_z_over_the_hidden_layer(check_works):
    check_works(
        "1.4",
        {
            "hidden bias forgotten": "hidden biases",
            "max instead of the sum over v_i": "softplus",
            "log-mean-exp over h": "logsumexp",
        },
    )


def test_every_chapter_1_exercise_is_tested():
    assert sorted(k for k in exercises() if k.startswith("1.")) == ["1.1", "1.2", "1.3", "1.4"]


def test_curvature_reference_is_the_second_derivative_by_finite_differences():
    model = BoltzmannMachine.random(5, weight_std=1.0, generator=torch.Generator().manual_seed(3)).double()
    h = 1e-4
    log_z = [exact.log_partition(model.at_temperature(1 / (1 + d))).item() for d in (-h, 0.0, h)]
    second = (log_z[0] - 2 * log_z[1] + log_z[2]) / h**2
    assert abs(second - ch01._curvature_reference(model).item()) < 1e-4


def test_ring_reference_on_a_longer_ring_and_the_two_unit_model():
    gen = torch.Generator().manual_seed(1)
    coupling, field = (
        torch.randn(12, dtype=torch.float64, generator=gen),
        torch.randn(12, dtype=torch.float64, generator=gen),
    )
    assert abs(ch01._ring_reference(coupling, field) - ch01._ring_by_enumeration(coupling, field)) < 1e-9
    assert abs(ch01._log_z_two(0.0, 0.0, 0.0) - math.log(4)) < 1e-12  # four states of energy 0


def test_a_wrong_answer_names_the_mistake_in_the_printed_message():
    result = check("1.1", lambda w, b1, b2: ch01._log_z_two(w / 2, b1, b2), quiet=True)
    assert not result and "hint" in result.message and "expected" in result.message
