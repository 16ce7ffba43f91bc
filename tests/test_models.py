"""Model energies against their definitions, and the shared interface."""

import math

import numpy as np
import pytest
import torch
from conftest import all_binary

from ebmlib import exact
from ebmlib.models import RBM, BoltzmannMachine, EnergyModel, GaussianEnergy, MLPEnergy


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
    assert exact.log_partition(hot) < exact.log_partition(model) + model.n_features * math.log(2)


def test_gaussian_score_and_temperature():
    model = GaussianEnergy(3, mean=torch.tensor([1.0, 0.0, -1.0]), precision=torch.diag(torch.tensor([1.0, 2.0, 4.0])))
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(6))
    assert torch.allclose(model.score(x), EnergyModel.score(model, x), atol=1e-5)
    hot = model.at_temperature(2.0)
    assert abs(hot.log_partition().item() - model.log_partition().item() - 1.5 * math.log(2.0)) < 1e-5


def test_gaussian_exact_sampler_has_the_right_covariance():
    prec = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    model = GaussianEnergy(2, precision=prec)
    x = model.sample(50_000, generator=torch.Generator().manual_seed(7)).double()
    np.testing.assert_allclose(torch.cov(x.T).numpy(), torch.linalg.inv(prec.double()).numpy(), atol=0.03)


def test_mlp_energy_shapes_and_envelope():
    model = MLPEnergy(2, hidden=(16, 16), envelope_std=3.0)
    x = torch.randn(11, 2)
    assert model.energy(x).shape == (11,) and model.score(x).shape == (11, 2)
    far = torch.tensor([[100.0, 100.0]])
    assert model.energy(far).item() > 500  # the envelope dominates far away: Z is finite
    log_z = exact.log_partition_grid(model, -25.0, 25.0, n_points=300)
    assert torch.isfinite(log_z)


def test_models_move_with_to():
    model = RBM(5, 3).double()
    assert model.energy(torch.zeros(2, 5, dtype=torch.float64)).dtype == torch.float64
