"""Chapter 7's checks: each reference passes, each wrong answer is refused with a pointed hint."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "exercise_id, key_words",
    [
        ("7.1", {"nll only": "penalty", "no factor 2": "factor 2", "penalty without softmax": "softmax"}),
        ("7.2", {"sign": "sign", "unweighted": "weight the mean", "penalty before the shift": "after the shift"}),
        (
            "7.3",
            {"mean of log weights": "log-mean-exp", "no importance weight": "1 / q(w)", "sum, not mean": "log k"},
        ),
    ],
)
def test_check_refuses_the_wrong_answers(check_works, exercise_id, key_words):
    check_works(exercise_id, key_words)
