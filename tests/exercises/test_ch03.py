"""Chapter 3's exercise checks: each reference passes, each wrong answer is refused with its hint."""

from __future__ import annotations

import torch

from ebmlib import objectives
from ebmlib.book.exercises import ch03, exercises
from ebmlib.book.exercises.ch01 import two_unit_model
from ebmlib.utils import flat_grad


def test_cd1_on_two_units(check_works):
    check_works(
        "3.1",
        {
            "both units from the old state": "redrawn *after*",
            "the model's statistics": "maximum-likelihood",
            "the data's statistics": "zero steps",
        },
    )


def test_reconstruction_cross_entropy(check_works):
    check_works(
        "3.2", {"squared error": "cross-entropy", "hidden bias forgotten": "hidden biases", "mean over pixels": "sum"}
    )


def test_law_of_cd_chains(check_works):
    check_works(
        "3.3",
        {"the data's law": "k sweeps", "one sweep too many": "too many", "T^k q instead of q T^k": "row vector"},
    )


def test_every_chapter_3_exercise_is_tested():
    assert sorted(k for k in exercises() if k.startswith("3.")) == ["3.1", "3.2", "3.3"]


def test_cd1_statistics_give_the_library_expected_cd_update():
    """Data statistics minus the 3.1 answer is the gradient of -expected_cd (w, b1, b2)."""
    gen = torch.Generator().manual_seed(4)
    data = (torch.rand(30, 2, dtype=torch.float64, generator=gen) < 0.6).double()
    w, b1, b2 = 0.8, -0.3, 0.5
    model = two_unit_model(w, b1, b2)
    grad = flat_grad(objectives.expected_cd(model, data, 1), [model.weight, model.bias])
    neg = ch03._cd1_two_reference(w, b1, b2, data)
    pos = ((data[:, 0] * data[:, 1]).mean().item(), data[:, 0].mean().item(), data[:, 1].mean().item())
    # d(loss)/dW12 + d(loss)/dW21 = -(E_data[x1 x2] - E_cd[x1 x2]) for the coupling w
    assert abs((grad[1] + grad[2]).item() + (pos[0] - neg[0])) < 1e-10
    assert abs(grad[4].item() + (pos[1] - neg[1])) < 1e-10 and abs(grad[5].item() + (pos[2] - neg[2])) < 1e-10
