"""NCE, negative sampling, self-contrastive estimation, sampled softmaxes and self-normalization,
each against a brute-force computation, a closed form or exact enumeration."""

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from ebmlib import data, exact, objectives, training, utils
from ebmlib import utils as ebmlib_utils
from ebmlib.models import BoltzmannMachine, CouplingFlow, GaussianEnergy, LearnedNormalizer, NeuralLM


def bm_pair(n=5, seed=0):
    """A small Boltzmann machine wrapped with a learned normalizer set at its exact value."""
    base = BoltzmannMachine.random(n, generator=torch.Generator().manual_seed(seed)).double()
    model = LearnedNormalizer(base).double()
    with torch.no_grad():
        model.c.fill_(-exact.log_partition(base).item())
    return base, model


def bernoulli_noise(probs):
    return D.Independent(D.Bernoulli(probs=probs.double()), 1)


class SampleOnly:
    """A noise that can be sampled but has no density."""

    def __init__(self, n):
        self.n = n

    def sample(self, sample_shape=(), generator=None):
        return (torch.rand(*sample_shape, self.n, generator=generator, dtype=torch.float64) < 0.3).double()


def test_nce_equals_brute_force(gen):
    base, model = bm_pair()
    with torch.no_grad():
        model.c.add_(0.3)  # off the optimum, so every term matters
    probs = torch.linspace(0.2, 0.7, 5, dtype=torch.float64)
    noise = bernoulli_noise(probs)
    x = exact.sample(base, 40, generator=gen).double()
    k = 3
    y = noise.sample((k * 40,))
    loss = objectives.nce(model, x, noise, k, noise_samples=y)

    def log_pm(u):
        return -model.energy(u).detach().numpy()

    def log_pn(u):
        p = probs.numpy()
        return (u.numpy() * np.log(p) + (1 - u.numpy()) * np.log(1 - p)).sum(1)

    def sigmoid(t):
        return 1 / (1 + np.exp(-t))

    h_x = sigmoid(log_pm(x) - log_pn(x) - np.log(k))
    h_y = sigmoid(log_pm(y) - log_pn(y) - np.log(k))
    brute = -(np.log(h_x).sum() + np.log(1 - h_y).sum()) / len(x)
    assert float(loss.detach()) == pytest.approx(brute, rel=1e-10)


def test_nce_is_stable_for_huge_log_ratios():
    model = LearnedNormalizer(GaussianEnergy(2)).double()
    with torch.no_grad():
        model.c.fill_(2000.0)  # exp(G) overflows float64 unless the loss stays in log space
    noise = D.MultivariateNormal(torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64))
    loss = objectives.nce(model, torch.zeros(3, 2, dtype=torch.float64), noise, 2)
    assert torch.isfinite(loss) and float(loss.detach()) > 1000


def test_nce_gradient_is_zero_in_expectation_at_the_optimum():
    """p_data = p_model and c = -log Z: the average gradient over many batches is zero within
    Monte Carlo error, and clearly not zero once c is moved off its optimum."""
    base, model = bm_pair(n=5, seed=3)
    noise = bernoulli_noise(torch.full((5,), 0.4))
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(7)

    def batch_gradients(shift):
        with torch.no_grad():
            model.c.fill_(-exact.log_partition(base).item() + shift)
        grads = []
        for _ in range(40):
            x = exact.sample(base, 5000, generator=gen).double()
            model.zero_grad()
            objectives.nce(model, x, noise, 2).backward()
            grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
        g = torch.stack(grads)
        return g[:, g.std(0) > 0]  # the weight's diagonal never moves

    g = batch_gradients(0.0)
    z = g.mean(0) / (g.std(0) / math.sqrt(len(g)) + 1e-12)
    assert float(z.abs().max()) < 4.5  # |t| over ~20 coordinates, 40 batches
    g_off = batch_gradients(0.2)
    z_off = g_off.mean(0) / (g_off.std(0) / math.sqrt(len(g_off)))
    assert float(z_off.abs().max()) > 10


def test_negative_sampling_is_nce_with_uniform_noise_and_k_equal_to_the_number_of_states(gen):
    base, model = bm_pair(n=4)
    uniform = bernoulli_noise(torch.full((4,), 0.5))
    k = 2**4
    x = exact.sample(base, 30, generator=gen).double()
    y = uniform.sample((k * 30,))
    a = objectives.nce(model, x, uniform, k, noise_samples=y)
    ga = torch.autograd.grad(a, list(model.parameters()))
    b = objectives.negative_sampling(model, x, uniform, k, noise_samples=y)
    gb = torch.autograd.grad(b, list(model.parameters()))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v)
    # with another k (or non-uniform noise) the two differ
    c = objectives.nce(model, x, uniform, 3, noise_samples=y[:90])
    d = objectives.negative_sampling(model, x, uniform, 3, noise_samples=y[:90])
    assert abs(c.item() - d.item()) > 0.1


def test_nce_refuses_noise_without_density_and_negative_sampling_accepts_it(gen):
    base, model = bm_pair(n=4)
    x = exact.sample(base, 10, generator=gen).double()
    with pytest.raises(TypeError, match="log_prob"):
        objectives.nce(model, x, SampleOnly(4), 2, generator=gen)
    loss = objectives.negative_sampling(model, x, SampleOnly(4), 2, generator=gen)
    assert torch.isfinite(loss)
    with pytest.raises(TypeError, match="sample"):
        objectives.negative_sampling(model, x, object(), 2)


def test_nce_noise_errors_are_clear(gen):
    base, model = bm_pair(n=4)
    x = exact.sample(base, 10, generator=gen).double()
    per_coordinate = D.Bernoulli(probs=torch.full((4,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="Independent"):
        objectives.nce(model, x, per_coordinate, 1)
    # a torch distribution draws reproducibly from a generator, and leaves the global state alone
    state = torch.get_rng_state()
    noise = bernoulli_noise(torch.full((4,), 0.5))
    losses = [objectives.nce(model, x, noise, 1, generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    assert torch.equal(losses[0], losses[1]) and torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="k"):
        objectives.nce(model, x, bernoulli_noise(torch.full((4,), 0.5)), 0)
    with pytest.raises(ValueError, match="binary"):
        objectives.nce(model, x + 0.5, bernoulli_noise(torch.full((4,), 0.5)), 1)


def test_nce_learns_c_equal_to_minus_log_z():
    """Gutmann and Hyvarinen's setting, small: a Gaussian fitted by NCE on 20,000 points."""
    g = torch.Generator().manual_seed(0)
    true = GaussianEnergy(2, torch.tensor([1.0, -0.5]), torch.tensor([[2.0, 0.6], [0.6, 1.0]])).double()
    x = true.sample(20000, generator=g).double()
    noise = D.MultivariateNormal(x.mean(0), torch.cov(x.T))
    y = utils.draw(noise, 20000, generator=g)
    model = LearnedNormalizer(GaussianEnergy(2)).double()
    training.minimize(model, lambda m, b: objectives.nce(m, b, noise, 1, noise_samples=y), x)
    log_z = exact.log_partition(true).item()
    assert model.c.item() == pytest.approx(-log_z, abs=0.05)
    # and c is the normalizer of the model NCE learned, not just of the truth
    assert model.c.item() == pytest.approx(-exact.log_partition(model.model).item(), abs=0.05)


def test_learned_normalizer_shifts_log_z():
    base, model = bm_pair(n=5)
    assert exact.log_partition(model).item() == pytest.approx(0.0, abs=1e-9)
    with torch.no_grad():
        model.c.add_(0.7)
    assert exact.log_partition(model).item() == pytest.approx(0.7, abs=1e-9)
    with pytest.raises(TypeError, match="EnergyModel"):
        LearnedNormalizer(torch.nn.Linear(2, 2))


def test_self_contrastive_gradient_is_a_multiple_of_the_ml_gradient():
    base = BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(4)).double()
    truth = BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(5)).double()
    gen = torch.Generator().manual_seed(6)
    x = exact.sample(truth, 500, generator=gen).double()
    k = 4
    negatives = exact.sample(base, k * 500, generator=gen).double()
    params = list(base.parameters())
    sce = torch.autograd.grad(objectives.self_contrastive(base, x, negatives), params)
    cl = torch.autograd.grad(objectives.contrastive_loss(base, x, negatives), params)
    for a, b in zip(sce, cl):  # exactly, sample by sample
        torch.testing.assert_close(a, k / (k + 1) * b)
    many = exact.sample(base, 400_000, generator=gen).double()  # k = 800 per data row
    sce = torch.autograd.grad(objectives.self_contrastive(base, x, many), params)
    ml = torch.autograd.grad(objectives.exact_nll(base, x), params)
    for a, b in zip(sce, ml):  # in expectation, against enumeration (MC error ~ 0.002)
        torch.testing.assert_close(a * 801 / 800, b, atol=0.015, rtol=0)


def test_importance_sampled_nll_approaches_the_exact_nll_as_k_grows(gen):
    base, model = bm_pair(n=6, seed=8)
    x = exact.sample(base, 20, generator=gen).double()
    noise = bernoulli_noise(torch.full((6,), 0.5))
    torch.manual_seed(0)
    exact_value = objectives.exact_nll(base, x).item()
    far = abs(objectives.importance_sampled_nll(base, x, noise, 1).item() - exact_value)
    near = abs(objectives.importance_sampled_nll(base, x, noise, 20000).item() - exact_value)
    assert near < 0.01 < far
    # c cancels: the wrapper with any c gives the same value
    torch.manual_seed(1)
    a = objectives.importance_sampled_nll(model, x, noise, 5)
    torch.manual_seed(1)
    b = objectives.importance_sampled_nll(base, x, noise, 5)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def output_layer(v=50, d=8, n=30, seed=0):
    """A bigram language model with random output weights, a batch of (previous, next) word rows
    and a noise distribution over the vocabulary."""
    g = torch.Generator().manual_seed(seed)
    lm = NeuralLM(v, context_size=1, embed_dim=4, hidden_dim=d, generator=g).double()
    with torch.no_grad():
        lm.output.weight.normal_(generator=g)
        lm.output.bias.normal_(generator=g)
    batch = torch.randint(v, (n, 2), generator=g)
    probs = torch.rand(v, generator=g, dtype=torch.float64) + 0.2
    return lm, batch, probs / probs.sum()


def test_sampled_losses_equal_brute_force():
    lm, batch, q = output_layer()
    target = batch[:, 1]
    k = 7
    ids = torch.multinomial(q, k, replacement=True, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        scores = (lm.features(batch[:, :1]) @ lm.output.weight.T + lm.output.bias).numpy()
    s_t = scores[np.arange(len(target)), target.numpy()]
    s_n = scores[:, ids.numpy()]
    qn = q.numpy()

    def softplus(t):
        return np.log1p(np.exp(t))

    def call(fn, **kw):
        return fn(lm, batch, q, k, generator=torch.Generator().manual_seed(3), **kw).item()

    g_t, g_n = s_t - np.log(k * qn[target]), s_n - np.log(k * qn[ids])
    brute_nce = softplus(-g_t).mean() + softplus(g_n).sum(1).mean()
    assert call(objectives.sampled_nce) == pytest.approx(brute_nce, rel=1e-10)
    brute_c = softplus(-(g_t - 0.5)).mean() + softplus(g_n - 0.5).sum(1).mean()
    assert call(objectives.sampled_nce, log_c=-0.5) == pytest.approx(brute_c, rel=1e-10)
    brute_neg = softplus(-s_t).mean() + softplus(s_n).sum(1).mean()
    assert call(objectives.sampled_negative_sampling) == pytest.approx(brute_neg, rel=1e-10)
    logits = np.concatenate([(s_t - np.log(qn[target]))[:, None], s_n - np.log(qn[ids])], 1)
    m = logits.max(1)
    brute_ss = (m + np.log(np.exp(logits - m[:, None]).sum(1)) - logits[:, 0]).mean()
    assert call(objectives.sampled_softmax) == pytest.approx(brute_ss, rel=1e-10)
    full = scores.max(1) + np.log(np.exp(scores - scores.max(1)[:, None]).sum(1))
    brute_full = (full - s_t).mean()
    assert objectives.softmax_nll(lm, batch).item() == pytest.approx(brute_full, rel=1e-10)
    assert objectives.softmax_nll(lm, batch).item() == pytest.approx(-lm.log_prob(batch[:, :1], target).mean().item())
    with_penalty = objectives.softmax_nll(lm, batch, self_normalization=0.3).item()
    assert with_penalty == pytest.approx(brute_full + 0.3 * (full**2).mean(), rel=1e-10)


def test_sampled_softmax_gradient_approaches_the_full_softmax_gradient():
    lm, batch, q = output_layer()
    layer = [lm.output.weight, lm.output.bias]
    full = torch.autograd.grad(objectives.softmax_nll(lm, batch), layer)
    g = torch.Generator().manual_seed(0)
    few = torch.autograd.grad(objectives.sampled_softmax(lm, batch, q, 5, generator=g), layer)
    many = torch.autograd.grad(objectives.sampled_softmax(lm, batch, q, 200_000, generator=g), layer)
    err_many = max(float((a - b).abs().max()) for a, b in zip(many, full))
    err_few = max(float((a - b).abs().max()) for a, b in zip(few, full))
    assert err_many < 0.01 < err_few


def test_normalization_penalty_is_zero_exactly_when_normalized():
    lm, batch, _ = output_layer()
    with torch.no_grad():
        scores = lm.scores(batch[:, :1])
    normalized = torch.log_softmax(scores, -1)
    assert objectives.normalization_penalty(torch.logsumexp(normalized, -1), 2.0).item() < 1e-24
    assert objectives.normalization_penalty(torch.logsumexp(scores, -1), 2.0).item() > 0.1
    base, model = bm_pair(n=5)
    assert objectives.normalization_penalty(exact.log_partition(model)).item() < 1e-20
    with torch.no_grad():
        model.c.add_(0.1)
    assert objectives.normalization_penalty(exact.log_partition(model), 3.0).item() == pytest.approx(0.03)
    with pytest.raises(ValueError, match="NaN"):
        objectives.normalization_penalty(torch.tensor([float("nan")]))


def test_output_layer_input_errors():
    lm, batch, q = output_layer()
    with pytest.raises(ValueError, match="target"):
        objectives.softmax_nll(lm, torch.stack([batch[:, 0], batch[:, 1] + 100], 1))
    with pytest.raises(ValueError, match="context"):
        objectives.softmax_nll(lm, batch + 100)
    with pytest.raises(ValueError, match=r"batch must be a long tensor of word ids, \[batch, 2\]"):
        objectives.softmax_nll(lm, batch[:, :1])
    with pytest.raises(ValueError, match="batch"):
        objectives.softmax_nll(lm, batch.double())
    with pytest.raises(TypeError, match="language model"):
        objectives.softmax_nll(GaussianEnergy(2), batch)
    with pytest.raises(ValueError, match="noise_probs"):
        objectives.sampled_nce(lm, batch, q * 2, 3)
    with pytest.raises(ValueError, match="noise_probs"):
        objectives.sampled_nce(lm, batch, q[:-1], 3)
    with pytest.raises(ValueError, match="self_normalization"):
        objectives.softmax_nll(lm, batch, self_normalization=-1.0)


def test_output_layer_objectives_have_the_one_shape_and_train_with_fit():
    """objective(lm, batch, ...) -> loss: a lambda binds the settings and fit trains with it."""
    lm, batch, q = output_layer(v=20, n=200)
    g = torch.Generator().manual_seed(4)
    before = objectives.softmax_nll(lm, batch).item()
    history = training.fit(lm, lambda m, b: objectives.sampled_softmax(m, b, q, 10, generator=g), batch,
                           n_steps=60, batch_size=50, optimizer=torch.optim.Adam(lm.parameters(), lr=0.05),
                           generator=torch.Generator().manual_seed(5))
    assert len(history.loss) == 60 and objectives.softmax_nll(lm, batch).item() < before - 0.5


def test_coupling_flow_is_a_normalized_invertible_density():
    torch.manual_seed(0)
    flow = CouplingFlow(2, n_layers=4, hidden=16, loc=torch.tensor([0.5, -0.5]), scale=torch.tensor([1.5, 0.7]))
    with torch.no_grad():  # move the couplings off the identity
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x, log_q = flow.rsample_with_log_prob(500)
    torch.testing.assert_close(flow.log_prob(x.detach()), log_q.detach(), atol=1e-4, rtol=0)
    grid = torch.linspace(-12, 12, 601)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    with torch.no_grad():
        mass = flow.log_prob(points).double().exp().sum() * (grid[1] - grid[0]) ** 2
    assert float(mass) == pytest.approx(1.0, abs=0.01)
    assert flow.sample(7).shape == (7, 2) and flow.sample((3,)).shape == (3, 2)
    with pytest.raises(ValueError, match="n_features"):
        CouplingFlow(1)
    with pytest.raises(ValueError, match="columns"):
        flow.log_prob(torch.zeros(3, 5))


def test_flow_contrastive_and_adversarial_steps_move_only_their_own_side():
    torch.manual_seed(0)
    x = data.gaussian_mixture().sample((64,))
    for make in ["fce", "adv"]:
        model = LearnedNormalizer(GaussianEnergy(2))
        flow = CouplingFlow(2, n_layers=2, hidden=8)
        opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
        objective = (objectives.FlowContrastive(flow, opt, k=2) if make == "fce"
                     else objectives.AdversarialBound(flow, opt))
        model.model.mean.requires_grad_(False)  # a parameter the user froze stays frozen
        before_flow = [p.detach().clone() for p in flow.parameters()]
        before_model = [p.detach().clone() for p in model.parameters()]
        loss = objective(model, x)
        assert torch.isfinite(loss)
        assert any(not torch.equal(a, b) for a, b in zip(before_flow, flow.parameters()))
        assert all(torch.equal(a, b) for a, b in zip(before_model, model.parameters()))
        grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad], allow_unused=True)
        assert any(g is not None and float(g.abs().sum()) > 0 for g in grads)
        assert all(p.grad is None for p in model.parameters())
        assert set(objective.state_dict()) == {"flow", "optimizer"}
        assert not model.model.mean.requires_grad and model.c.requires_grad
        # the wrapper is the pure losses composed: with no flow steps, the model's loss itself
        fixed = objectives.FlowContrastive(flow, opt, k=2, flow_steps=0, generator=torch.Generator().manual_seed(1))
        pure = objectives.flow_contrastive(model, x, flow, 2, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(fixed(model, x), pure)
        flow_loss = objectives.flow_contrastive_flow_loss(model, x, flow, 2, generator=torch.Generator())
        sampler_loss = objectives.adversarial_sampler_loss(model, flow, 16, generator=torch.Generator())
        for loss in (flow_loss, sampler_loss):  # each player's loss reaches only that player
            grads = torch.autograd.grad(loss, [*flow.parameters(), model.c], allow_unused=True)
            assert grads[-1] is None and any(g is not None for g in grads[:-1])
    normal = D.MultivariateNormal(torch.zeros(2), torch.eye(2))
    with pytest.raises(TypeError, match="flow"):
        objectives.FlowContrastive(normal, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    with pytest.raises(TypeError, match="sampler"):
        objectives.AdversarialBound(normal, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))


def test_markov_text_entropy_rate_matches_the_text():
    corpus = data.markov_text(vocab_size=500, n_train=1000, n_test=100_000, generator=torch.Generator().manual_seed(3))
    context, target = data.ngrams(corpus.test, 1)
    cross_entropy = -float(corpus.log_prob(context[:, 0], target).mean())
    assert cross_entropy == pytest.approx(corpus.entropy_rate, abs=0.03)
    assert float(corpus.unigram.sum()) == pytest.approx(1.0, abs=1e-5)
    counts = torch.bincount(corpus.test, minlength=500).double() / len(corpus.test)
    assert float((counts - corpus.unigram.double()).abs().sum()) < 0.08
    assert torch.equal(corpus.train, data.markov_text(vocab_size=500, n_train=1000, n_test=100_000, generator=torch.Generator().manual_seed(3)).train)
    c2, t2 = data.ngrams(torch.arange(10), 3)
    assert c2.tolist()[0] == [0, 1, 2] and t2.tolist()[0] == 3 and len(t2) == 7
    with pytest.raises(ValueError, match="mix"):
        data.markov_text(mix=1.5)


def test_neural_lm_log_prob_is_the_full_softmax():
    torch.manual_seed(0)
    lm = NeuralLM(40, context_size=2, embed_dim=4, hidden_dim=6).double()
    context = torch.randint(40, (9, 2))
    target = torch.randint(40, (9,))
    scores = lm.scores(context)
    torch.testing.assert_close(lm.log_prob(context, target),
                               torch.log_softmax(scores, -1)[torch.arange(9), target])
    torch.testing.assert_close(lm.unnormalized_log_prob(context, target), scores[torch.arange(9), target])
    torch.testing.assert_close(lm.log_partition(context), torch.logsumexp(scores, -1))
    with pytest.raises(ValueError, match="context"):
        lm.scores(torch.randint(40, (9, 3)))
    with pytest.raises(TypeError, match="long"):
        lm.scores(context.float())
    with pytest.raises(ValueError, match="target"):
        lm.log_prob(context, target + 40)


def test_minimize_converges_and_refuses_nan():
    class Quadratic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))

    target = torch.tensor([[1.0, -2.0, 3.0]], dtype=torch.float64)
    model = Quadratic()
    final = training.minimize(model, lambda m, x: ((m.w - x[0]) ** 2).sum() + 0.5, target)
    torch.testing.assert_close(model.w.detach(), target[0])
    assert final == pytest.approx(0.5)
    with pytest.raises(ValueError, match="NaN"):
        training.minimize(Quadratic(), lambda m, x: m.w.sum() * float("nan"), target)


def test_neural_lm_perplexity_and_time_call():
    torch.manual_seed(0)
    lm = NeuralLM(30, context_size=1, embed_dim=4, hidden_dim=5).double()
    with torch.no_grad():
        lm.output.weight.normal_()
    context, target = torch.randint(30, (40, 1)), torch.randint(30, (40,))
    log_p = torch.log_softmax(lm.scores(context), -1)[torch.arange(40), target]
    assert lm.perplexity(context, target) == pytest.approx(math.exp(-log_p.mean().item()), rel=1e-12)
    raw = lm.scores(context)[torch.arange(40), target] - 0.7
    assert lm.perplexity(context, target, 0.7) == pytest.approx(math.exp(-raw.mean().item()), rel=1e-12)
    calls = []
    seconds = ebmlib_utils.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and seconds >= 0
    with pytest.raises(ValueError, match="repeats"):
        ebmlib_utils.time_call(lambda: None, repeats=0)
