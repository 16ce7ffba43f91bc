"""Estimators of log Z against exact values, with tolerances from their own standard errors."""

import math

import pytest
import torch

from ebmlib import data, distributions, estimators, exact, samplers, utils
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, LearnedNormalizer


def within(estimate, truth, sigmas=5.0, slack=1e-3):
    return abs(float(estimate.log_z) - float(truth)) <= sigmas * estimate.stderr + slack


def g(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "model",
    [
        RBM.random(12, 6, weight_std=0.5, generator=g(0)),
        RBM.random(5, 9, weight_std=0.5, generator=g(1)),
        BoltzmannMachine.random(10, weight_std=0.5, generator=g(2)),
    ],
    ids=["rbm-wide", "rbm-tall", "bm"],
)
def test_forward_and_reverse_ais_match_exact_log_z(model):
    truth = exact.log_partition(model).item()
    forward = estimators.ais(model, 300, 300, generator=g(3))
    assert within(forward, truth), (forward, truth)
    samples = exact.sample(model, 300, generator=g(4))
    reverse = estimators.reverse_ais(model, samples, 300, generator=g(5))
    assert within(reverse, truth), (reverse, truth)
    assert forward.log_weights.shape == (300,) and 1 <= forward.ess <= 300


def test_ais_bounds_point_the_right_way_and_tighten_with_more_distributions():
    """Forward AIS is a stochastic lower bound and reverse AIS (from exact samples) an upper one:
    over 20 repeated runs with a short schedule the forward estimate falls below the exact value
    and the reverse one above it more often than not, their means sit on the right sides by
    more than two standard errors, and the gap between them shrinks with the schedule."""
    model = RBM.random(20, 8, weight_std=2.0, generator=g(6))
    truth = exact.log_partition(model).item()
    errors = {"forward": [], "reverse": []}
    gaps = {5: [], 50: []}
    for seed in range(20):
        samples = exact.sample(model, 50, generator=g(100 + seed))
        for n_betas in gaps:
            lower = float(estimators.ais(model, 50, n_betas, generator=g(200 + seed)).log_z)
            upper = float(estimators.reverse_ais(model, samples, n_betas, generator=g(300 + seed)).log_z)
            gaps[n_betas].append(upper - lower)
            if n_betas == 5:
                errors["forward"].append(lower - truth)
                errors["reverse"].append(upper - truth)
    fwd, rev = (torch.tensor(errors[k], dtype=torch.float64) for k in ("forward", "reverse"))
    assert (fwd < 0).sum() >= 13 and (rev > 0).sum() >= 13, (fwd, rev)
    assert fwd.mean() < -2 * fwd.std() / math.sqrt(20) and rev.mean() > 2 * rev.std() / math.sqrt(20)
    assert sum(gaps[50]) < 0.5 * sum(gaps[5])


def test_ais_with_the_base_model_itself_is_exact():
    model = RBM(7, 3, init_std=0.0)  # zero parameters: the uniform base itself
    estimate = estimators.ais(model, 10, 5, base="uniform", generator=g(0))
    assert float(estimate.log_z) == pytest.approx(10 * math.log(2), abs=1e-12)
    assert estimate.stderr == 0.0 and torch.all(estimate.log_weights == 0)


def test_base_rate_base_beats_uniform_on_data_like_models():
    train, _ = data.digits(generator=g(0))
    model = RBM.random(64, 8, weight_std=0.3, bias_std=0.0, generator=g(6))
    with torch.no_grad():
        model.visible_bias.copy_(utils.base_rate_logits(train).float() + 0.3 * torch.randn(64, generator=g(1)))
    truth = exact.log_partition(model).item()
    uniform = estimators.ais(model, 200, 50, base="uniform", generator=g(7))
    base_rate = estimators.ais(model, 200, 50, base=utils.base_rate_logits(train), generator=g(7))
    assert abs(float(base_rate.log_z) - truth) < abs(float(uniform.log_z) - truth)
    assert within(base_rate, truth)
    own = estimators.ais(model, 200, 50, base="model", generator=g(7))
    assert within(own, truth)


def test_continuous_ais_and_importance_sampling_on_a_gaussian():
    model = GaussianEnergy(2, mean=torch.tensor([1.0, -1.0]), precision=torch.tensor([[2.0, 0.5], [0.5, 1.0]]))
    truth = exact.log_partition(model).item()
    estimate = estimators.ais(model, 400, 200, kernel=samplers.Langevin(0.2, adjusted=True), generator=g(8))
    assert within(estimate, truth), (estimate, truth)
    proposal = torch.distributions.MultivariateNormal(torch.zeros(2), 2.0 * torch.eye(2))
    is_estimate = estimators.importance_sampling(model, proposal, 20_000, generator=g(9))
    assert within(is_estimate, truth), (is_estimate, truth)
    # any ebmlib object that samples and scores is a proposal, with a generator
    wide = GaussianEnergy(2, precision=0.5 * torch.eye(2))
    assert within(estimators.importance_sampling(model, wide, 20_000, generator=g(10)), truth)


def test_ais_takes_any_kernel():
    model = BoltzmannMachine.random(8, weight_std=0.5, generator=g(11))
    truth = exact.log_partition(model).item()
    estimate = estimators.ais(model, 300, 300, kernel=samplers.MetropolisHastings(), generator=g(12))
    assert within(estimate, truth)
    wrapped = LearnedNormalizer(model, c=1.5)
    estimate = estimators.ais(wrapped, 300, 300, generator=g(13))
    assert within(estimate, truth + 1.5)


def test_estimators_are_reproducible_and_leave_the_global_state_alone():
    model = RBM.random(10, 4, generator=g(14))
    gauss = GaussianEnergy(2)
    state = torch.get_rng_state()
    runs = [
        lambda s: estimators.ais(model, 20, 20, generator=g(s)).log_weights,
        lambda s: estimators.linked_importance_sampling(model, 10, 5, 3, generator=g(s)).log_weights,
        lambda s: estimators.ais(gauss, 20, 10, generator=g(s)).log_weights,
        lambda s: estimators.importance_sampling(gauss, torch.distributions.MultivariateNormal(
            torch.zeros(2), torch.eye(2)), 50, generator=g(s)).log_weights,
    ]
    for run in runs:
        assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))
    assert torch.equal(torch.get_rng_state(), state)


def test_bad_arguments_are_refused():
    model = RBM(4, 2)
    with pytest.raises(ValueError, match="run from 0 to 1"):
        estimators.ais(model, 10, betas=[0.0, 0.5, 0.9])
    with pytest.raises(ValueError, match="must not decrease"):
        estimators.ais(model, 10, betas=[0.0, 0.6, 0.5, 1.0])
    with pytest.raises(ValueError, match="n_chains must be >= 2"):
        estimators.ais(model, 1, 10)
    with pytest.raises(ValueError, match="base must be 'model', 'uniform'"):
        estimators.ais(model, 10, 10, base="data")
    with pytest.raises(ValueError, match=r"base logits must have shape \[4\]"):
        estimators.ais(model, 10, 10, base=torch.zeros(3))
    with pytest.raises(TypeError, match="log_prob"):
        estimators.importance_sampling(GaussianEnergy(2), object(), 10)
    with pytest.raises(ValueError, match="samples must have 4 columns"):
        estimators.reverse_ais(model, torch.zeros(5, 3), 10)
    with pytest.raises(TypeError, match="kernel must have init"):
        estimators.ais(model, 10, 10, kernel=object())


def test_log_z_tracker_follows_pcd_training():
    from ebmlib import objectives, training

    truth = RBM.random(10, 4, weight_std=1.0, generator=g(9))
    x = exact.sample(truth, 2000, generator=g(10))
    model = RBM(10, 4, generator=g(11))
    tracker = estimators.LogZTracker(model, exact.log_partition(model).item(),
                                     exact.sample(model, 1000, generator=g(12)), n_steps=2, generator=g(13))
    loss = objectives.PersistentCD((torch.rand(100, 10, generator=g(14)) < 0.5).float(), k=1, generator=g(15))
    checks = []

    def follow(step, m):
        tracker.update(m)
        if step % 50 == 0:
            checks.append(abs(float(tracker.log_z) - exact.log_partition(m).item()))

    training.fit(model, loss, x, n_steps=300, batch_size=100, lr=0.1, callback=follow, generator=g(16))
    assert max(checks) < 0.3
    assert abs(tracker.history[-1] - tracker.history[0]) > 1.0  # log Z really moved


def test_log_z_tracker_weights_resampling_and_chain_assignment():
    model = RBM.random(6, 3, weight_std=1.0, generator=g(20))
    start = exact.log_partition(model).item()
    chains = exact.sample(model, 400, generator=g(21))
    with pytest.raises(ValueError, match="resample_ess"):
        estimators.LogZTracker(model, start, chains, resample_ess=1.5)
    with pytest.raises(ValueError, match="at least 2"):
        estimators.LogZTracker(model, start, chains[:1])
    # one update to a known new model: the increment is an importance-sampling ratio
    tracker = estimators.LogZTracker(model, start, chains, generator=g(22), resample_ess=0.0)
    new = RBM.random(6, 3, weight_std=1.0, generator=g(23))
    with torch.no_grad():
        for a, b in zip(model.parameters(), new.parameters()):
            a.mul_(0.7).add_(0.3 * b)  # a small step
    expected = start + torch.logsumexp(
        (tracker._old.energy(chains) - model.energy(chains)).double(), 0).item() - math.log(400)
    assert float(tracker.update(model)) == pytest.approx(expected, abs=1e-9)
    assert tracker.log_z.dim() == 0 and tracker.log_z.dtype == torch.float64  # the type of Estimate.log_z
    assert abs(float(tracker.log_z) - exact.log_partition(model).item()) < 0.05
    assert tracker.ess < 400  # unequal weights, kept (never resampled)
    # assigning chains keeps the estimate and gives the new chains equal weights
    before = float(tracker.log_z)
    tracker.chains = exact.sample(model, 50, generator=g(24))
    assert float(tracker.log_z) == pytest.approx(before) and tracker.ess == pytest.approx(50)


def test_piecewise_schedule_is_a_valid_schedule():
    betas = estimators.piecewise_schedule(1450)
    assert len(betas) == 1450
    estimators.check_schedule(betas)
    assert (betas < 0.5).sum() == 50 and ((betas >= 0.5) & (betas < 0.9)).sum() == 400


def test_bridge_sampling_between_a_base_and_a_model():
    model = BoltzmannMachine.random(10, weight_std=0.6, generator=g(13))
    truth = exact.log_partition(model).item()
    base = distributions.IndependentBernoulli(utils.base_rate_logits(exact.sample(model, 5000, generator=g(14))))
    x0 = base.sample(3000, generator=g(17))
    x1 = exact.sample(model, 3000, generator=g(15))
    estimate = estimators.bridge_sampling(base.log_prob, lambda x: -model.energy(x), x0, x1)
    assert within(estimate, truth), (estimate, truth)
    # Samples from both sides make it more precise than importance sampling from p0 alone.
    is_only = estimators.importance_sampling(model, base, 3000, generator=g(18))
    assert within(is_only, truth)
    assert estimate.stderr < is_only.stderr


def test_bridge_sampling_weights_each_side_by_its_own_sample_size():
    """Meng and Wong's optimal bridge a ∝ 1/(s1 f1 + s0 r f0): with almost no samples of p1 it is
    importance sampling from p0, with almost none of p0 it is reverse importance sampling from p1.
    Pairing each s_i with the other density (s0 f1 + s1 r f0) fails both limits by nats, and an
    equal split (the usual n0 = n1) cannot tell the two apart."""
    model = BoltzmannMachine.random(10, weight_std=0.6, generator=g(13))
    base = distributions.IndependentBernoulli(utils.base_rate_logits(exact.sample(model, 5000, generator=g(14))))
    log_f1 = lambda x: -model.energy(x)  # noqa: E731
    many0, few0 = base.sample(20000, generator=g(17)), base.sample(3, generator=g(19))
    many1, few1 = exact.sample(model, 20000, generator=g(15)), exact.sample(model, 3, generator=g(20))
    with torch.no_grad():
        forward_is = utils.log_mean_exp((log_f1(many0) - base.log_prob(many0)).double(), 0)
        reverse_is = -utils.log_mean_exp((base.log_prob(many1) - log_f1(many1)).double(), 0)
    only_p0 = estimators.bridge_sampling(base.log_prob, log_f1, many0, few1)
    only_p1 = estimators.bridge_sampling(base.log_prob, log_f1, few0, many1)
    assert abs(float(only_p0.log_z) - float(forward_is)) < 0.02, (only_p0, forward_is)
    assert abs(float(only_p1.log_z) - float(reverse_is)) < 0.02, (only_p1, reverse_is)
    # and with unequal, moderate sizes it is still on the exact value
    truth = exact.log_partition(model).item()
    unequal = estimators.bridge_sampling(base.log_prob, log_f1, many0[:4000], many1[:500])
    assert within(unequal, truth), (unequal, truth)


@pytest.mark.parametrize(
    "model",
    [
        RBM.random(12, 6, weight_std=0.5, generator=g(0)),
        BoltzmannMachine.random(10, weight_std=0.5, generator=g(2)),
    ],
    ids=["rbm", "bm"],
)
def test_linked_importance_sampling_matches_exact_log_z(model):
    truth = exact.log_partition(model).item()
    estimate = estimators.linked_importance_sampling(model, 300, 30, 10, generator=g(16))
    assert within(estimate, truth), (estimate, truth)


def test_linked_importance_sampling_on_a_gaussian():
    model = GaussianEnergy(2, mean=torch.tensor([1.0, -1.0]), precision=torch.tensor([[2.0, 0.5], [0.5, 1.0]]))
    estimate = estimators.linked_importance_sampling(model, 300, 30, 10, kernel=samplers.Langevin(0.2, adjusted=True),
                                                     generator=g(17))
    assert within(estimate, exact.log_partition(model).item())


def test_linked_importance_sampling_spends_k_minus_one_transitions_per_level():
    class Counting(samplers.Gibbs):
        moves = 0

        def step(self, model, state, *, generator=None, **params):
            Counting.moves += len(state.x)
            return super().step(model, state, generator=generator, **params)

        def reversed(self):
            return self

    model = RBM.random(6, 3, generator=g(18))
    estimators.linked_importance_sampling(model, 40, 11, 5, kernel=Counting(), generator=g(19))
    assert Counting.moves == 40 * 11 * 4  # 11 levels (the base included), K - 1 = 4 moves per run


def test_reverse_scan_is_the_time_reversal_of_the_scan():
    model = BoltzmannMachine.random(4, weight_std=1.0, generator=g(18)).double()
    forward = exact.gibbs_transition(model)
    _, p = exact.distribution(model)
    reversal = forward.T * p[None, :] / p[:, None]  # T_rev(x, y) = T(y, x) p(y) / p(x)
    start = exact.binary_states(4)[6].expand(40_000, -1).clone()
    moved = samplers.run_chain(samplers.Gibbs().reversed(), model, start, 1, generator=g(19)).x
    freq = torch.bincount((moved * 2 ** torch.arange(4)).sum(1).long(), minlength=16).double() / 40_000
    row = reversal[6]
    assert bool(((freq - row).abs() <= 5 * torch.sqrt(row * (1 - row) / 40_000) + 1e-12).all())
    assert not torch.allclose(reversal, forward, atol=1e-3)  # the scan is not reversible: the test can tell


def test_ais_schedule_check_on_a_gaussian_with_known_log_z():
    target = GaussianEnergy(32, torch.full((32,), 1.0), 4.0 * torch.eye(32)).double()
    kernel = samplers.Langevin(0.05, adjusted=True)
    check = estimators.ais_schedule_check(target, 200, (1000, 3000), generator=g(30), kernel=kernel)
    truth = exact.log_partition(target).item()
    assert check.converged and within(check.estimate, truth)
    assert set(check.estimates) == {1000, 3000} and check.estimate is check.estimates[3000]
    # two distributions (importance sampling from N(0, I) in 32-d) is tens of nats short
    short = estimators.ais_schedule_check(target, 200, (2, 100), generator=g(31), kernel=kernel)
    assert not short.converged and float(short.estimates[2].log_z) < truth - 10
    with pytest.raises(ValueError, match="lengths"):
        estimators.ais_schedule_check(target, 10, (100, 50))


def test_independent_bernoulli_is_a_normalized_distribution_over_vectors():
    logits = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    q = distributions.IndependentBernoulli(logits)
    states = exact.binary_states(3)
    assert float(q.log_prob(states).exp().sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(q.log_partition) == pytest.approx(float(torch.nn.functional.softplus(logits).sum()))
    draws = q.sample((200, 50), generator=g(50))
    assert draws.shape == (200, 50, 3) and q.event_shape == (3,)
    freq = draws.reshape(-1, 3).double().mean(0)
    assert bool(((freq - q.probs).abs() < 5 * torch.sqrt(q.probs * (1 - q.probs) / 10_000)).all())
    assert torch.equal(q.sample(4, generator=g(51)), q.sample((4,), generator=g(51)))
    with pytest.raises(ValueError, match="logits must be a finite 1-d floating tensor"):
        distributions.IndependentBernoulli(torch.zeros(2, 2))


def test_annealing_path_dispatches_on_the_model_type_and_takes_registrations():
    bm, rbm, gauss = BoltzmannMachine.random(6, generator=g(40)), RBM.random(6, 3, generator=g(41)), GaussianEnergy(2)

    def path_of(model, base=None):
        return estimators.annealing_path(model, estimators.resolve_base(model, base))

    assert type(path_of(bm)) is estimators.BoltzmannPath and type(path_of(rbm)) is estimators.RBMPath
    assert type(path_of(gauss)) is estimators.GeometricPath
    shifted = path_of(LearnedNormalizer(rbm, c=0.5))
    assert type(shifted) is estimators.ShiftedPath and type(shifted.path) is estimators.RBMPath
    normal = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(6), torch.ones(6)), 1)
    assert type(estimators.annealing_path(bm, normal)) is estimators.GeometricPath  # not a Bernoulli base

    class MyBoltzmann(BoltzmannMachine):
        """A model type of one's own, which registers its own path."""

    class CountedPath(estimators.BoltzmannPath):
        moves = 0

        def move(self, x, beta, kernel, *, generator=None):
            CountedPath.moves += 1
            return super().move(x, beta, kernel, generator=generator)

    mine = MyBoltzmann(6, init_std=0.0)
    mine.load_state_dict(bm.state_dict())
    assert type(path_of(mine)) is estimators.BoltzmannPath  # inherited registration, until it registers
    estimators.annealing_path.register(MyBoltzmann, lambda model, base: CountedPath(model, base))
    estimate = estimators.ais(mine, 200, 50, generator=g(42))
    assert CountedPath.moves == 48 and within(estimate, exact.log_partition(bm).item())
