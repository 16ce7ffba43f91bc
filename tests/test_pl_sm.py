"""Pseudolikelihood, ratio matching and score matching against brute force and closed forms."""

import math

import pytest
import torch

from ebmlib import exact, objectives
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, MLPEnergy

MODELS = [
    BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(0)).double(),
    RBM.random(6, 3, generator=torch.Generator().manual_seed(1)).double(),
]
IDS = ["bm", "rbm"]


def data_for(model, n=50):
    return exact.sample(model, n, generator=torch.Generator().manual_seed(2)).double()


def flipped(x, i):
    y = x.clone()
    y[:, i] = 1 - y[:, i]
    return y


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_pseudolikelihood_is_the_sum_of_exact_conditionals(model):
    x = data_for(model)
    ll = exact.log_likelihood(model, x)
    brute = 0.0
    for i in range(x.shape[1]):
        other = exact.log_likelihood(model, flipped(x, i))
        brute = brute + (ll - torch.logaddexp(ll, other))  # log p(x_i | x_-i)
    torch.testing.assert_close(objectives.pseudolikelihood(model, x), -brute.mean(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_generalized_pl_spans_pl_to_exact_likelihood(model):
    x = data_for(model)
    n = x.shape[1]
    singletons = objectives.generalized_pseudolikelihood(model, x, [[i] for i in range(n)])
    torch.testing.assert_close(singletons, objectives.pseudolikelihood(model, x), rtol=1e-10, atol=1e-10)
    everything = objectives.generalized_pseudolikelihood(model, x, [list(range(n))])
    torch.testing.assert_close(everything, objectives.exact_nll(model, x), rtol=1e-10, atol=1e-10)
    # Mixed sizes are grouped and summed correctly.
    mixed = objectives.generalized_pseudolikelihood(model, x, [[0, 1, 2], [3], [4, 5]])
    parts = sum(objectives.generalized_pseudolikelihood(model, x, [b]) for b in [[0, 1, 2], [3], [4, 5]])
    torch.testing.assert_close(mixed, parts, rtol=1e-10, atol=1e-10)


def test_random_conditional_pl_is_unbiased():
    model = MODELS[1]
    x = data_for(model, 20)
    gen = torch.Generator().manual_seed(3)
    draws = torch.stack([objectives.random_conditional_pl(model, x, generator=gen) for _ in range(4000)])
    target = objectives.pseudolikelihood(model, x)
    assert abs(draws.mean() - target) < 5 * draws.std() / math.sqrt(len(draws))
    assert draws.std() > 0.01  # it really is random


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_ratio_matching_matches_brute_force(model):
    x = data_for(model)
    ll = exact.log_likelihood(model, x)
    brute = sum((1 / (1 + torch.exp(ll - exact.log_likelihood(model, flipped(x, i))))) ** 2 for i in range(6))
    torch.testing.assert_close(objectives.ratio_matching(model, x), brute.mean(), rtol=1e-10, atol=1e-10)


def gaussian():
    prec = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.5]], dtype=torch.float64)
    model = GaussianEnergy(3, mean=torch.tensor([0.5, -1.0, 0.0]), precision=prec).double()
    return model, model.precision.detach()  # the float32 factor's own precision, in float64


def test_exact_score_matching_equals_its_closed_form_for_a_gaussian():
    model, prec = gaussian()
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    centred = (x - model.mean.detach()) @ prec
    closed = (0.5 * (centred**2).sum(1)).mean() - torch.trace(prec)
    torch.testing.assert_close(objectives.score_matching(model, x), closed, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("variance_reduced", [True, False])
def test_sliced_score_matching_is_unbiased(variance_reduced):
    model, _ = gaussian()
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    gen = torch.Generator().manual_seed(6)
    draws = torch.stack([
        objectives.sliced_score_matching(model, x, variance_reduced=variance_reduced, generator=gen).detach()
        for _ in range(3000)
    ])
    target = objectives.score_matching(model, x).detach()
    assert abs(draws.mean() - target) < 5 * draws.std() / math.sqrt(len(draws))


def test_denoising_score_matching_has_its_closed_form_expectation():
    model, prec = gaussian()
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    sigma = 0.3
    gen = torch.Generator().manual_seed(8)
    draws = torch.stack([objectives.denoising_score_matching(model, x, sigma, generator=gen).detach() for _ in range(4000)])
    centred = (x - model.mean.detach()) @ prec
    residual = torch.eye(3, dtype=torch.float64) / sigma - sigma * prec
    expected = (0.5 * (centred**2).sum(1)).mean() + 0.5 * torch.trace(residual @ residual)
    assert abs(draws.mean() - expected) < 5 * draws.std() / math.sqrt(len(draws))


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="binary models"):
        objectives.pseudolikelihood(MLPEnergy(3), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="continuous models"):
        objectives.score_matching(BoltzmannMachine(3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="distinct unit indices"):
        objectives.generalized_pseudolikelihood(BoltzmannMachine(3), torch.zeros(2, 3), [[0, 0]])
    with pytest.raises(ValueError, match="sigma"):
        objectives.denoising_score_matching(GaussianEnergy(2), torch.zeros(2, 2), sigma=0.0)
    with pytest.raises(ValueError, match="x must be binary"):
        objectives.ratio_matching(BoltzmannMachine(3), torch.full((2, 3), 0.5))
