"""CD, PCD, fast PCD and parallel tempering against exact gradients and distributions."""

import pytest
import torch
from test_samplers import N_CHAINS, assert_matches_distribution, random_start

from ebmlib import data, exact, objectives, samplers, training, utils
from ebmlib.models import RBM, BoltzmannMachine


def flat(model, loss):
    return utils.flat_grad(loss, model.parameters())


def g(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def problem():
    _, x = data.boltzmann_dataset(8, 400, weight_std=0.8, generator=g(1))
    model = RBM.random(8, 4, weight_std=0.5, generator=g(2))
    return model, x


def test_cd_with_large_k_approaches_the_exact_gradient(problem):
    model, x = problem
    target = flat(model, objectives.exact_nll(model, x))
    gen = g(3)
    big = x.repeat(100, 1)  # 40,000 chains started at the data: little Monte Carlo noise
    g1 = flat(model, objectives.cd(model, big, k=1, generator=gen))
    g50 = flat(model, objectives.cd(model, big, k=50, generator=gen))
    err1, err50 = (g1 - target).abs().max().item(), (g50 - target).abs().max().item()
    assert err50 < 0.03
    assert err1 > 2 * err50  # CD-1 is measurably biased on this model


def test_pcd_chains_at_equilibrium_give_the_exact_gradient(problem):
    model, x = problem
    target = flat(model, objectives.exact_nll(model, x))
    gen = g(4)
    chains = exact.sample(model, 40_000, generator=gen)
    loss, state = objectives.pcd(model, x, objectives.PCDState(chains), k=5, generator=gen)
    assert state.chains.shape == chains.shape and not torch.equal(state.chains, chains)
    assert (flat(model, loss) - target).abs().max().item() < 0.03


def test_parallel_tempering_samples_the_exact_distribution(gen):
    # A strongly coupled model: two deep modes that plain Gibbs crosses rarely.
    model = BoltzmannMachine(6, init_std=0.0)
    with torch.no_grad():
        model.weight.copy_(torch.full((6, 6), 1.5))
        model.bias.fill_(-3.75)
    temps = [1.0, 1.6, 2.6, 4.0]
    start = torch.zeros(N_CHAINS, 6)  # every chain starts in the all-off mode
    result = samplers.parallel_tempering(model, start.expand(4, -1, -1), temps, 60, generator=gen)
    assert result.replicas.shape == (4, N_CHAINS, 6) and result.swap_rates.shape == (3,)
    assert bool((result.swap_rates > 0.05).all() and (result.swap_rates <= 1).all())
    assert_matches_distribution(model, result.samples)


def test_persistent_cd_with_tempering_samples_the_model_and_reports_swaps(gen):
    """With the model held fixed, PCD's tempered chains are parallel tempering: after a burn-in
    the T = 1 replica has the model's exact distribution, and every pair of temperatures swaps."""
    model = BoltzmannMachine(6, init_std=0.0)
    with torch.no_grad():
        model.weight.copy_(torch.full((6, 6), 1.5))
        model.bias.fill_(-3.75)
    loss_fn = objectives.PersistentCD(torch.zeros(N_CHAINS, 6), k=60, temperatures=[1.0, 1.6, 2.6, 4.0],
                                      generator=gen)
    x = exact.sample(model, 10, generator=g(3))
    loss = loss_fn(model, x)
    assert loss.dim() == 0 and loss_fn.replicas.shape == (4, N_CHAINS, 6)
    assert loss_fn.swap_rates.shape == (3,) and bool((loss_fn.swap_rates > 0.05).all())
    assert_matches_distribution(model, loss_fn.chains)
    plain = objectives.PersistentCD(torch.zeros(N_CHAINS, 6), k=60, generator=g(4))
    plain(model, x)
    with pytest.raises(AssertionError):  # without the ladder the chains stay in the all-off mode
        assert_matches_distribution(model, plain.chains)


def test_fast_pcd_first_step_is_pcd_and_fast_weights_follow_the_gradient(problem):
    model, x = problem
    start = random_start(8, g(7), 64)
    plain = objectives.PersistentCD(start, k=1, generator=g(8))
    fast = objectives.FastPCD(start, k=1, fast_lr=0.1, fast_decay=0.9, generator=g(8))
    loss_plain, loss_fast = plain(model, x), fast(model, x)
    assert torch.equal(plain.chains, fast.chains)  # zero fast weights: same chains
    grads = torch.autograd.grad(loss_fast, list(model.parameters()))
    for fast_weight, grad in zip(fast.fast, grads):
        torch.testing.assert_close(fast_weight, -0.1 * grad)
    assert torch.allclose(loss_plain, loss_fast)


def run(path, steps, loss_kind):
    model = RBM.random(8, 4, weight_std=0.1, generator=g(9))
    start = random_start(8, g(10), 32)
    cls = objectives.FastPCD if loss_kind == "fpcd" else objectives.PersistentCD
    loss_fn = cls(start, k=1, generator=g(11), centering=objectives.Centering() if loss_kind == "centered" else None)
    _, x = data.boltzmann_dataset(8, 300, generator=g(12))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    training.fit(model, loss_fn, x, n_steps=steps, batch_size=50, optimizer=optimizer,
                 generator=g(13), checkpoint=path, checkpoint_every=7)
    return model, loss_fn, optimizer


@pytest.mark.parametrize("loss_kind", ["pcd", "fpcd", "centered"])
def test_checkpoint_round_trip_is_bit_for_bit(tmp_path, loss_kind):
    straight_model, straight_loss, _ = run(None, 30, loss_kind)
    path = tmp_path / "run.pt"
    run(path, 16, loss_kind)  # interrupted after 16 steps (last checkpoint written at 16)
    resumed_model, resumed_loss, _ = run(path, 30, loss_kind)  # fresh objects, resumed
    for a, b in zip(straight_model.parameters(), resumed_model.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(straight_loss.replicas, resumed_loss.replicas)
    # ...and the run did change something, so equality is not trivial.
    assert not torch.equal(straight_loss.replicas, run(None, 1, loss_kind)[1].replicas)


RAN = []


def _mark():
    RAN.append("code from the checkpoint ran")


class _Payload:
    """Unpickling this runs _mark: what a crafted checkpoint does with torch.load(weights_only=False)."""

    def __reduce__(self):
        return (_mark, ())


def test_a_checkpoint_holding_an_object_is_refused_and_runs_nothing(tmp_path):
    path = tmp_path / "crafted.pt"
    torch.save({"step": 1, "model": _Payload()}, path)
    with pytest.raises(ValueError, match="not loaded"):
        run(path, 3, "pcd")
    assert RAN == []
    # what fit writes itself holds nothing else: it loads with weights_only=True
    run(tmp_path / "fine.pt", 3, "pcd")
    assert set(torch.load(tmp_path / "fine.pt", weights_only=True)) >= {"model", "optimizer", "loss_fn", "rng"}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: objectives.cd(m, x, k=0), "k must be >= 1"),
        (lambda m, x: objectives.pcd(m, x, objectives.PCDState(torch.zeros(5, 7)), k=1), "chains must have 8 columns"),
        (lambda m, x: objectives.PersistentCD(torch.zeros(5, 8), k=1, temperatures=[2.0, 3.0]),
         "temperatures must start at 1.0"),
        (lambda m, x: objectives.PersistentCD(torch.zeros(5, 8), temperatures=[1.0, 0.5]), "strictly increasing"),
        (lambda m, x: objectives.PersistentCD(torch.zeros(5, 9))(m, x), "chains must have 8 columns"),
        (lambda m, x: samplers.parallel_tempering(m, torch.zeros(3, 5, 8), [1.0, 2.0], 1), r"replicas must have shape"),
        (lambda m, x: objectives.FastPCD(torch.zeros(5, 8), fast_decay=1.5), "fast_decay"),
    ],
)
def test_bad_arguments_are_refused(problem, call, message):
    model, x = problem
    with pytest.raises(ValueError, match=message):
        call(model, x)


def test_expected_cd_is_the_mean_of_stochastic_cd(problem):
    _, x = problem
    model = RBM.random(8, 4, weight_std=2.0, generator=torch.Generator().manual_seed(2))  # slow mixing
    exact_grad = flat(model, objectives.expected_cd(model, x, k=2))
    gen = g(30)
    big = x.repeat(200, 1)  # 80,000 chains: the Monte Carlo average of CD-2
    mc_grad = flat(model, objectives.cd(model, big, k=2, generator=gen))
    assert (mc_grad - exact_grad).abs().max() < 0.02
    # CD is biased: its expectation is not the likelihood gradient.
    assert (exact_grad - flat(model, objectives.exact_nll(model, x))).abs().max() > 0.05


def test_diagnostics():
    from ebmlib import diagnostics

    patterns = torch.tensor([[0.0, 0, 0, 0], [1.0, 1, 1, 1]])
    x = torch.tensor([[0.0, 0, 1, 0], [1.0, 1, 0, 1], [1.0, 1, 1, 1]])
    assert diagnostics.nearest_pattern(x, patterns).tolist() == [0, 1, 1]
    assert diagnostics.nearest_distance(x, patterns).tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="share n"):
        diagnostics.nearest_distance(x, patterns[:, :3])
    labels = torch.tensor([[0, 1], [0, 0], [1, 0]])
    assert diagnostics.hop_rate(labels) == 0.5
    with pytest.raises(ValueError):
        diagnostics.hop_rate(torch.zeros(1, 3))


def test_one_step_at_a_time_tempering_tries_every_pair(gen):
    model = BoltzmannMachine.random(5, weight_std=0.5, generator=torch.Generator().manual_seed(40))
    replicas = torch.zeros(4, 200, 5)
    result = samplers.parallel_tempering(model, replicas, [1.0, 1.5, 2.0, 3.0], 1, generator=gen)
    assert bool((result.swap_rates > 0).all())


def test_centering_with_zero_offsets_is_the_plain_gradient_and_otherwise_its_known_transform(problem):
    model, x = problem
    model, x = model.double(), x.double()
    negatives = random_start(8, g(31), 50).double()
    plain = flat(model, objectives.contrastive_loss(model, x, negatives))
    centering = objectives.Centering()
    zero = objectives.Offsets(torch.zeros(8, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(flat(model, centering.loss(model, x, negatives, zero)), plain)
    offsets = objectives.Offsets(torch.rand(8, generator=g(32), dtype=torch.float64),
                                 torch.rand(4, generator=g(33), dtype=torch.float64))
    got = flat(model, centering.loss(model, x, negatives, offsets))
    # the same through cd with fixed offsets (negatives from the sampler this time)
    assert flat(model, objectives.cd(model, x, 1, offsets=offsets, generator=g(34))).shape == got.shape
    # the centered step in (W, b', c'), mapped back to (W, b, c): dW_c = dW - mu dc^T - db lam^T, ...
    gw, gb, gc = plain[:32].reshape(8, 4), plain[32:40], plain[40:]
    mu, lam = offsets.visible, offsets.hidden
    w_c = gw - torch.outer(mu, gc) - torch.outer(gb, lam)
    expected = torch.cat([w_c.reshape(-1), gb - w_c @ lam, gc - w_c.T @ mu])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_centered_pcd_learns_like_pcd(problem):
    _, x = problem
    lls = {}
    for name, centering in [("plain", None), ("centered", objectives.Centering())]:
        model = RBM(8, 4, generator=g(34))
        loss = objectives.PersistentCD(random_start(8, g(35), 100), k=1, centering=centering, generator=g(36))
        training.fit(model, loss, x, n_steps=600, batch_size=50, lr=0.05, generator=g(37))
        lls[name] = exact.log_likelihood(model, x).mean().item()
    start = exact.log_likelihood(RBM(8, 4, init_std=0.0), x).mean().item()
    assert lls["centered"] > start + 0.5 and abs(lls["centered"] - lls["plain"]) < 0.2, (lls, start)
