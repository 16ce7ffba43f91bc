"""Langevin maximum likelihood, the convolutional energy and spectral normalisation."""

import math

import pytest
import torch

from ebmlib import objectives, samplers, training
from ebmlib.models import ConvEnergy, MLPEnergy
from ebmlib.utils import flat_grad


def g(seed):
    return torch.Generator().manual_seed(seed)


def test_langevin_ml_gradient_follows_the_exact_likelihood_gradient():
    """With chains at the model's law, the objective's gradient is the exact ML gradient (grid)."""
    model = MLPEnergy(1, (16,), envelope_std=3.0, generator=g(0)).double()
    x = torch.cat([torch.randn(2000, 1, generator=g(1)) - 1.5, 0.5 * torch.randn(2000, 1, generator=g(2)) + 1.0])
    grid = torch.linspace(-15, 15, 6001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        weights = torch.softmax(-model.energy(grid), 0)
    exact_loss = model.energy(x.double()).mean() - weights @ model.energy(grid)  # NLL up to a constant
    exact = flat_grad(exact_loss, model.parameters())
    # 20,000 persistent chains, started at exact samples of the model, moved by MALA
    objective = objectives.LangevinML(20, kernel=samplers.Langevin(0.05, adjusted=True), start="persistent",
                                      generator=g(3))
    idx = torch.multinomial(weights, 20_000, replacement=True, generator=g(4))
    objective.chains = grid[idx] + (torch.rand(20_000, 1, generator=g(5), dtype=torch.float64) - 0.5) * 0.005
    sampled = flat_grad(objective(model, x.double()), model.parameters())
    cosine = float(sampled @ exact / (sampled.norm() * exact.norm()))
    assert cosine > math.cos(math.radians(5)), math.degrees(math.acos(min(cosine, 1.0)))
    # noise-initialised short-run chains with a few steps do not: their gradient points elsewhere
    short = objectives.LangevinML(2, 0.001, start="noise", generator=g(6))
    wrong = flat_grad(short(model, x.double()), model.parameters())
    assert float(wrong @ exact / (wrong.norm() * exact.norm())) < cosine - 0.05


@pytest.mark.parametrize("start", ["noise", "persistent", "buffer"])
def test_langevin_ml_resumes_from_a_checkpoint_bit_for_bit(tmp_path, start):
    x = torch.randn(300, 2, generator=g(7)) * 0.5 + 1.0

    def run(n_steps, path=None):
        model = MLPEnergy(2, (8,), generator=g(8))
        objective = objectives.LangevinML(5, 0.01, start=start, buffer_size=400, reinit=0.2, energy_penalty=0.1,
                                          generator=g(9))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        training.fit(model, objective, x, n_steps=n_steps, batch_size=50, optimizer=optimizer, generator=g(10),
                     checkpoint=path, checkpoint_every=5)
        return model, objective

    straight, straight_objective = run(12)
    path = tmp_path / "run.pt"
    run(5, path)  # stops after 5 updates, leaving a checkpoint
    resumed, resumed_objective = run(12, path)  # a fresh process would do the same
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    if start != "noise":
        assert torch.equal(straight_objective.chains, resumed_objective.chains)
    assert resumed_objective.update == 12


def test_langevin_ml_replay_buffer_reinitialises_its_share_from_the_prior():
    prior = torch.distributions.Independent(torch.distributions.Uniform(torch.full((2,), 10.0),
                                                                        torch.full((2,), 11.0)), 1)
    model = MLPEnergy(2, (8,), generator=g(11))
    objective = objectives.LangevinML(1, 1e-6, start="buffer", prior=prior, buffer_size=1000, reinit=0.3,
                                      generator=g(12))
    objective.chains = torch.zeros(1000, 2)  # a buffer far from the prior
    objective(model, torch.randn(2000 // 2, 2, generator=g(13)))
    fresh = (objective.negatives[:, 0] > 5).float().mean().item()
    assert abs(fresh - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 1000)
    assert ((objective.chains[:, 0] > 5).sum() > 0) and ((objective.chains[:, 0] > 5).sum() < 1000)


def test_langevin_ml_energy_penalty_and_divergence_check():
    model = MLPEnergy(2, (8,), generator=g(14))
    x = torch.randn(64, 2, generator=g(15))
    plain = objectives.LangevinML(3, 0.01, start="noise", generator=g(16))
    penalized = objectives.LangevinML(3, 0.01, start="noise", energy_penalty=0.5, generator=g(16))
    lp, lq = plain(model, x), penalized(model, x)
    energies = model.energy(torch.cat([x, penalized.negatives]))
    expected = 0.5 * (energies[:64].pow(2).mean() + energies[64:].pow(2).mean())
    torch.testing.assert_close(lq - lp, expected)
    with torch.no_grad():
        model.net[-1].bias.fill_(1e6)  # energies far beyond the limit
    with pytest.raises(objectives.DivergenceError, match="energy_limit"):
        objectives.LangevinML(1, 0.01, start="noise", generator=g(17))(model, x)
    with torch.no_grad():
        model.net[-1].bias.fill_(float("nan"))
    with pytest.raises(objectives.DivergenceError):
        objectives.LangevinML(1, 0.01, start="noise", generator=g(17))(model, x)


def test_langevin_ml_wrapper_only_stores_the_state_of_its_functional_core():
    """loss, state = langevin_ml(model, x, state, ...): the wrapper's losses and state are the core's."""
    model = MLPEnergy(2, (8,), generator=g(19))
    x = torch.randn(40, 2, generator=g(20))
    settings = dict(n_steps=3, step_size=0.01, start="buffer", buffer_size=100, reinit=0.1)
    wrapper = objectives.LangevinML(3, 0.01, start="buffer", buffer_size=100, reinit=0.1, generator=g(21))
    state, gen = None, g(21)
    for _ in range(3):
        loss, state = objectives.langevin_ml(model, x, state, generator=gen, **settings)
        torch.testing.assert_close(wrapper(model, x), loss)
    assert isinstance(state, objectives.LangevinMLState) and state.update == 3 == wrapper.update
    assert torch.equal(state.chains, wrapper.chains) and torch.equal(state.negatives, wrapper.negatives)


def test_langevin_ml_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="step_size"):
        objectives.LangevinML(10, -0.1)
    with pytest.raises(ValueError, match="noise_scale"):
        objectives.LangevinML(10, 0.1, -1.0)
    with pytest.raises(ValueError, match="reinit"):
        objectives.LangevinML(reinit=1.5)
    with pytest.raises(ValueError, match="start"):
        objectives.LangevinML(start="data")
    with pytest.raises(ValueError, match="energy_penalty"):
        objectives.LangevinML(energy_penalty=-1.0)
    with pytest.raises(TypeError, match="prior"):
        objectives.LangevinML(prior=object())
    small = objectives.LangevinML(2, 0.01, start="buffer", buffer_size=10)
    with pytest.raises(ValueError, match="buffer_size"):
        small(MLPEnergy(2, (4,), generator=g(18)), torch.randn(20, 2))
    with pytest.raises(ValueError, match="start"):
        objectives.LangevinML(start="buffer").load_state_dict({"start": "noise", "update": 0})


def test_conv_energy_shapes_dtypes_and_a_finite_partition_function():
    model = ConvEnergy((8, 8), channels=(4, 8), hidden=16, envelope_std=1.0, generator=g(19))
    x = torch.rand(5, 64, generator=g(20))
    assert model.energy(x).shape == (5,) and model.energy(x.double()).dtype == torch.float64
    assert model.score(x).shape == (5, 64)
    # the envelope dominates far away: E grows like ||x||^2 / 2
    far = 100 * torch.ones(1, 64)
    assert model.energy(far).item() > 0.4 * (far * far).sum().item()
    big = ConvEnergy((28, 28), channels=(4, 8, 8, 8), hidden=16, generator=g(21))
    assert big.energy(torch.rand(2, 784, generator=g(22))).shape == (2,)
    with pytest.raises(ValueError, match="image_shape"):
        ConvEnergy((8,))
    with pytest.raises(ValueError, match="x must have 64 columns"):
        model.energy(torch.rand(5, 63))


def test_conv_energy_envelope_is_the_model_when_the_network_is_silent():
    mean = torch.rand(64, generator=g(27))
    model = ConvEnergy((8, 8), channels=(4, 8), hidden=16, envelope_std=0.5, envelope_mean=mean,
                       generator=g(28))
    for p in model.parameters():  # f_theta = 0: the model is N(m, s^2 I)
        torch.nn.init.zeros_(p)
    x = torch.randn(6, 64, generator=g(29)).double()
    env = model.envelope()
    log_z = 0.5 * 64 * math.log(2 * math.pi * 0.25)
    want = env.log_prob(x.float()).double() + log_z  # -E = log N + log Z
    assert torch.allclose(-model.energy(x), want, atol=1e-4)
    assert env.sample((3,)).shape == (3, 64)
    assert "envelope_mean" in model.state_dict()
    with pytest.raises(ValueError, match="envelope_mean"):
        ConvEnergy((8, 8), envelope_std=1.0, envelope_mean=torch.zeros(63))
    with pytest.raises(ValueError, match="no envelope"):
        ConvEnergy((8, 8)).envelope()


def test_spectral_norm_bounds_each_layer_and_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    model = MLPEnergy(3, (32, 32), spectral_norm=True, generator=g(23))
    conv = ConvEnergy((8, 8), channels=(4, 8), hidden=16, spectral_norm=True, generator=g(24))
    assert torch.equal(before, torch.random.get_rng_state())
    for _ in range(20):  # power iterations run in training mode
        model.energy(torch.randn(4, 3, generator=g(25)))
    for layer in model.net:
        if isinstance(layer, torch.nn.Linear):
            assert torch.linalg.matrix_norm(layer.weight, ord=2) < 1.01
    assert conv.energy(torch.rand(2, 64, generator=g(26))).shape == (2,)
    again = MLPEnergy(3, (32, 32), spectral_norm=True, generator=g(23))
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert a.shape == b.shape


def test_the_replay_buffer_keeps_the_last_of_repeated_slots():
    """A slot drawn twice in one batch keeps the later chain's state, whatever the device does
    with repeated indices in an indexed write. (Measured: even on the CPU, ``chains[slots] =
    negatives`` with 3,000 slots drawn from 4,000 did not keep the last of each repeat, so an
    implementation that writes directly differs from this one on large batches.)"""
    from ebmlib.objectives.langevin_ml import _write_back

    chains = torch.zeros(4, 2)
    slots = torch.tensor([2, 0, 2, 2, 1])
    negatives = torch.arange(10.0).reshape(5, 2)
    _write_back(chains, slots, negatives)
    torch.testing.assert_close(chains, torch.tensor([[2.0, 3.0], [8.0, 9.0], [6.0, 7.0], [0.0, 0.0]]))
    # many repeats on two threads, where a direct indexed write (chains[slots] = negatives)
    # keeps some other row for some slots (measured with torch 2.13 on the CPU)
    gen = torch.Generator().manual_seed(0)
    slots, negatives = torch.randint(4000, (3000,), generator=gen), torch.randn(3000, 64, generator=gen)
    expected = torch.zeros(4000, 64)
    for row, slot in enumerate(slots.tolist()):  # in order: the last row of a slot wins
        expected[slot] = negatives[row]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        chains = torch.zeros(4000, 64)
        _write_back(chains, slots, negatives)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(chains, expected)
