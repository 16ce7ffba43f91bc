"""Model energies against their definitions, and the shared interface."""

import math

import numpy as np
import pytest
import torch
from conftest import all_binary

from ebmlib import exact
from ebmlib.models import (
    RBM, BoltzmannMachine, CouplingFlow, DistributionEnergy, EnergyModel, GaussianEnergy, LearnedNormalizer, MLPEnergy,
    NeuralLM, Tempered,
)


def test_bm_energy_matches_definition_and_keeps_symmetry():
    model = BoltzmannMachine.random(5, generator=torch.Generator().manual_seed(0))
    w = model.coupling.detach()
    assert torch.allclose(w, w.T) and bool((torch.diagonal(w) == 0).all())
    x = torch.tensor(all_binary(5), dtype=torch.float32)
    expected = torch.stack([-0.5 * r @ w @ r - r @ model.bias.detach() for r in x])
    assert torch.allclose(model.energy(x), expected, atol=1e-5)
    # A gradient step on the raw weight keeps the effective coupling symmetric, zero-diagonal.
    model.energy(x).sum().backward()
    g = model.weight.grad
    assert torch.allclose(g, g.T) and bool((torch.diagonal(g) == 0).all())


def test_bm_local_fields_are_conditional_log_odds():
    model = BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(1))
    x = (torch.rand(20, 6, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    fields = model.local_fields(x)
    for i in range(6):
        on, off = x.clone(), x.clone()
        on[:, i], off[:, i] = 1.0, 0.0
        assert torch.allclose(fields[:, i], model.energy(off) - model.energy(on), atol=1e-5)


def test_rbm_free_energy_sums_out_the_hidden_units():
    model = RBM.random(4, 3, generator=torch.Generator().manual_seed(3))
    v = torch.tensor(all_binary(4), dtype=torch.float32)
    h = torch.tensor(all_binary(3), dtype=torch.float32)
    joint = torch.stack([model.joint_energy(v, hj.expand(16, 3)) for hj in h], 1)  # [16, 8]
    assert torch.allclose(model.energy(v), -torch.logsumexp(-joint, 1), atol=1e-5)
    joint_h = torch.stack([model.joint_energy(vi.expand(8, 4), h) for vi in v], 0)  # [16, 8]
    assert torch.allclose(model.hidden_free_energy(h), -torch.logsumexp(-joint_h, 0), atol=1e-5)


@pytest.mark.parametrize(
    "model",
    [
        BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(4)),
        RBM.random(5, 3, generator=torch.Generator().manual_seed(5)),
    ],
    ids=["bm", "rbm"],
)
def test_at_temperature_divides_the_energy(model):
    hot = model.at_temperature(2.5)
    x = torch.tensor(all_binary(model.n_features), dtype=torch.float32)
    if isinstance(model, RBM):  # the free energy is not linear in T, the joint energy is
        h = (torch.rand(len(x), 3, generator=torch.Generator().manual_seed(0)) < 0.5).float()
        assert torch.allclose(hot.joint_energy(x, h), model.joint_energy(x, h) / 2.5, atol=1e-5)
    else:
        assert torch.allclose(hot.energy(x), model.energy(x) / 2.5, atol=1e-5)
    # the hot model is flatter: its distribution has higher entropy
    entropy = [-(p * p.log()).sum().item() for p in (exact.distribution(m)[1] for m in (model, hot))]
    assert entropy[1] > entropy[0] + 0.1


def test_generic_tempering_divides_any_energy_and_its_score():
    model = MLPEnergy(2, hidden=(8,), generator=torch.Generator().manual_seed(6))
    hot = model.at_temperature(3.0)
    assert isinstance(hot, Tempered)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(hot.energy(x), model.energy(x) / 3.0)
    torch.testing.assert_close(hot.score(x), model.score(x) / 3.0)
    torch.testing.assert_close(hot.at_temperature(2.0).energy(x), model.energy(x) / 6.0)


def test_gaussian_score_and_temperature():
    model = GaussianEnergy(3, mean=torch.tensor([1.0, 0.0, -1.0]), precision=torch.diag(torch.tensor([1.0, 2.0, 4.0])))
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(6))
    assert torch.allclose(model.score(x), EnergyModel.energy_and_score(model, x)[1], atol=1e-5)
    hot = model.at_temperature(2.0)
    log_z = exact.log_partition(model).item()
    assert abs(exact.log_partition(hot).item() - log_z - 1.5 * math.log(2.0)) < 1e-5


def test_gaussian_exact_sampler_has_the_right_covariance_and_any_sample_shape():
    prec = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    model = GaussianEnergy(2, precision=prec)
    x = model.sample(50_000, generator=torch.Generator().manual_seed(7)).double()
    np.testing.assert_allclose(torch.cov(x.T).numpy(), torch.linalg.inv(prec.double()).numpy(), atol=0.03)
    assert model.sample((4, 3), generator=torch.Generator()).shape == (4, 3, 2)
    assert model.sample(generator=torch.Generator()).shape == (2,)


def test_gaussian_gradient_is_contiguous_so_a_plain_lbfgs_runs():
    x = GaussianEnergy(3, precision=torch.tensor([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])).sample(
        2000, generator=torch.Generator().manual_seed(8))
    model = GaussianEnergy(3)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = -(-model.energy(x) - exact.log_partition(model)).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert model.precision_tril.grad.is_contiguous()
    torch.testing.assert_close(model.precision.detach(), torch.linalg.inv(torch.cov(x.T, correction=0)),
                               rtol=1e-3, atol=1e-3)


def test_mlp_energy_envelope_makes_z_finite_and_the_grid_sees_it():
    model = MLPEnergy(2, hidden=(16, 16), envelope_std=3.0, generator=torch.Generator().manual_seed(9))
    x = torch.randn(11, 2, generator=torch.Generator().manual_seed(10))
    assert model.energy(x).shape == (11,) and model.score(x).shape == (11, 2)
    # far away the envelope ||x||^2 / (2 s^2) dominates whatever the network adds
    far = torch.tensor([[100.0, 100.0], [-300.0, 50.0]])
    net_only = MLPEnergy(2, hidden=(16, 16), envelope_std=None, generator=torch.Generator().manual_seed(9))
    envelope = 0.5 * (far * far).sum(1) / 9.0
    torch.testing.assert_close(model.energy(far), net_only.energy(far) + envelope)
    # the grid converges and a larger box adds no mass: log Z is finite and captured
    log_z = [exact.log_partition_grid(model, -h, h, n_points=k).item() for h, k in [(15.0, 300), (25.0, 500)]]
    assert abs(log_z[0] - log_z[1]) < 1e-3


def test_models_move_with_to_and_compute_in_the_input_dtype():
    for model in [RBM(5, 3, generator=torch.Generator()), BoltzmannMachine(5, generator=torch.Generator()),
                  MLPEnergy(5, hidden=(4,), generator=torch.Generator()), GaussianEnergy(5)]:
        x = (torch.rand(2, 5, generator=torch.Generator().manual_seed(0)) < 0.5).to(torch.float64)
        e64 = model.energy(x)
        assert e64.dtype == torch.float64
        # a float64 input is evaluated in float64 even for float32 parameters: equal to the model in double
        torch.testing.assert_close(e64, model.double().energy(x), rtol=1e-12, atol=1e-12)
        moved = model.to(torch.float64)
        assert all(p.dtype == torch.float64 for p in moved.parameters())


def test_distribution_energy_scores_float64_in_float64():
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.tensor([0.3, 0.7])),
        torch.distributions.Independent(torch.distributions.Normal(torch.tensor([[0.0], [1.0]]),
                                                                   torch.tensor([[1e-3], [1.0]])), 1))
    model = DistributionEnergy(mixture)
    x = torch.tensor([[1e-4 + 1e-9], [1e-4]], dtype=torch.float64)
    e = model.energy(x)
    assert e.dtype == torch.float64 and (e[0] - e[1]).abs().item() > 0  # float32 would round both to the same


def test_energy_refuses_a_wrong_width_naming_x():
    for model in [RBM(5, 3), BoltzmannMachine(5), MLPEnergy(5), GaussianEnergy(5), LearnedNormalizer(RBM(5, 2))]:
        with pytest.raises(ValueError, match=r"x must have 5 columns \(shape \[batch, 5\]\)"):
            model.energy(torch.zeros(3, 4))
        with pytest.raises(ValueError, match=r"x must have shape \[batch, 5\]"):
            model.unnormalized_log_prob(torch.zeros(5))
    with pytest.raises(ValueError, match=r"x must have 5 columns"):
        MLPEnergy(5).score(torch.zeros(3, 4))


def test_user_defined_model_gets_the_width_check_and_generic_capabilities():
    class Quadratic(EnergyModel):
        is_binary = True

        def __init__(self):
            super().__init__()
            self.n_features = 3
            self.a = torch.nn.Parameter(torch.tensor(0.7))

        def energy(self, x):
            return self.a * (x.sum(1) - 1.5) ** 2

    model = Quadratic()
    with pytest.raises(ValueError, match="x must have 3 columns"):
        model.energy(torch.zeros(2, 2))
    states = exact.binary_states(3)
    gaps = model.flip_gaps(states)
    for i in range(3):
        flipped = states.clone()
        flipped[:, i] = 1 - flipped[:, i]
        torch.testing.assert_close(gaps[:, i], model.energy(states) - model.energy(flipped))


@pytest.mark.parametrize("make", [
    lambda g: RBM(6, 3, generator=g),
    lambda g: BoltzmannMachine(6, init_std=0.5, generator=g),
    lambda g: MLPEnergy(2, generator=g),
    lambda g: CouplingFlow(2, generator=g),
    lambda g: NeuralLM(50, 2, 8, 8, generator=g),
], ids=["rbm", "bm", "mlp", "flow", "lm"])
def test_constructors_draw_from_their_generator_only(make):
    state = torch.get_rng_state()
    a, b = make(torch.Generator().manual_seed(3)), make(torch.Generator().manual_seed(3))
    c = make(torch.Generator().manual_seed(4))
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    pa, pb, pc = (torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_rbm_flip_gaps_closed_form_matches_energies():
    model = RBM.random(7, 4, generator=torch.Generator().manual_seed(11)).double()
    x = exact.binary_states(7)[::3]
    gaps = model.flip_gaps(x)
    torch.testing.assert_close(gaps, EnergyModel.flip_gaps(model, x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make", [
    lambda g, **kw: RBM(6, 3, generator=g, **kw),
    lambda g, **kw: BoltzmannMachine(6, init_std=0.5, generator=g, **kw),
    lambda g, **kw: MLPEnergy(2, generator=g, **kw),
    lambda g, **kw: GaussianEnergy(3, torch.ones(3), 2 * torch.eye(3), **kw),
    lambda g, **kw: CouplingFlow(2, generator=g, **kw),
    lambda g, **kw: NeuralLM(50, 2, 8, 8, generator=g, **kw),
], ids=["rbm", "bm", "mlp", "gaussian", "flow", "lm"])
def test_constructors_build_on_a_device_in_a_dtype(make):
    """device= and dtype= put every parameter there (the meta device stands in for a GPU: a
    parameter made on the CPU and left there would show)."""
    on_meta = make(torch.Generator().manual_seed(3), device="meta")
    assert all(p.device.type == "meta" for p in on_meta.parameters())
    double = make(torch.Generator().manual_seed(3), dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in double.parameters())


@pytest.mark.parametrize("make", [
    lambda g, **kw: CouplingFlow(2, generator=g, **kw),
    lambda g, **kw: NeuralLM(50, 2, 8, 8, generator=g, **kw),
], ids=["flow", "lm"])
def test_networks_drawn_on_the_cpu_are_the_same_on_every_device(make):
    """The flow and the language model are drawn on the CPU and then moved: one generator gives
    the same parameters whatever device and dtype they are built for."""
    double = make(torch.Generator().manual_seed(3), dtype=torch.float64)
    moved = make(torch.Generator().manual_seed(3)).to(torch.float64)
    for p, q in zip(double.parameters(), moved.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_flow_evaluates_float64_input_in_float64():
    """A float32 flow's log q of float64 rows is computed in float64 (it used to round the rows
    to float32 first): equal to the same flow moved to float64, to float64 rounding."""
    flow = CouplingFlow(3, n_layers=2, hidden=8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(6)))
    x = 1 + 1e-9 * torch.arange(12, dtype=torch.float64).reshape(4, 3)  # rows float32 cannot tell apart
    got = flow.log_prob(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, flow.double().log_prob(x), rtol=1e-12, atol=1e-12)
    assert len(set(got.tolist())) == 4
