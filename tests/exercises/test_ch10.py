"""Chapter 10's checks: each reference passes, each wrong answer is refused with a pointed hint;
the stacked bound is the exact log-likelihood under the RBM's own hidden marginal, below it
under any other prior."""

from __future__ import annotations

import itertools

import pytest
import torch

from ebmlib import exact
from ebmlib.book.exercises import ch10


@pytest.mark.parametrize(
    "exercise_id, key_words",
    [
        (
            "10.1",
            {
                "no softplus": "softplus",
                "Z without the hidden units": "hidden units included",
                "unnormalized": "normalizer",
            },
        ),
        ("10.2", {"no entropy": "entropy", "prior left out": "p_2(h)", "average over h": "posterior"}),
        ("10.4", {"mean of log q": "log-mean-exp", "not divided by N": "normalizer", "factorized": "mixture"}),
    ],
)
def test_check_refuses_the_wrong_answers(check_works, exercise_id, key_words):
    check_works(exercise_id, key_words)


def test_reference_log_likelihood_is_the_brute_force_sum():
    gen = torch.Generator().manual_seed(0)
    w, b, c = ch10._random_rbm(3, 2, gen)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2)), dtype=torch.float64)
    log_joint = (v @ b)[:, None] + (h @ c)[None, :] + v @ w @ h.T  # -E(v, h), [8, 4]
    brute = torch.logsumexp(log_joint, 1) - torch.logsumexp(log_joint.reshape(-1), 0)
    assert torch.allclose(ch10._ll_reference(w, b, c, v), brute, atol=1e-12)


def test_stacked_bound_is_tight_under_the_rbms_own_prior():
    gen = torch.Generator().manual_seed(1)
    w, b, c = ch10._random_rbm(4, 3, gen)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    v = ch10._binary(6, 4, gen)
    # the RBM's hidden marginal: log p(h) = h.c + sum_i softplus(b_i + W_i.h) - log Z
    rbm = ch10.rbm_from(w, b, c)
    with torch.no_grad():
        log_ph = h @ c + torch.nn.functional.softplus(b + h @ w.T).sum(-1) - exact.log_partition(rbm)
    assert abs(float(torch.logsumexp(log_ph, 0))) < 1e-12
    tight = ch10._bound_reference(w, b, c, v, h, log_ph)
    with torch.no_grad():
        assert torch.allclose(tight, exact.log_likelihood(rbm, v), atol=1e-10)
    other = torch.log_softmax(torch.randn(len(h), dtype=torch.float64, generator=gen), 0)
    # with another prior the bound is below that prior's own model, log sum_h p_2(h) p_1(v | h)
    log_q, log_pv = ch10._bound_parts(w, b, c, v, h)
    assert (ch10._bound_reference(w, b, c, v, h, other) <= torch.logsumexp(other + log_pv, 1) + 1e-12).all()
