import itertools

import numpy as np
import pytest
import torch


@pytest.fixture
def gen():
    """A fresh, fixed-seed CPU generator for each test."""
    return torch.Generator().manual_seed(1234)


def all_binary(n):
    """Every 0/1 vector of length n, built independently of ebmlib (itertools, numpy)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def brute_log_z_bm(model):
    """log Z of a Boltzmann machine by a plain numpy sum over all states."""
    w = model.coupling.detach().double().numpy()
    b = model.bias.detach().double().numpy()
    x = all_binary(model.n_units)
    neg_energy = 0.5 * np.einsum("si,ij,sj->s", x, w, x) + x @ b
    m = neg_energy.max()
    return m + np.log(np.exp(neg_energy - m).sum()), x, neg_energy


def brute_log_z_rbm(model):
    """log Z of an RBM by summing exp(-E(v, h)) over every joint state (v, h)."""
    w = model.weight.detach().double().numpy()
    b = model.visible_bias.detach().double().numpy()
    c = model.hidden_bias.detach().double().numpy()
    v = all_binary(model.n_visible)
    h = all_binary(model.n_hidden)
    neg = (v @ w) @ h.T + (v @ b)[:, None] + (h @ c)[None, :]
    m = neg.max()
    return m + np.log(np.exp(neg - m).sum()), v, neg


# --------------------------------------------------------------------------- exercises
# (one conftest for all tests: a second conftest module in tests/exercises would shadow this
# one for the test modules that import helpers from it)


def assert_check_works(exercise_id: str, key_words: dict[str, str] | None = None) -> None:
    """The reference passes; each wrong answer fails, and its message contains ``key_words[name]``
    (a word of the hint that points at that mistake) when given."""
    from ebmlib.book.exercises import check, exercises

    ex = exercises()[exercise_id]
    assert check(exercise_id, ex.reference, quiet=True), check(exercise_id, ex.reference, quiet=True).message
    assert ex.wrong, f"exercise {exercise_id} has no wrong answers to refuse"
    for name, wrong in ex.wrong.items():
        result = check(exercise_id, wrong, quiet=True)
        assert not result, f"exercise {exercise_id}: the wrong answer {name!r} passed"
        if key_words and name in key_words:
            assert key_words[name].lower() in result.message.lower(), (name, result.message)


@pytest.fixture
def check_works():
    return assert_check_works
