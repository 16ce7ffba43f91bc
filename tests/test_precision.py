"""Half-precision models sample what they should: random decisions are made in float32.

A bfloat16 uniform takes 2^8 values in [0, 1) and a float16 one 2^11 (``torch.rand``), so a
unit on with probability 1e-4 would be drawn on at least 1/256 (bfloat16) or 1/2048 (float16)
of the time if the uniform against which its probability is compared were drawn in the model's
dtype. ebmlib draws every such uniform in at least float32 (``_random.decision_dtype``). The
exact answers come from enumerating the same model in float64.
"""

from __future__ import annotations

import pytest
import torch

from ebmlib import _random, exact, samplers, utils
from ebmlib.models import RBM, BoltzmannMachine

HALF = [torch.float16, torch.bfloat16]
RARE = 1e-4  # a probability far below bfloat16's (1/256) and float16's (1/2048) uniform step


@pytest.mark.parametrize("dtype", HALF)
def test_bernoulli_draws_of_a_rare_unit_are_rare_in_half_precision(dtype):
    gen = torch.Generator().manual_seed(0)
    n = 400_000
    draws = _random.bernoulli_(torch.full((n,), RARE, dtype=dtype), generator=gen)
    p = torch.tensor(RARE, dtype=dtype).double().item()  # the probability as stored
    # within 5 standard errors of the stored probability; a half-precision uniform gives
    # at least 1/2048 = 4.9e-4 (float16) or 1/256 (bfloat16)
    assert abs(draws.double().mean().item() - p) < 5 * (p / n) ** 0.5
    assert draws.dtype == dtype and set(draws.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("dtype", HALF)
def test_logistic_noise_resolves_the_tails_in_half_precision(dtype):
    gen = torch.Generator().manual_seed(1)
    like = torch.zeros(400_000, dtype=dtype)
    noise = utils.logistic_noise(like, generator=gen)
    assert noise.dtype == torch.float32  # decided in float32, compared with the model's log-odds
    p = torch.sigmoid(torch.tensor(-9.0)).item()  # a unit with log-odds -9 is on when -9 > g
    on = (torch.tensor(-9.0, dtype=dtype) > noise).double().mean().item()
    assert abs(on - p) < 5 * (p / len(like)) ** 0.5


def _rare_rbm(dtype):
    model = RBM.random(4, 3, weight_std=0.5, bias_std=0.5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        model.visible_bias[0] = -9.0  # the first visible unit is on with probability ~1e-4
    return model.to(dtype)


def _rare_boltzmann(dtype):
    model = BoltzmannMachine.random(4, weight_std=0.3, bias_std=0.5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.bias[0] = -9.0
    return model.to(dtype)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("make", [_rare_rbm, _rare_boltzmann], ids=["rbm", "boltzmann"])
def test_gibbs_marginals_of_a_half_precision_model_match_enumeration(make, dtype):
    model = make(dtype)
    # the half model's own parameters, enumerated in float64
    reference = make(dtype).to(torch.float64)
    truth = exact.marginals(reference)
    gen = torch.Generator().manual_seed(4)
    chains = 40_000
    x = torch.zeros(chains, 4, dtype=dtype)
    x = samplers.gibbs(model, x, 30, generator=gen).x
    got = x.double().mean(0)
    se = (truth * (1 - truth) / chains).sqrt()
    assert truth[0] < 5e-4
    assert ((got - truth).abs() < 5 * se + 0.01 * (truth > 1e-3)).all(), (got, truth)


@pytest.mark.parametrize("dtype", HALF)
def test_metropolis_flips_of_a_half_precision_model_match_enumeration(dtype):
    model = _rare_boltzmann(dtype)
    truth = exact.marginals(_rare_boltzmann(dtype).to(torch.float64))
    gen = torch.Generator().manual_seed(5)
    chains = 40_000
    x = torch.zeros(chains, 4, dtype=dtype)
    x = samplers.metropolis_hastings(model, x, 200, generator=gen).x
    got = x.double().mean(0)
    se = (truth * (1 - truth) / chains).sqrt()
    assert ((got - truth).abs() < 5 * se + 0.01 * (truth > 1e-3)).all(), (got, truth)


def test_float32_and_float64_decisions_are_unchanged():
    """Promotion changes nothing for float32 and float64: the same draws as torch.rand."""
    for dtype in (torch.float32, torch.float64):
        assert _random.decision_dtype(dtype) == dtype
        a = _random.uniform(5, dtype, "cpu", torch.Generator().manual_seed(6))
        b = torch.rand(5, dtype=dtype, generator=torch.Generator().manual_seed(6))
        assert torch.equal(a, b)


def test_a_fast_draw_counts_as_an_in_place_change_for_autograd():
    """The compiled draw writes through numpy; autograd must still see ``probs`` modified."""
    weight = torch.ones((), requires_grad=True)
    probs = torch.full((4096,), 0.5)
    out = (weight * probs).sum()  # saves probs for the backward pass
    version = probs._version
    _random.bernoulli_(probs, generator=torch.Generator().manual_seed(7))
    assert probs._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


@pytest.mark.parametrize("n", [16, 4096])  # the torch draw and the compiled one
def test_drawing_into_a_leaf_that_requires_grad_is_refused_as_torch_refuses_it(n):
    leaf = torch.full((n,), 0.5, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        _random.bernoulli_(leaf, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():  # as torch allows it
        _random.bernoulli_(leaf, generator=torch.Generator().manual_seed(8))
