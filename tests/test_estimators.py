"""Estimators of log Z against exact values, with tolerances from their own standard errors."""

import math

import pytest
import torch

from ebmlib import data, estimators, exact
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy


def within(estimate, truth, sigmas=5.0, slack=1e-3):
    return abs(float(estimate.log_z) - float(truth)) <= sigmas * estimate.stderr + slack


@pytest.mark.parametrize(
    "model",
    [
        RBM.random(12, 6, weight_std=0.5, generator=torch.Generator().manual_seed(0)),
        RBM.random(5, 9, weight_std=0.5, generator=torch.Generator().manual_seed(1)),
        BoltzmannMachine.random(10, weight_std=0.5, generator=torch.Generator().manual_seed(2)),
    ],
    ids=["rbm-wide", "rbm-tall", "bm"],
)
def test_forward_and_reverse_ais_match_exact_log_z(model):
    truth = exact.log_partition(model).item()
    forward = estimators.ais(model, 300, 300, generator=torch.Generator().manual_seed(3))
    assert within(forward, truth), (forward, truth)
    samples = exact.sample(model, 300, generator=torch.Generator().manual_seed(4))
    reverse = estimators.reverse_ais(model, samples, 300, generator=torch.Generator().manual_seed(5))
    assert within(reverse, truth), (reverse, truth)
    assert forward.log_weights.shape == (300,) and 1 <= forward.ess <= 300


def test_ais_with_the_base_model_itself_is_exact():
    model = RBM(7, 3, init_std=0.0)  # zero parameters: the uniform base itself
    estimate = estimators.ais(model, 10, 5)
    assert float(estimate.log_z) == pytest.approx(10 * math.log(2), abs=1e-12)
    assert estimate.stderr == 0.0 and torch.all(estimate.log_weights == 0)


def test_base_rate_base_beats_uniform_on_data_like_models():
    train, _ = data.digits()
    model = RBM.random(64, 8, weight_std=0.3, bias_std=0.0, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        model.visible_bias.copy_(estimators.base_rate_bias(train).float() + 0.3 * torch.randn(64))
    truth = exact.log_partition(model).item()
    uniform = estimators.ais(model, 200, 50, generator=torch.Generator().manual_seed(7))
    base_rate = estimators.ais(model, 200, 50, data=train, generator=torch.Generator().manual_seed(7))
    assert abs(float(base_rate.log_z) - truth) < abs(float(uniform.log_z) - truth)
    assert within(base_rate, truth)


def test_continuous_ais_and_importance_sampling_on_a_gaussian():
    model = GaussianEnergy(2, mean=torch.tensor([1.0, -1.0]), precision=torch.tensor([[2.0, 0.5], [0.5, 1.0]]))
    truth = model.log_partition().item()
    torch.manual_seed(8)
    estimate = estimators.ais(model, 400, 200, step_size=0.2)
    assert within(estimate, truth), (estimate, truth)
    proposal = torch.distributions.MultivariateNormal(torch.zeros(2), 2.0 * torch.eye(2))
    is_estimate = estimators.importance_sampling(model, proposal, 20_000)
    assert within(is_estimate, truth), (is_estimate, truth)


def test_bad_arguments_are_refused():
    model = RBM(4, 2)
    with pytest.raises(ValueError, match="run from 0 to 1"):
        estimators.ais(model, 10, betas=[0.0, 0.5, 0.9])
    with pytest.raises(ValueError, match="must not decrease"):
        estimators.ais(model, 10, betas=[0.0, 0.6, 0.5, 1.0])
    with pytest.raises(ValueError, match="n_chains must be >= 2"):
        estimators.ais(model, 1, 10)
    with pytest.raises(TypeError, match="log_prob"):
        estimators.importance_sampling(GaussianEnergy(2), object(), 10)
    with pytest.raises(ValueError, match="samples must have 4 columns"):
        estimators.reverse_ais(model, torch.zeros(5, 3), 10)


def test_log_z_tracker_follows_pcd_training():
    from ebmlib import objectives, training

    truth = RBM.random(10, 4, weight_std=1.0, generator=torch.Generator().manual_seed(9))
    x = exact.sample(truth, 2000, generator=torch.Generator().manual_seed(10))
    torch.manual_seed(11)
    model = RBM(10, 4)
    tracker = estimators.LogZTracker(model, exact.log_partition(model).item(), exact.sample(model, 1000), k=2)
    loss = objectives.PersistentCD((torch.rand(100, 10) < 0.5).float(), k=1)
    checks = []

    def follow(step, m):
        tracker.update(m)
        if step % 50 == 0:
            checks.append(abs(tracker.log_z - exact.log_partition(m).item()))

    training.fit(model, loss, x, n_steps=300, batch_size=100, lr=0.1, progress=False, callback=follow)
    assert max(checks) < 0.3
    assert abs(tracker.history[-1] - tracker.history[0]) > 1.0  # log Z really moved


def test_piecewise_schedule_is_a_valid_schedule():
    betas = estimators.piecewise_schedule(1450)
    assert len(betas) == 1450
    estimators.check_schedule(betas)
    assert (betas < 0.5).sum() == 50 and ((betas >= 0.5) & (betas < 0.9)).sum() == 400


def test_bridge_sampling_between_a_base_and_a_model():
    model = BoltzmannMachine.random(10, weight_std=0.6, generator=torch.Generator().manual_seed(13))
    truth = exact.log_partition(model).item()
    base_bias = estimators.base_rate_bias(exact.sample(model, 5000, generator=torch.Generator().manual_seed(14)))
    base = torch.distributions.Independent(torch.distributions.Bernoulli(logits=base_bias.float()), 1)
    log_z0 = torch.nn.functional.softplus(base_bias).sum()
    x0 = base.sample((3000,))
    x1 = exact.sample(model, 3000, generator=torch.Generator().manual_seed(15))
    estimate = estimators.bridge_sampling(
        lambda x: x @ base_bias.float(), lambda x: -model.energy(x), x0, x1, log_z0=log_z0)
    assert within(estimate, truth), (estimate, truth)
    # Samples from both sides make it more precise than importance sampling from p0 alone.
    is_only = estimators.importance_sampling(model, base, 3000)
    assert within(is_only, truth)
    assert estimate.stderr < is_only.stderr


@pytest.mark.parametrize(
    "model",
    [
        RBM.random(12, 6, weight_std=0.5, generator=torch.Generator().manual_seed(0)),
        BoltzmannMachine.random(10, weight_std=0.5, generator=torch.Generator().manual_seed(2)),
    ],
    ids=["rbm", "bm"],
)
def test_linked_importance_sampling_matches_exact_log_z(model):
    truth = exact.log_partition(model).item()
    estimate = estimators.linked_importance_sampling(model, 300, 30, 10, generator=torch.Generator().manual_seed(16))
    assert within(estimate, truth), (estimate, truth)


def test_linked_importance_sampling_on_a_gaussian():
    model = GaussianEnergy(2, mean=torch.tensor([1.0, -1.0]), precision=torch.tensor([[2.0, 0.5], [0.5, 1.0]]))
    torch.manual_seed(17)
    estimate = estimators.linked_importance_sampling(model, 300, 30, 10, step_size=0.2)
    assert within(estimate, model.log_partition().item())


def test_reverse_scan_is_the_time_reversal_of_the_scan():
    from ebmlib.estimators.annealing import _BinaryPath

    model = BoltzmannMachine.random(4, weight_std=1.0, generator=torch.Generator().manual_seed(18)).double()
    forward = exact.gibbs_transition(model)
    _, p = exact.distribution(model)
    reversal = forward.T * p[None, :] / p[:, None]  # T_rev(x, y) = T(y, x) p(y) / p(x)
    path = _BinaryPath(model, torch.zeros(4, dtype=torch.float64), torch.Generator().manual_seed(19))
    start = exact.binary_states(4)[6].expand(40_000, -1).clone()
    moved = path.move(start, 1.0, None, reverse=True)
    freq = torch.bincount((moved * 2 ** torch.arange(4)).sum(1).long(), minlength=16).double() / 40_000
    row = reversal[6]
    assert bool(((freq - row).abs() <= 5 * torch.sqrt(row * (1 - row) / 40_000) + 1e-12).all())
    assert not torch.allclose(reversal, forward, atol=1e-3)  # the scan is not reversible: the test can tell
