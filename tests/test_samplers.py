"""Every sampler against exact distributions: empirical frequencies from many independent
chains must sit within 5 standard errors (computed from the number of chains) of the truth.
And the kernel protocol: states, infos, traces, composition."""

import math

import pytest
import torch

from ebmlib import exact, samplers
from ebmlib.models import RBM, BoltzmannMachine, DistributionEnergy, EnergyModel, GaussianEnergy, LearnedNormalizer

N_CHAINS = 20_000


def codes(x):
    return (x.double() * 2 ** torch.arange(x.shape[1], dtype=torch.float64)).sum(1).long()


def assert_matches_distribution(model, draws):
    """Frequencies of every state within 5 standard errors of the exact probabilities."""
    _, probs = exact.distribution(model)
    n = draws.shape[0]
    freq = torch.bincount(codes(draws), minlength=len(probs)).double() / n
    tol = 5 * torch.sqrt(probs * (1 - probs) / n) + 1e-12
    worst = ((freq - probs).abs() / tol).max().item()
    assert worst <= 1.0, f"a state's frequency is {worst:.2f}x the allowed deviation"


def random_start(n, gen, chains=N_CHAINS):
    return (torch.rand(chains, n, generator=gen) < 0.5).float()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_gibbs_bm_samples_exact_distribution(backend, gen):
    model = BoltzmannMachine.random(6, weight_std=0.7, generator=torch.Generator().manual_seed(0))
    draws = samplers.gibbs(model, random_start(6, gen), 30, generator=gen, backend=backend).x
    assert draws.shape == (N_CHAINS, 6) and draws.dtype == torch.float32
    assert_matches_distribution(model, draws)


def test_gibbs_backends_agree_on_the_same_noise():
    model = BoltzmannMachine.random(40, weight_std=0.3, generator=torch.Generator().manual_seed(1)).double()
    x = random_start(40, torch.Generator().manual_seed(2), chains=64).double()
    a = samplers.gibbs(model, x, 5, generator=torch.Generator().manual_seed(3), backend="numba").x
    b = samplers.gibbs(model, x, 5, generator=torch.Generator().manual_seed(3), backend="torch").x
    assert torch.equal(a, b)


def test_gibbs_systematic_scan_sees_updated_units():
    # Two units that strongly want to agree: a parallel (simultaneous) update would keep
    # flipping a (1, 0) pair to (0, 1); a sequential scan makes them agree within one sweep.
    model = BoltzmannMachine(2, init_std=0.0)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 30.0], [30.0, 0.0]]))
        model.bias.fill_(-15.0)
    x = torch.tensor([[1.0, 0.0]]).repeat(100, 1)
    y = samplers.gibbs(model, x, 1, generator=torch.Generator().manual_seed(0)).x
    assert bool((y[:, 0] == y[:, 1]).all())


def test_gibbs_rbm_samples_exact_distribution(gen):
    model = RBM.random(6, 4, weight_std=0.8, generator=torch.Generator().manual_seed(4))
    draws = samplers.gibbs(model, random_start(6, gen), 40, generator=gen).x
    assert_matches_distribution(model, draws)


class CubicBinary(EnergyModel):
    """A binary model with a three-way interaction: only the generic Gibbs path handles it."""

    is_binary = True

    def __init__(self):
        super().__init__()
        self.n_features = 4
        self.bias = torch.nn.Parameter(torch.tensor([0.5, -0.5, 1.0, -1.0]))

    def energy(self, x):
        return -(x @ self._param(self.bias, x)) - 2.0 * x[:, 0] * x[:, 1] * x[:, 2] + 1.5 * x[:, 1] * x[:, 3]


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_gibbs_generic_binary_model(order, gen):
    model = CubicBinary()
    draws = samplers.run_chain(samplers.Gibbs(order=order), model, random_start(4, gen), 20, generator=gen).x
    assert_matches_distribution(model, draws)


def test_metropolis_hastings_binary_and_its_acceptance_trace(gen):
    model = BoltzmannMachine.random(5, weight_std=0.7, generator=torch.Generator().manual_seed(5))
    chain = samplers.metropolis_hastings(model, random_start(5, gen), 150, generator=gen, trace=("accepted",))
    assert chain.trace["accepted"].shape == (150, N_CHAINS) and chain.trace["accepted"].dtype == torch.bool
    rate = chain.trace["accepted"].double().mean()
    assert 0.0 < rate < 1.0
    assert_matches_distribution(model, chain.x)
    assert torch.equal(chain.x, chain.state.x)
    torch.testing.assert_close(chain.state.energy, model.energy(chain.x))  # the state's energy is current


def gaussian_model():
    prec = torch.tensor([[2.0, 0.8], [0.8, 1.0]])
    return GaussianEnergy(2, mean=torch.tensor([1.0, -2.0]), precision=prec)


def assert_moments(draws, mean, cov, sigmas=5.0):
    n = draws.shape[0]
    d = draws.double()
    emp_mean = d.mean(0)
    tol_mean = sigmas * torch.sqrt(torch.diagonal(cov) / n)
    assert bool(((emp_mean - mean).abs() <= tol_mean).all()), (emp_mean, mean)
    emp_cov = torch.cov(d.T)
    # Var of a sample covariance entry for Gaussian data: (S_ij^2 + S_ii S_jj) / n.
    tol_cov = sigmas * torch.sqrt((cov**2 + torch.outer(torch.diagonal(cov), torch.diagonal(cov))) / n)
    assert bool(((emp_cov - cov).abs() <= tol_cov).all()), (emp_cov, cov)


def test_metropolis_hastings_continuous(gen):
    model = gaussian_model()
    x0 = torch.randn(N_CHAINS, 2, generator=gen) * 3
    draws = samplers.metropolis_hastings(model, x0, 300, step_size=0.8, generator=gen).x
    cov = torch.linalg.inv(model.precision.detach().double())
    assert_moments(draws, model.mean.detach().double(), cov)


def test_mala_samples_the_gaussian(gen):
    model = gaussian_model()
    x0 = torch.randn(N_CHAINS, 2, generator=gen) * 3
    chain = samplers.langevin(model, x0, 200, step_size=0.3, adjusted=True, generator=gen, trace=("accepted",))
    assert 0.3 < chain.trace["accepted"].double().mean() < 1.0
    cov = torch.linalg.inv(model.precision.detach().double())
    assert_moments(chain.x, model.mean.detach().double(), cov)


def test_unadjusted_langevin_has_its_known_bias(gen):
    # For E(x) = lam x^2 / 2, ULA's chain is AR(1): x' = (1 - eps lam) x + sqrt(2 eps) xi,
    # whose stationary variance is 1 / (lam (1 - eps lam / 2)), not the target's 1 / lam.
    lam, eps = 2.0, 0.3
    model = GaussianEnergy(1, precision=torch.tensor([[lam]]))
    draws = samplers.langevin(model, torch.zeros(N_CHAINS, 1), 100, step_size=eps, generator=gen).x
    ula_var = 1.0 / (lam * (1 - eps * lam / 2))
    assert_moments(draws, torch.zeros(1, dtype=torch.float64), torch.tensor([[ula_var]], dtype=torch.float64))
    # ...and the same draws are far outside the tolerance of the target's variance: the test can tell.
    with pytest.raises(AssertionError):
        assert_moments(draws, torch.zeros(1, dtype=torch.float64), torch.tensor([[1 / lam]], dtype=torch.float64))


def test_langevin_noise_scale_samples_a_tempered_model(gen):
    # sigma^2 / (2 eps) = T: with a small step, ULA samples exp(-E / T). For the Gaussian,
    # the AR(1) variance is T / (lam (1 - eps lam / 2)).
    lam, eps, temperature = 1.0, 0.02, 2.0
    model = GaussianEnergy(1, precision=torch.tensor([[lam]]))
    sigma = math.sqrt(2 * eps * temperature)
    draws = samplers.langevin(
        model, torch.zeros(N_CHAINS, 1), 600, step_size=eps, noise_scale=sigma, generator=gen
    ).x
    var = temperature / (lam * (1 - eps * lam / 2))
    assert_moments(draws, torch.zeros(1, dtype=torch.float64), torch.tensor([[var]], dtype=torch.float64))


def test_samplers_are_reproducible_and_return_new_tensors():
    model = BoltzmannMachine.random(10, generator=torch.Generator().manual_seed(6))
    x = random_start(10, torch.Generator().manual_seed(7), chains=50)
    runs = [samplers.gibbs(model, x, 3, generator=torch.Generator().manual_seed(8)).x for _ in range(2)]
    assert torch.equal(runs[0], runs[1])
    same = samplers.gibbs(model, x, 0).x
    assert torch.equal(same, x) and same is not x


def test_samplers_keep_dtype(gen):
    model = gaussian_model().double()
    x = torch.randn(10, 2, dtype=torch.float64, generator=gen)
    assert samplers.langevin(model, x, 2, generator=gen).x.dtype == torch.float64
    bm = BoltzmannMachine(5).double()
    assert samplers.gibbs(bm, torch.zeros(3, 5, dtype=torch.float64), 2, generator=gen).x.dtype == torch.float64
    rbm = RBM(5, 3).double()
    assert samplers.gibbs(rbm, torch.zeros(3, 5, dtype=torch.float64), 2, generator=gen).x.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gibbs_on_cuda_matches_exact():
    for model in [BoltzmannMachine.random(6, weight_std=0.7, generator=torch.Generator().manual_seed(0)),
                  RBM.random(6, 4, weight_std=0.8, generator=torch.Generator().manual_seed(4))]:
        model = model.cuda()
        gen = torch.Generator(device="cuda").manual_seed(0)
        x = (torch.rand(N_CHAINS, 6, device="cuda", generator=gen) < 0.5).float()
        draws = samplers.gibbs(model, x, 30, generator=gen).x
        assert draws.device.type == "cuda"
        assert_matches_distribution(model.cpu(), draws.cpu())


@pytest.mark.parametrize("model", [
    RBM.random(7, 5, generator=torch.Generator().manual_seed(11)),
    BoltzmannMachine.random(7, generator=torch.Generator().manual_seed(12)),
], ids=["rbm", "bm"])
def test_a_run_equals_repeated_kernel_steps(model):
    x = random_start(7, torch.Generator().manual_seed(13), chains=30)
    run = samplers.gibbs(model, x, 4, generator=torch.Generator().manual_seed(14)).x
    kernel, gen = samplers.Gibbs(), torch.Generator().manual_seed(14)
    state = kernel.init(model, x)
    for _ in range(4):
        state, info = kernel.step(model, state, generator=gen)
        assert isinstance(state, samplers.GibbsState) and isinstance(info, samplers.GibbsInfo)
    assert torch.equal(run, state.x)
    assert not torch.equal(run, x)


def test_langevin_state_carries_energy_and_score_and_step_params_override(gen):
    model = gaussian_model().double()
    kernel = samplers.Langevin(0.1, adjusted=True)
    state = kernel.init(model, torch.randn(50, 2, dtype=torch.float64, generator=gen))
    state, info = kernel.step(model, state, generator=gen, step_size=0.05)
    torch.testing.assert_close(state.energy, model.energy(state.x))
    torch.testing.assert_close(state.score, model.score(state.x))
    assert info.accepted.shape == (50,) and info.accepted.dtype == torch.bool
    with pytest.raises(TypeError, match="unknown settings"):
        kernel.step(model, state, generator=gen, stepsize=0.1)


def test_trace_of_a_function_and_a_bad_field(gen):
    model = RBM.random(6, 3, generator=torch.Generator().manual_seed(20))
    chain = samplers.gibbs(model, random_start(6, gen, 40), 5, generator=gen,
                           trace={"ones": lambda s, i: s.x.sum(1)})
    assert chain.trace["ones"].shape == (5, 40)
    torch.testing.assert_close(chain.trace["ones"][-1], chain.x.sum(1))
    with pytest.raises(ValueError, match="accepted"):
        samplers.gibbs(model, random_start(6, gen, 4), 1, trace=("accepted",))


def test_a_wrapped_rbm_takes_the_rbm_block_sweep():
    rbm = RBM.random(8, 3, generator=torch.Generator().manual_seed(21))
    wrapped = LearnedNormalizer(rbm, c=-2.0)
    x = random_start(8, torch.Generator().manual_seed(22), 100)
    a = samplers.gibbs(rbm, x, 3, generator=torch.Generator().manual_seed(23)).x
    b = samplers.gibbs(wrapped, x, 3, generator=torch.Generator().manual_seed(23)).x
    assert torch.equal(a, b)


def test_parallel_tempering_with_mala_weighs_two_modes_exactly(gen):
    """A 1-D mixture 0.3 N(-2.5, 0.5^2) + 0.7 N(2.5, 0.5^2) (a barrier of 12.5 nats): MALA alone
    never crosses; with a temperature ladder the T = 1 replica puts 30% of its chains on the left."""
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.tensor([0.3, 0.7])),
        torch.distributions.Independent(torch.distributions.Normal(torch.tensor([[-2.5], [2.5]]),
                                                                   torch.tensor([[0.5], [0.5]])), 1))
    model = DistributionEnergy(mixture)
    start = torch.full((2000, 1), 2.5)  # every chain starts in the right mode
    kernel = samplers.Langevin(0.2, adjusted=True)
    result = samplers.parallel_tempering(model, start, [1.0, 2.0, 4.0, 8.0, 16.0], 600, kernel=kernel, generator=gen)
    left = (result.samples[:, 0] < 0).double().mean().item()
    assert abs(left - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 2000) + 0.02  # chains are correlated: a little slack
    assert bool((result.swap_rates > 0.1).all())
    alone = samplers.langevin(model, start, 600, step_size=0.2, adjusted=True, generator=gen).x
    assert (alone[:, 0] < 0).double().mean().item() < 0.01  # without tempering, no chain crosses


def test_parallel_tempering_is_a_kernel_that_composes_with_run_chain(gen):
    model = BoltzmannMachine.random(5, weight_std=0.5, generator=torch.Generator().manual_seed(40))
    pt = samplers.ParallelTempering(samplers.Gibbs(), [1.0, 1.5, 2.0, 3.0])
    chain = samplers.run_chain(pt, model, torch.zeros(200, 5), 3, generator=gen, trace=("swap_rates",))
    assert chain.state.replicas.shape == (4, 200, 5) and chain.trace["swap_rates"].shape == (3, 3)
    assert bool((chain.trace["swap_rates"][0] > 0).all())  # one step reaches every pair


class CountingGaussian(EnergyModel):
    """E(x) = |x|^2 / 2 (a standard normal), counting its evaluations (rows are not counted, calls are)."""

    def __init__(self, d=1):
        super().__init__()
        self.n_features = d
        self.calls = 0

    def energy(self, x):
        self.calls += 1
        return 0.5 * (x * x).sum(-1)


def test_parallel_tempering_keeps_each_replicas_kernel_state(gen):
    """PT + MALA on N(0, 1) at temperatures 1, 2, 4: every replica has its exact moments (variance T),
    the states' cached energies are those of their chains at their temperatures after the swaps,
    and a step evaluates the model once per temperature (MALA's proposal), not again for the swaps
    or to rebuild the states."""
    model = CountingGaussian()
    temps = [1.0, 2.0, 4.0]
    pt = samplers.ParallelTempering(samplers.Langevin(0.6, adjusted=True), temps)
    state = pt.init(model, torch.randn(N_CHAINS, 1, generator=gen))
    model.calls = 0
    rates = []
    for _ in range(150):
        state, info = pt.step(model, state, generator=gen)
        rates.append(info.swap_rates)
    assert model.calls == 150 * len(temps)
    assert bool((torch.stack(rates).mean(0) > 0.2).all())
    for replica, (s, t) in zip(state.replicas, zip(state.states, temps)):
        assert torch.equal(s.x, replica)
        torch.testing.assert_close(s.energy, 0.5 * (replica * replica).sum(-1) / t)
        torch.testing.assert_close(s.score, -replica / t)
        assert_moments(replica, torch.zeros(1, dtype=torch.float64), torch.tensor([[t]], dtype=torch.float64))
    with pytest.raises(AssertionError):  # the hottest replica is not the model: the check can tell
        assert_moments(state.replicas[2], torch.zeros(1, dtype=torch.float64), torch.eye(1, dtype=torch.float64))


def test_parallel_tempering_refuses_a_continuous_model_whose_tempering_is_not_e_over_t(gen):
    class Odd(GaussianEnergy):
        def at_temperature(self, temperature):
            return GaussianEnergy(self.n_features, precision=torch.eye(self.n_features) / temperature**2)

    pt = samplers.ParallelTempering(samplers.Langevin(0.1, adjusted=True), [1.0, 2.0])
    with pytest.raises(ValueError, match="E / T"):
        pt.init(Odd(2), torch.randn(10, 2, generator=gen))
