"""Half-precision models sample what they should: random decisions are made in float32.

A half-precision uniform (``torch.rand`` in bfloat16 or float16) is coarse: measured here on the
previous code, a unit on with probability 1e-4 was drawn on 21 times too often in bfloat16 and
3.5 times in float16, and Gibbs and Metropolis marginals missed the exact ones. ebmlib draws
every such uniform in at least float32 (``_random.decision_dtype``). The exact answers come from
enumerating the same model, with its rounded half-precision parameters, in float64."""

from __future__ import annotations

import pytest
import torch

from ebmlib import _random, distributions, estimators, exact, samplers, utils
from ebmlib.models import RBM, BoltzmannMachine, MLPEnergy

HALF = [torch.float16, torch.bfloat16]
RARE = 1e-4  # a probability that half-precision uniforms overshoot (see above)


@pytest.mark.parametrize("dtype", HALF)
def test_bernoulli_draws_of_a_rare_unit_are_rare_in_half_precision(dtype):
    gen = torch.Generator().manual_seed(0)
    n = 400_000
    draws = _random.bernoulli_(torch.full((n,), RARE, dtype=dtype), generator=gen)
    p = torch.tensor(RARE, dtype=dtype).double().item()  # the probability as stored
    # within 5 standard errors of the stored probability (the previous code: 3.5e-4 in
    # float16, 2.1e-3 in bfloat16)
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
        model.visible_bias[0] = -11.0  # the first visible unit is on with probability ~2e-5
    return model.to(dtype)


def _rare_boltzmann(dtype):
    model = BoltzmannMachine.random(4, weight_std=0.3, bias_std=0.5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.bias[0] = -11.0
    return model.to(dtype)


CASES = {  # model, sampler, steps
    "rbm-gibbs": (_rare_rbm, samplers.gibbs, 30),
    "boltzmann-gibbs": (_rare_boltzmann, samplers.gibbs, 30),
    "boltzmann-metropolis": (_rare_boltzmann, samplers.metropolis_hastings, 200),
}


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("case", CASES)
def test_marginals_of_a_half_precision_model_match_enumeration(case, dtype):
    make, sampler, n_steps = CASES[case]
    # the half model's own (rounded) parameters, enumerated in float64
    truth = exact.marginals(make(dtype).to(torch.float64))
    chains = 40_000
    x = torch.zeros(chains, 4, dtype=dtype)
    x = sampler(make(dtype), x, n_steps, generator=torch.Generator().manual_seed(4)).x
    got = x.double().mean(0)
    se = (truth * (1 - truth) / chains).sqrt()
    assert truth[0] < 5e-5  # the rare unit, which half-precision uniforms turn on too often
    # 0.01 more for the others: the half-precision fields round
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


def test_integer_probabilities_and_inference_tensors():
    with pytest.raises(TypeError, match="floating"):
        _random.bernoulli_(torch.zeros(4096, dtype=torch.int64))
    with torch.inference_mode():
        draws = _random.bernoulli_(torch.full((4096,), 0.5), generator=torch.Generator().manual_seed(9))
    assert 0.45 < draws.mean().item() < 0.55


def _paths(dtype):
    """The three path kinds for one float32 model each, and the same models in float64."""
    gen = torch.Generator().manual_seed(7)
    rbm = RBM.random(48, 24, weight_std=1.0, bias_std=1.0, generator=gen)
    bm = BoltzmannMachine.random(24, weight_std=1.0, bias_std=1.0, generator=gen)
    mlp = MLPEnergy(6, (32, 32), generator=gen)
    logits = torch.randn(48, generator=gen)
    bases = {
        "rbm": lambda m: distributions.IndependentBernoulli(logits.to(dtype)),
        "boltzmann": lambda m: distributions.IndependentBernoulli(logits[:24].to(dtype)),
        "geometric": lambda m: torch.distributions.Independent(
            torch.distributions.Normal(torch.zeros(6, dtype=dtype), 2 * torch.ones(6, dtype=dtype)), 1
        ),
    }
    models = {"rbm": rbm, "boltzmann": bm, "geometric": mlp}
    return {k: estimators.annealing_path(m.to(dtype), bases[k](m)) for k, m in models.items()}


@pytest.mark.parametrize("kind", ["rbm", "boltzmann", "geometric"])
def test_annealing_increments_are_accurate_for_small_steps_of_a_float32_model(kind):
    """An AIS increment log f(x, hi) - log f(x, lo) is formed in float64, so its error shrinks
    with the step. The reference is the same model in float64. At a step of 1e-6, where the
    increments reach 3e-5 to 8e-5 nats, the previous code (a difference of two float32 log f's)
    was off by 8e-6 (rbm) and 2e-6 (boltzmann) nats; now by under 1e-11 (the geometric path's
    increment was already formed from float64 terms)."""
    path32, path64 = _paths(torch.float32)[kind], _paths(torch.float64)[kind]
    x = path32.sample_base(500, generator=torch.Generator().manual_seed(8))
    for lo in (0.0, 0.37, 0.999999):
        hi = lo + 1e-6
        got, want = path32.increment(x, lo, hi), path64.increment(x.double(), lo, hi)
        assert got.dtype == torch.float64
        # The float32 model's own rounding (of x W, of the energy) moves the increment by
        # ~1e-7 of its size; a float32 subtraction of the two ends would be off by ~1e-7 |log f|.
        assert float((got - want).abs().max()) < 1e-10 + 1e-5 * float(want.abs().max())
        # ... and the increment is the difference of the two ends' log f (to float64 rounding)
        ends = path64.log_f(x.double(), hi) - path64.log_f(x.double(), lo)
        assert torch.allclose(want, ends, rtol=1e-6, atol=1e-9)
        _, advanced = path32.advance(x, lo, hi, samplers.Gibbs() if kind != "geometric" else samplers.Langevin(0.01))
        assert advanced.shape == x.shape
    # a whole path in one step (the RBM path's large-step branch): as accurate as float32 allows
    big, big64 = path32.increment(x, 0.0, 1.0), path64.increment(x.double(), 0.0, 1.0)
    torch.testing.assert_close(big, big64, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(path32.increment(x, 1.0, 0.0), -big, rtol=1e-6, atol=1e-6)


# --- continuous samplers and tempering swaps in half precision ---------------------------------
# A sharp Gaussian (standard deviations 0.2 and 0.1) and steps large enough that almost every
# proposal is rejected: a half-precision uniform of 0 (about 1 in 512 bfloat16 draws, 1 in 2,048
# float16 ones) accepts any move, and the far proposals it lets in inflate the variance several
# times. Seen with decision_dtype returning the model's dtype (the old code): MALA fails in both
# half dtypes, HMC and the tempering swaps in bfloat16 (float16's uniforms are 0 too rarely).
STDS = torch.tensor([0.2, 0.1])


def _sharp_gaussian(dtype):
    from ebmlib.models import GaussianEnergy

    return GaussianEnergy(2, mean=torch.tensor([0.5, -1.0]), precision=torch.diag(STDS**-2), dtype=dtype)


CONTINUOUS = {  # sampler with its settings, steps
    "mala": (lambda model, x, n, gen: samplers.langevin(model, x, n, step_size=0.05, adjusted=True, generator=gen), 40),
    "hmc": (lambda model, x, n, gen: samplers.hmc(model, x, n, step_size=0.5, n_leapfrog=3, generator=gen), 40),
}


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("case", CONTINUOUS)
def test_mala_and_hmc_keep_a_half_precision_gaussian_invariant(case, dtype):
    run, n_steps = CONTINUOUS[case]
    model = _sharp_gaussian(dtype)
    chains = 20_000
    gen = torch.Generator().manual_seed(8)
    start = torch.tensor([0.5, -1.0]) + STDS * torch.randn(chains, 2, generator=gen)  # exact draws
    x = run(model, start.to(dtype), n_steps, gen).x.double()
    mean_err = (x.mean(0) - torch.tensor([0.5, -1.0], dtype=torch.float64)).abs() / STDS.double()
    var_ratio = x.var(0) / STDS.double() ** 2
    # the half model rounds its energies (bfloat16: 3 significant digits): a few percent of slack
    assert (mean_err < 5 / chains**0.5 + 0.02).all(), mean_err
    assert ((var_ratio - 1).abs() < 5 * (2 / chains) ** 0.5 + 0.05).all(), var_ratio


@pytest.mark.parametrize("dtype", HALF)
def test_tempering_swaps_of_a_half_precision_model_keep_the_rare_marginal(dtype):
    """Swaps with a replica at T = 4, where the rare unit is on 70 times as often: a uniform of 0
    accepts any swap and hands those states to T = 1 (seen to fail with half-precision uniforms)."""
    truth = exact.marginals(_rare_boltzmann(dtype).to(torch.float64))
    chains = 50_000
    replicas = torch.zeros(2, chains, 4, dtype=dtype)
    out = samplers.parallel_tempering(_rare_boltzmann(dtype), replicas, [1.0, 4.0], 10,
                                      generator=torch.Generator().manual_seed(9))
    got = out.samples.double().mean(0)
    se = (truth * (1 - truth) / chains).sqrt()
    assert ((got - truth).abs() < 5 * se + 0.01 * (truth > 1e-3)).all(), (got, truth)
