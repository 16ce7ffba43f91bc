"""HMC against exact answers: Gaussian and mixture moments, the leapfrog map's reversibility and
volume preservation, detailed balance on a 1-D target, and the kernel protocol (states, costs,
composition with run_chain, parallel tempering, persistent chains and AIS)."""

import math

import pytest
import torch
from moments import TwoWells, assert_moments, gaussian, ill_conditioned_cov, mixture_moments, ring_mixture

from ebmlib import estimators, objectives, samplers
from ebmlib.models import BoltzmannMachine, DistributionEnergy, GaussianEnergy, MLPEnergy

N_CHAINS = 20_000


def correlated_gaussian():
    cov = torch.tensor([[0.7353, -0.5882], [-0.5882, 1.4706]], dtype=torch.float64)
    return gaussian(cov, torch.tensor([1.0, -2.0], dtype=torch.float64)), cov


def test_hmc_samples_a_correlated_gaussian(gen):
    model, cov = correlated_gaussian()
    x0 = 3 * torch.randn(N_CHAINS, 2, dtype=torch.float64, generator=gen)
    chain = samplers.hmc(model, x0, 60, step_size=0.3, n_leapfrog=5, generator=gen, trace=("accept_prob",))
    assert 0.5 < chain.trace["accept_prob"].mean() < 1.0
    assert_moments(chain.x, model.mean.detach().double(), cov)


def test_hmc_samples_an_ill_conditioned_gaussian(gen):
    """Variances 1, 0.1 and 0.01 along rotated axes (condition number 100): the step must resolve
    the narrowest direction (eps < 2 * 0.1) while the trajectory spans the widest."""
    cov = ill_conditioned_cov()
    model = gaussian(cov)
    x0 = torch.randn(10_000, 3, dtype=torch.float64, generator=gen)
    chain = samplers.hmc(model, x0, 30, step_size=0.08, n_leapfrog=20, generator=gen, trace=("accept_prob",))
    assert chain.trace["accept_prob"].mean() > 0.6
    assert_moments(chain.x, torch.zeros(3, dtype=torch.float64), cov)


def test_a_jittered_step_keeps_the_gaussian_exact_and_smooths_a_resonance(gen):
    """eps L = 6.3 is a whole period of N(0, I): fixed steps return almost to their start, accepted
    almost always yet moving nowhere (the lag-1 autocorrelation stays near 1). Jittering the step by
    +-30% breaks the resonance; the moments stay exact."""
    model = gaussian(torch.eye(2, dtype=torch.float64))
    x0 = torch.randn(N_CHAINS, 2, dtype=torch.float64, generator=gen)
    fixed = samplers.hmc(model, x0, 1, step_size=6.3 / 20, n_leapfrog=20, generator=gen).x
    assert torch.corrcoef(torch.stack([x0[:, 0], fixed[:, 0]]))[0, 1] > 0.95
    jittered = samplers.hmc(model, x0, 20, step_size=6.3 / 20, n_leapfrog=20, jitter=0.3, generator=gen).x
    one = samplers.hmc(model, x0, 1, step_size=6.3 / 20, n_leapfrog=20, jitter=0.3, generator=gen).x
    assert torch.corrcoef(torch.stack([x0[:, 0], one[:, 0]]))[0, 1] < 0.5
    assert_moments(jittered, torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64))


def test_a_diagonal_mass_matrix_takes_the_scales_out(gen):
    """Axis-aligned variances 100 and 0.01: with M^-1 = the variances, a step of 0.8 is accepted
    almost always and the moments are exact; with the identity the same step diverges."""
    cov = torch.diag(torch.tensor([100.0, 0.01], dtype=torch.float64))
    model = gaussian(cov)
    x0 = torch.randn(N_CHAINS, 2, dtype=torch.float64, generator=gen) * torch.tensor([10.0, 0.1], dtype=torch.float64)
    inverse_mass = torch.diagonal(cov).clone()
    chain = samplers.hmc(model, x0, 30, step_size=0.8, n_leapfrog=4, inverse_mass=inverse_mass, generator=gen,
                         trace=("accept_prob",))
    assert chain.trace["accept_prob"].mean() > 0.9
    assert_moments(chain.x, torch.zeros(2, dtype=torch.float64), cov)
    plain = samplers.hmc(model, x0, 5, step_size=0.8, n_leapfrog=4, generator=gen, trace=("accept_prob",))
    assert plain.trace["accept_prob"].mean() < 0.01


def test_hmc_samples_the_ring_mixture(gen):
    """The book's 2-D mixture of 8 Gaussians: exact mean and covariance from its components, and
    each component's share of the chains (started from a broad Gaussian) within 5 standard errors of 1/8."""
    mixture = ring_mixture()
    model = DistributionEnergy(mixture)
    n = 5_000
    x0 = 4 * torch.randn(n, 2, dtype=torch.float64, generator=gen)
    draws = samplers.hmc(model, x0, 80, step_size=0.25, n_leapfrog=6, generator=gen).x
    mean, cov = mixture_moments(mixture)
    assert_moments(draws, mean, cov)
    nearest = torch.cdist(draws, mixture.component_distribution.base_dist.loc.double()).argmin(1)
    share = torch.bincount(nearest, minlength=8).double() / n
    assert bool(((share - 1 / 8).abs() <= 5 * math.sqrt((1 / 8) * (7 / 8) / n)).all()), share


def _nonlinear_model():
    return MLPEnergy(2, (16, 16), envelope_std=3.0, generator=torch.Generator().manual_seed(3)).double()


@pytest.mark.parametrize("per_chain", [False, True])
def test_the_leapfrog_map_is_reversible(per_chain):
    """Forward L steps, negate the momentum, L steps again: back at the start (float64, 1e-10)."""
    model = _nonlinear_model()
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(50, 2, dtype=torch.float64, generator=gen)
    p = torch.randn(50, 2, dtype=torch.float64, generator=gen)
    eps = 0.1 + 0.1 * torch.rand(50, 1, dtype=torch.float64, generator=gen) if per_chain else 0.15
    _, score = model.energy_and_score(x)
    x1, p1, _, score1 = samplers.leapfrog(model, x, p, score, eps, 25)
    assert (x1 - x).abs().max() > 0.1  # it went somewhere
    x2, p2, _, _ = samplers.leapfrog(model, x1, -p1, score1, eps, 25)
    torch.testing.assert_close(x2, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(-p2, p, atol=1e-10, rtol=0)


@pytest.mark.parametrize("target", ["mlp", "mixture"])
def test_the_leapfrog_map_preserves_volume(target):
    """The Jacobian determinant of (x, r) -> (x', r'), by central differences, is 1."""
    model = _nonlinear_model() if target == "mlp" else DistributionEnergy(ring_mixture())
    z0 = torch.tensor([0.3, -0.7, 1.1, 0.4], dtype=torch.float64)

    def flow(z):
        x, p = z[:, :2], z[:, 2:]
        _, score = model.energy_and_score(x)
        x1, p1, _, _ = samplers.leapfrog(model, x, p, score, 0.2, 10)
        return torch.cat([x1, p1], 1)

    h = 1e-5
    basis = torch.eye(4, dtype=torch.float64) * h
    jac = (flow(z0 + basis) - flow(z0 - basis)).T / (2 * h)  # columns: d flow / d z_j
    assert not torch.allclose(jac, torch.eye(4, dtype=torch.float64), atol=0.1)  # a real map
    assert abs(torch.linalg.det(jac).item() - 1.0) < 1e-6


def test_hmc_satisfies_detailed_balance_on_a_1d_mixture(gen):
    """Start at exact samples of p, make one HMC step: the joint law of (x, x') must be symmetric.
    Binned, each pair of cells (i, j), (j, i) has counts whose difference is within 5 standard
    errors of 0 (and the chi-square over all pairs within 5 of its standard deviations)."""
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.tensor([0.3, 0.7], dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(
            torch.tensor([[-1.0], [1.2]], dtype=torch.float64), torch.tensor([[0.6], [0.4]], dtype=torch.float64)), 1))
    model = DistributionEnergy(mixture)
    n = 400_000
    x = model.sample(n, generator=gen)
    state, _ = samplers.HMC(0.6, 3).step(model, samplers.HMC().init(model, x), generator=gen)
    moved = (state.x != x).any(1).double().mean().item()
    assert 0.3 < moved < 0.95  # enough moves, and enough rejections, for the check to bite
    edges = torch.quantile(x[:20_000, 0], torch.linspace(0, 1, 17, dtype=torch.float64)[1:-1])
    a, b = torch.bucketize(x[:, 0], edges), torch.bucketize(state.x[:, 0], edges)
    counts = torch.bincount(a * 16 + b, minlength=256).reshape(16, 16).double()
    upper = torch.triu_indices(16, 16, 1)
    c_ij, c_ji = counts[upper[0], upper[1]], counts[upper[1], upper[0]]
    used = (c_ij + c_ji) >= 20
    z = (c_ij - c_ji)[used] / (c_ij + c_ji)[used].sqrt()
    assert used.sum() > 30
    assert z.abs().max() < 5, z.abs().max()
    k = z.numel()
    assert abs((z**2).sum().item() - k) < 5 * math.sqrt(2 * k)


def test_hmc_state_caches_energy_and_score_and_a_step_costs_n_leapfrog_evaluations(gen):
    model, _ = correlated_gaussian()
    calls = []
    inner = model.energy_and_score

    def counting(x):
        calls.append(x.shape[0])
        return inner(x)

    model.energy_and_score = counting
    kernel = samplers.HMC(0.2, 7)
    chain = samplers.run_chain(kernel, model, torch.randn(30, 2, dtype=torch.float64, generator=gen), 5,
                               generator=gen, trace=("accepted", "accept_prob", "delta_h"))
    assert len(calls) == 1 + 5 * 7  # one at init, then n_leapfrog per step
    state = chain.state
    assert isinstance(state, samplers.HMCState)
    torch.testing.assert_close(state.energy, model.energy(state.x))
    torch.testing.assert_close(state.score, -(state.x - model.mean.detach()) @ model.precision.detach().T)
    assert chain.trace["accepted"].dtype == torch.bool and chain.trace["accepted"].shape == (5, 30)
    prob = chain.trace["accept_prob"]
    torch.testing.assert_close(prob, torch.exp(-chain.trace["delta_h"]).clamp(max=1.0))


def test_hmc_step_settings_override_and_per_chain_step_sizes(gen):
    model, _ = correlated_gaussian()
    kernel = samplers.HMC(0.2, 3)
    state = kernel.init(model, torch.randn(40, 2, dtype=torch.float64, generator=gen))
    eps = torch.linspace(0.01, 0.5, 40, dtype=torch.float64)
    _, info = kernel.step(model, state, generator=gen, step_size=eps, n_leapfrog=2)
    assert info.accept_prob.shape == (40,) and info.accept_prob.dtype == torch.float64
    # a [chains] step size moves each chain as that chain's own float step size would
    p = torch.randn(40, 2, dtype=torch.float64, generator=gen)
    many_x, many_p, _, _ = samplers.leapfrog(model, state.x, p, state.score, eps[:, None], 2)
    for i in (0, 17, 39):
        one_x, one_p, _, _ = samplers.leapfrog(model, state.x[i:i + 1], p[i:i + 1], state.score[i:i + 1],
                                               float(eps[i]), 2)
        torch.testing.assert_close(many_x[i:i + 1], one_x)
        torch.testing.assert_close(many_p[i:i + 1], one_p)
    # and a step with it is reproducible from the generator
    a = kernel.step(model, state, generator=torch.Generator().manual_seed(9), step_size=eps)[0].x
    b = kernel.step(model, state, generator=torch.Generator().manual_seed(9), step_size=eps)[0].x
    assert torch.equal(a, b)
    with pytest.raises(TypeError, match="unknown settings"):
        kernel.step(model, state, generator=gen, stepsize=0.1)
    with pytest.raises(ValueError, match="step_size"):
        kernel.step(model, state, generator=gen, step_size=torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="step_size"):
        kernel.step(model, state, generator=gen, step_size=-eps)
    with pytest.raises(ValueError, match="step_size"):
        kernel.step(model, state, generator=gen, step_size=float("nan"))
    with pytest.raises(ValueError, match="n_leapfrog"):
        kernel.step(model, state, generator=gen, n_leapfrog=0)
    with pytest.raises(ValueError, match="n_leapfrog"):
        samplers.HMC(0.1, 0)
    with pytest.raises(ValueError, match="jitter"):
        samplers.HMC(0.1, 2, jitter=1.0)
    with pytest.raises(ValueError, match="jitter"):
        kernel.step(model, state, generator=gen, jitter=-0.1)
    with pytest.raises(ValueError, match="inverse_mass"):
        samplers.HMC(0.1, 2, inverse_mass=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="inverse_mass"):
        samplers.HMC(0.1, 2, inverse_mass=torch.ones(3, dtype=torch.float64)).init(model, state.x)


def test_hmc_refuses_binary_models_and_is_its_own_reverse():
    with pytest.raises(TypeError, match="binary"):
        samplers.HMC().init(BoltzmannMachine(4), torch.zeros(3, 4))
    kernel = samplers.HMC(0.1, 4)
    assert kernel.reversed() is kernel


def test_a_diverging_trajectory_is_rejected_without_nans(gen):
    model = gaussian(torch.diag(torch.tensor([1.0, 1e-4], dtype=torch.float64)))
    x0 = torch.randn(100, 2, dtype=torch.float64, generator=gen) * 0.01
    kernel = samplers.HMC(1e3, 20)  # leapfrog on a stiff direction: the energy overflows
    state, info = kernel.step(model, kernel.init(model, x0), generator=gen)
    assert not bool(info.accepted.any()) and bool((info.accept_prob == 0).all())
    assert torch.equal(state.x, x0) and bool(torch.isfinite(state.energy).all())


def test_hmc_keeps_dtype_and_float32_works(gen):
    model = GaussianEnergy(2)
    out = samplers.hmc(model, torch.randn(10, 2, generator=gen), 3, step_size=0.2, n_leapfrog=3, generator=gen).x
    assert out.dtype == torch.float32
    out = samplers.hmc(model.double(), torch.randn(10, 2, dtype=torch.float64, generator=gen), 3, generator=gen).x
    assert out.dtype == torch.float64


def test_hmc_composes_with_parallel_tempering(gen):
    """The 1-D mixture 0.3 N(-2.5, 0.5^2) + 0.7 N(2.5, 0.5^2): HMC alone stays in the mode it starts
    in; under a temperature ladder the T = 1 replica puts 30% of its chains on the left."""
    model = TwoWells(0.3, 2.5, 0.5)
    start = torch.full((1000, 1), 2.5)
    kernel = samplers.HMC(0.3, 3)
    result = samplers.parallel_tempering(model, start, [1.0, 2.0, 4.0, 8.0, 16.0], 200, kernel=kernel, generator=gen)
    left = (result.samples[:, 0] < 0).double().mean().item()
    assert abs(left - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 1000) + 0.02  # chains are correlated: a little slack
    alone = samplers.hmc(model, start, 200, step_size=0.3, n_leapfrog=3, generator=gen).x
    assert (alone[:, 0] < 0).double().mean().item() < 0.01


def test_hmc_composes_with_persistent_chains_and_annealing(gen):
    model = gaussian(torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64))
    kernel = samplers.HMC(0.3, 5)
    data = model.sample(64, generator=gen)
    start = objectives.PCDState(torch.zeros(100, 2, dtype=torch.float64))
    loss, state = objectives.pcd(model, data, start, 3, kernel=kernel,
                                  generator=gen)
    chains = state.chains
    assert chains.shape == (100, 2) and bool((chains != 0).all()) and torch.isfinite(loss)
    # AIS from N(0, I) with HMC moves: within 5 standard errors (and 0.05 nats) of the closed form
    estimate = estimators.ais(model, 2000, 100, kernel=kernel, generator=gen)
    exact = model.closed_form_log_partition().item()
    assert abs(float(estimate.log_z) - exact) < max(5 * estimate.stderr, 0.05)
