"""Step-size adaptation by dual averaging: the paper's equations recomputed from the traces, the
acceptance rate it reaches on Gaussians of very different scales (MALA and HMC), per-chain step
sizes that follow each chain's scale, and exact moments from the fixed step size it returns."""

import math

import pytest
import torch
from moments import assert_moments, gaussian, ill_conditioned_cov

from ebmlib import samplers
from ebmlib.models import EnergyModel, GaussianEnergy

MALA_TARGET, HMC_TARGET = 0.574, 0.8


def isotropic(scale: float, d: int = 5) -> GaussianEnergy:
    return gaussian(scale**2 * torch.eye(d, dtype=torch.float64))


def paper_dual_averaging(eps0, accept_probs, target, gamma=0.05, t0=10.0, kappa=0.75):
    """Hoffman and Gelman (2014), Algorithm 5's adaptation lines, in plain Python floats.

    Returns the step sizes each step ran with (eps_0 ... eps_{T-1}), the last iterate eps_T and
    the averaged iterate epsbar_T."""
    mu, h_bar, log_bar, log_eps = math.log(10 * eps0), 0.0, 0.0, math.log(eps0)
    used = []
    for m, alpha in enumerate(accept_probs, start=1):
        used.append(math.exp(log_eps))
        h_bar = (1 - 1 / (m + t0)) * h_bar + (target - alpha) / (m + t0)
        log_eps = mu - math.sqrt(m) / gamma * h_bar
        log_bar = m ** (-kappa) * log_eps + (1 - m ** (-kappa)) * log_bar
    return used, math.exp(log_eps), math.exp(log_bar)


@pytest.mark.parametrize("per_chain", [False, True])
def test_dual_averaging_follows_the_papers_equations(per_chain, gen):
    model = isotropic(1.0)
    x0 = torch.randn(40, 5, dtype=torch.float64, generator=gen)
    adapted = samplers.adapt_step_size(samplers.HMC(0.5, 4), model, x0, 60, target_accept=HMC_TARGET,
                                       per_chain=per_chain, generator=gen)
    probs = adapted.trace["accept_prob"]
    assert probs.shape == (60, 40)
    columns = range(40) if per_chain else [None]
    for i in columns:
        alphas = (probs[:, i] if per_chain else probs.mean(1)).tolist()
        used, last, averaged = paper_dual_averaging(0.5, alphas, HMC_TARGET)
        ran = adapted.trace["step_size"][:, i] if per_chain else adapted.trace["step_size"]
        torch.testing.assert_close(ran, torch.tensor(used, dtype=torch.float64), rtol=1e-12, atol=0)
        got = adapted.step_size[i].item() if per_chain else adapted.step_size
        assert math.isclose(got, averaged, rel_tol=1e-12)
        assert not math.isclose(got, last, rel_tol=1e-3)  # the average, not the last iterate
    if per_chain:
        assert adapted.step_size.shape == (40,) and adapted.step_size.dtype == torch.float64
    else:
        assert isinstance(adapted.step_size, float)


@pytest.mark.parametrize("kind", ["mala", "hmc"])
def test_adapted_acceptance_hits_the_target_at_every_scale(kind, gen):
    """Isotropic 5-D Gaussians with standard deviations 0.01, 1 and 100, all started from the same
    step size 0.1: after 300 warm-up steps, a run with the adapted step held fixed accepts within
    0.05 of the target, and the step size scales with the target as it should (eps / scale^2
    agrees within 30% for MALA, whose step is a time step with noise sqrt(2 eps); eps / scale for HMC)."""
    target = MALA_TARGET if kind == "mala" else HMC_TARGET
    power = 2 if kind == "mala" else 1
    per_scale = {}
    for scale in (0.01, 1.0, 100.0):
        model = isotropic(scale)
        kernel = samplers.Langevin(0.1, adjusted=True) if kind == "mala" else samplers.HMC(0.1, 5)
        x0 = scale * torch.randn(500, 5, dtype=torch.float64, generator=gen)
        adapted = samplers.adapt_step_size(kernel, model, x0, 300, target_accept=target, generator=gen)
        run = samplers.run_chain(kernel, model, adapted.state.x, 100, generator=gen, trace=("accept_prob",),
                                 step_size=adapted.step_size)
        rate = run.trace["accept_prob"].mean().item()
        assert abs(rate - target) < 0.05, (kind, scale, rate)
        per_scale[scale] = adapted.step_size / scale**power
    ratios = torch.tensor(list(per_scale.values()))
    assert ratios.max() / ratios.min() < 1.3, per_scale


class RowScaled(EnergyModel):
    """Row ``i`` is ``N(0, s_i^2 I)``: a batch of chains in targets of different scales."""

    def __init__(self, scales: torch.Tensor, d: int = 3) -> None:
        super().__init__()
        self.n_features, self.scales = d, scales

    def energy(self, x):
        return 0.5 * (x * x).sum(1) / self.scales**2

    def energy_and_score(self, x):
        return self.energy(x), -x / self.scales[:, None] ** 2


@pytest.mark.parametrize("kind", ["mala", "hmc"])
def test_per_chain_step_sizes_follow_each_chains_scale(kind, gen):
    """Chains in targets of scales 0.1, 1 and 10: one step size per chain ends proportional to
    its chain's scale (eps / scale^power: each group's median within 30% of the others), and each
    group accepts near the target when the step sizes are then held fixed: above it by less than
    0.1 (one chain's acceptance probability is a single noisy draw per step, so the averaged
    iterate lands on the cautious side; shared adaptation, which averages over chains, does not).
    One shared step size cannot serve all groups: it leaves their acceptance rates far apart."""
    target = MALA_TARGET if kind == "mala" else HMC_TARGET
    power = 2 if kind == "mala" else 1
    scales = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64).repeat_interleave(200)
    model = RowScaled(scales)
    # HMC with a fixed trajectory on a Gaussian has resonances (acceptance is not monotone in the
    # step size, see samplers.hmc); a jittered step smooths them out
    kernel = samplers.Langevin(0.1, adjusted=True) if kind == "mala" else samplers.HMC(0.1, 5, jitter=0.3)
    x0 = scales[:, None] * torch.randn(600, 3, dtype=torch.float64, generator=gen)
    adapted = samplers.adapt_step_size(kernel, model, x0, 400, target_accept=target, per_chain=True, generator=gen)
    relative = (adapted.step_size / scales**power).reshape(3, 200).median(1).values
    assert relative.max() / relative.min() < 1.3, relative
    run = samplers.run_chain(kernel, model, adapted.state.x, 100, generator=gen, trace=("accept_prob",),
                             step_size=adapted.step_size)
    group_rates = run.trace["accept_prob"].mean(0).reshape(3, 200).mean(1)
    assert bool(((group_rates - target > -0.02) & (group_rates - target < 0.1)).all()), group_rates
    shared = samplers.adapt_step_size(kernel, model, x0, 400, target_accept=target, generator=gen)
    run = samplers.run_chain(kernel, model, shared.state.x, 100, generator=gen, trace=("accept_prob",),
                             step_size=shared.step_size)
    shared_rates = run.trace["accept_prob"].mean(0).reshape(3, 200).mean(1)
    assert (shared_rates.max() - shared_rates.min()).item() > 0.5, shared_rates


def test_after_adaptation_hmc_with_the_fixed_step_samples_the_ill_conditioned_gaussian(gen):
    cov = ill_conditioned_cov()
    model = gaussian(cov)
    kernel = samplers.HMC(1.0, 20)  # far too large a first step for the 0.01-variance direction
    warm = torch.randn(1000, 3, dtype=torch.float64, generator=gen)
    adapted = samplers.adapt_step_size(kernel, model, warm, 100, target_accept=HMC_TARGET, generator=gen)
    assert adapted.step_size < 0.2  # the stability limit of the narrowest direction (2 sigma_min)
    x0 = torch.randn(10_000, 3, dtype=torch.float64, generator=gen)
    chain = samplers.run_chain(kernel, model, x0, 30, generator=gen, step_size=adapted.step_size,
                               trace=("accept_prob",))
    assert abs(chain.trace["accept_prob"].mean().item() - HMC_TARGET) < 0.05
    assert_moments(chain.x, torch.zeros(3, dtype=torch.float64), cov)


def test_after_adaptation_mala_with_the_fixed_step_samples_a_correlated_gaussian(gen):
    cov = torch.tensor([[0.7353, -0.5882], [-0.5882, 1.4706]], dtype=torch.float64)
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    model = gaussian(cov, mean)
    kernel = samplers.Langevin(2.0, adjusted=True)
    x0 = 3 * torch.randn(10_000, 2, dtype=torch.float64, generator=gen)
    adapted = samplers.adapt_step_size(kernel, model, x0, 100, target_accept=MALA_TARGET, per_chain=True,
                                       generator=gen)
    draws = samplers.run_chain(kernel, model, adapted.state.x, 150, generator=gen, step_size=adapted.step_size).x
    assert_moments(draws, mean, cov)


def test_random_walk_metropolis_adapts_a_shared_step(gen):
    """Any kernel with a step_size and an accept_prob: continuous random-walk MH to 0.234."""
    model = isotropic(3.0)
    kernel = samplers.MetropolisHastings(0.1)
    adapted = samplers.adapt_step_size(kernel, model, 3 * torch.randn(500, 5, dtype=torch.float64, generator=gen),
                                       400, target_accept=0.234, generator=gen)
    run = samplers.run_chain(kernel, model, adapted.state.x, 100, generator=gen, trace=("accept_prob",),
                             step_size=adapted.step_size)
    assert abs(run.trace["accept_prob"].mean().item() - 0.234) < 0.05


def test_adaptation_refuses_what_it_cannot_adapt(gen):
    model = isotropic(1.0)
    x0 = torch.randn(10, 5, dtype=torch.float64, generator=gen)
    with pytest.raises(TypeError, match="step_size setting"):
        samplers.adapt_step_size(samplers.Gibbs(), model, x0, 5, target_accept=0.5)
    with pytest.raises(TypeError, match="accept_prob"):
        samplers.adapt_step_size(samplers.Langevin(0.1), model, x0, 5, target_accept=0.5)
    with pytest.raises(ValueError, match="target_accept"):
        samplers.adapt_step_size(samplers.HMC(), model, x0, 5, target_accept=1.0)
    with pytest.raises(TypeError, match="target_accept"):
        samplers.adapt_step_size(samplers.HMC(), model, x0, 5)
    with pytest.raises(ValueError, match="n_steps"):
        samplers.adapt_step_size(samplers.HMC(), model, x0, 0, target_accept=0.8)
    with pytest.raises(ValueError, match="per_chain"):
        samplers.adapt_step_size(samplers.HMC(), model, x0, 5, target_accept=0.8,
                                 initial_step_size=torch.full((10,), 0.1))
    with pytest.raises(TypeError, match="initial_step_size"):
        samplers.adapt_step_size(samplers.HMC(), model, x0, 5, target_accept=0.8, step_size=0.1)
    with pytest.raises(TypeError, match="step_size must be a float"):  # MH takes one step size for all chains
        samplers.adapt_step_size(samplers.MetropolisHastings(), model, x0, 5, target_accept=0.3, per_chain=True)
    with pytest.raises(ValueError, match="kappa"):
        samplers.DualAveraging(0.8, kappa=0.4)
