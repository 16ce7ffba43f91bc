"""Objectives against the exact gradient, and the training loop."""

import pytest
import torch

from ebmlib import data, exact, objectives, training
from ebmlib.models import RBM, BoltzmannMachine


def grads(model, loss):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(model.parameters()))]).double()


@pytest.fixture
def setup():
    truth, x = data.boltzmann_dataset(8, 500, weight_std=0.8, generator=torch.Generator().manual_seed(3))
    model = BoltzmannMachine.random(8, weight_std=0.3, generator=torch.Generator().manual_seed(4))
    return model, x


def test_exact_nll_gradient_is_positive_minus_negative_phase(setup):
    model, x = setup
    model, x = model.double(), x.double()
    g = grads(model, objectives.exact_nll(model, x))
    positive = grads(model, model.energy(x).mean())
    negative = torch.cat([t.reshape(-1) for t in exact.expected_gradient(model)])  # = grad log Z
    torch.testing.assert_close(g, positive + negative, rtol=1e-6, atol=1e-8)


def test_contrastive_loss_with_exact_samples_is_unbiased(setup):
    model, x = setup
    target = grads(model, objectives.exact_nll(model, x))
    gen = torch.Generator().manual_seed(5)
    draws = torch.stack(
        [grads(model, objectives.contrastive_loss(model, x, exact.sample(model, 200, generator=gen))) for _ in range(300)]
    )
    mean, se = draws.mean(0), draws.std(0) / 300**0.5
    assert bool(((mean - target).abs() <= 5 * se + 1e-9).all())
    # ...and a single estimate is noisy: the check above is not vacuous.
    assert (draws[0] - target).abs().max() > 5 * se.max()


def test_naive_mcmc_with_a_long_burn_in_approaches_exact_gradient(setup):
    model, x = setup
    target = grads(model, objectives.exact_nll(model, x))
    gen = torch.Generator().manual_seed(6)
    g_long = grads(model, objectives.naive_mcmc(model, x, n_steps=50, n_chains=50_000, generator=gen))
    assert (g_long - target).abs().max() < 0.05


def test_naive_mcmc_rejects_a_bad_n_steps(setup):
    model, x = setup
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        objectives.naive_mcmc(model, x, n_steps=0)
    with pytest.raises(ValueError, match="negatives must have 8 columns"):
        objectives.contrastive_loss(model, x, torch.zeros(3, 7))


def test_fit_with_exact_nll_reaches_the_maximum_likelihood_region():
    truth, x = data.boltzmann_dataset(6, 2000, weight_std=0.8, generator=torch.Generator().manual_seed(7))
    model = BoltzmannMachine(6, init_std=0.0)
    history = training.fit(
        model, objectives.exact_nll, x, n_steps=300, batch_size=2000, lr=0.5,
        metrics={"nll": lambda m: objectives.exact_nll(m, x).item()}, eval_every=50,
    )
    assert history.metric_steps == [0, 50, 100, 150, 200, 250, 300]
    # The fitted model is at least as good on its training data as the model that made it.
    assert history.last("nll") <= objectives.exact_nll(truth, x).item() + 1e-3
    assert history.metrics["nll"][0] > history.last("nll") + 0.1
    assert len(history.seconds) == 300 and history.seconds_per_step > 0


def test_fit_stops_at_time_budget():
    model = RBM(6, 3)
    x = (torch.rand(50, 6) < 0.5).float()
    history = training.fit(model, objectives.exact_nll, x, n_steps=10_000, time_budget=0.05)
    assert len(history.loss) < 10_000 and len(history.loss) == len(history.seconds)


def test_minimize_works_with_losses_that_differentiate_the_data():
    """Score matching recovers a 5-d Gaussian's precision (its minimiser is the inverse sample
    covariance), through training.minimize and also when evaluated under no_grad."""
    from ebmlib.models import GaussianEnergy

    prec = torch.eye(5) * 2 + 0.3 * torch.ones(5, 5)
    x = GaussianEnergy(5, precision=prec).sample(4000, generator=torch.Generator().manual_seed(8)).double()
    model = GaussianEnergy(5).double()
    final = training.minimize(model, objectives.score_matching, x)
    target = torch.linalg.inv(torch.cov(x.T, correction=0))
    assert ((model.precision.detach() - target).abs() / target.abs().max()).max() < 0.01
    with torch.no_grad():
        assert abs(objectives.score_matching(model, x).item() - final) < 1e-9
    grads = torch.autograd.grad(objectives.score_matching(model, x), list(model.parameters()))
    assert max(g.abs().max().item() for g in grads) < 1e-5  # a stationary point of the loss


def test_fit_progress_is_off_by_default_like_everywhere_else(capsys):
    model = RBM(6, 3)
    x = (torch.rand(50, 6, generator=torch.Generator().manual_seed(9)) < 0.5).float()
    training.fit(model, objectives.exact_nll, x, n_steps=3)
    assert capsys.readouterr().err == ""
