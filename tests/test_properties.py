"""Property-based tests (hypothesis): for sizes, batch shapes and floating dtypes drawn at random,
models, samplers and objectives keep the shape, dtype and device contract their docstrings state.

* a model's ``energy`` maps ``[batch, n]`` to ``[batch]`` in the model's dtype, on the input's
  device, and agrees row by row with the energy of each row alone (no mixing across the batch);
* a sampler returns states of the input's shape, dtype and device, and binary samplers keep
  states in {0, 1};
* an objective returns a finite 0-d loss in the model's dtype whose gradient reaches every
  parameter with the parameter's own shape and dtype.

Each property is checked on at most 25 examples (``settings`` below) with a fixed seed per
example, so a failure is reproducible: hypothesis prints the smallest failing example.
"""

from __future__ import annotations

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ebmlib import objectives, samplers  # noqa: E402
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, MLPEnergy  # noqa: E402

DTYPES = st.sampled_from([torch.float32, torch.float64])
FEW = settings(max_examples=25, deadline=None, derandomize=True)


def g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def binary_model(kind: str, n: int, n_hidden: int, dtype: torch.dtype, seed: int):
    if kind == "rbm":
        return RBM.random(n, n_hidden, weight_std=0.5, bias_std=0.5, generator=g(seed)).to(dtype)
    return BoltzmannMachine.random(n, weight_std=0.5, bias_std=0.5, generator=g(seed)).to(dtype)


def continuous_model(kind: str, d: int, dtype: torch.dtype, seed: int):
    if kind == "gaussian":
        a = torch.randn(d, d, generator=g(seed), dtype=torch.float64)
        return GaussianEnergy(d, torch.randn(d, generator=g(seed + 1)), a @ a.T + d * torch.eye(d), dtype=dtype)
    return MLPEnergy(d, (8,), generator=g(seed)).to(dtype)


BINARY = st.tuples(st.sampled_from(["rbm", "boltzmann"]), st.integers(1, 7), st.integers(1, 4), st.integers(1, 6),
                   DTYPES, st.integers(0, 2**16))
CONTINUOUS = st.tuples(st.sampled_from(["gaussian", "mlp"]), st.integers(1, 5), st.integers(1, 6), DTYPES,
                       st.integers(0, 2**16))


def binary_rows(batch: int, n: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    return (torch.rand(batch, n, generator=g(seed)) < 0.5).to(dtype)


# --- models ---------------------------------------------------------------------------------
@FEW
@given(BINARY)
def test_binary_energy_is_one_number_per_row_in_the_models_dtype(case):
    kind, n, n_hidden, batch, dtype, seed = case
    model = binary_model(kind, n, n_hidden, dtype, seed)
    x = binary_rows(batch, n, dtype, seed)
    energy = model.energy(x)
    assert energy.shape == (batch,) and energy.dtype == dtype and energy.device == x.device
    alone = torch.stack([model.energy(row[None])[0] for row in x])
    torch.testing.assert_close(energy, alone)


@FEW
@given(CONTINUOUS)
def test_continuous_energy_and_score_keep_shape_dtype_and_rows(case):
    kind, d, batch, dtype, seed = case
    model = continuous_model(kind, d, dtype, seed)
    x = torch.randn(batch, d, generator=g(seed), dtype=dtype)
    energy = model.energy(x)
    assert energy.shape == (batch,) and energy.dtype == dtype
    torch.testing.assert_close(energy, torch.stack([model.energy(row[None])[0] for row in x]))
    score = model.score(x)
    assert score.shape == x.shape and score.dtype == dtype


# --- samplers -------------------------------------------------------------------------------
@FEW
@given(BINARY, st.sampled_from(["gibbs", "metropolis"]), st.integers(1, 3))
def test_binary_samplers_keep_shape_dtype_and_stay_binary(case, sampler, n_steps):
    kind, n, n_hidden, batch, dtype, seed = case
    model = binary_model(kind, n, n_hidden, dtype, seed)
    x = binary_rows(batch, n, dtype, seed)
    run = samplers.gibbs if sampler == "gibbs" else samplers.metropolis_hastings
    out = run(model, x, n_steps, generator=g(seed)).x
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert ((out == 0) | (out == 1)).all()


@FEW
@given(CONTINUOUS, st.sampled_from(["ula", "mala", "hmc", "rwm"]), st.integers(1, 3))
def test_continuous_samplers_keep_shape_and_dtype(case, sampler, n_steps):
    kind, d, batch, dtype, seed = case
    model = continuous_model(kind, d, dtype, seed)
    x = torch.randn(batch, d, generator=g(seed), dtype=dtype)
    if sampler == "hmc":
        out = samplers.hmc(model, x, n_steps, step_size=0.1, n_leapfrog=2, generator=g(seed)).x
    elif sampler == "rwm":
        out = samplers.metropolis_hastings(model, x, n_steps, step_size=0.3, generator=g(seed)).x
    else:
        out = samplers.langevin(model, x, n_steps, step_size=0.01, adjusted=sampler == "mala", generator=g(seed)).x
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.isfinite(out).all()


@FEW
@given(BINARY, st.integers(2, 4))
def test_parallel_tempering_keeps_every_replicas_shape(case, n_temperatures):
    kind, n, n_hidden, batch, dtype, seed = case
    model = binary_model(kind, n, n_hidden, dtype, seed)
    replicas = torch.stack([binary_rows(batch, n, dtype, seed + t) for t in range(n_temperatures)])
    out = samplers.parallel_tempering(model, replicas, [1.5**t for t in range(n_temperatures)], 2, generator=g(seed))
    assert out.replicas.shape == replicas.shape and out.replicas.dtype == dtype
    assert out.samples.shape == (batch, n)
    assert out.swap_rates.shape == (n_temperatures - 1,) and ((out.swap_rates >= 0) & (out.swap_rates <= 1)).all()


# --- objectives -----------------------------------------------------------------------------
def _loss_reaches_every_parameter(model, loss, dtype, x=None):
    """The loss is a finite 0-d tensor in ``dtype`` with a gradient of each parameter's shape and
    dtype for every parameter; with ``x`` (the score-based objectives) only for the parameters the
    score depends on (an MLP's output bias shifts the energy by a constant: no score sees it)."""
    assert loss.shape == () and loss.dtype == dtype and torch.isfinite(loss)
    params = [p for p in model.parameters() if p.requires_grad]
    needed = [True] * len(params)
    if x is not None:
        x = x.detach().requires_grad_(True)
        energy_grad = torch.autograd.grad(model.energy(x).sum(), x, create_graph=True)[0]
        needed = [g is not None for g in torch.autograd.grad(energy_grad.sum(), params, allow_unused=True)]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    assert any(grad is not None for grad in grads)
    for p, grad, need in zip(params, grads, needed):
        if need:
            assert grad is not None, f"no gradient reaches a parameter of shape {tuple(p.shape)}"
        if grad is not None:
            assert grad.shape == p.shape and grad.dtype == p.dtype


@FEW
@given(BINARY, st.sampled_from(["cd", "pcd", "pseudolikelihood", "ratio_matching", "exact_nll"]))
def test_binary_objectives_return_a_scalar_whose_gradient_reaches_every_parameter(case, name):
    kind, n, n_hidden, batch, dtype, seed = case
    model = binary_model(kind, n, n_hidden, dtype, seed)
    x = binary_rows(batch, n, dtype, seed)
    if name == "cd":
        loss = objectives.cd(model, x, generator=g(seed))
    elif name == "pcd":
        loss, state = objectives.pcd(model, x, objectives.PCDState(binary_rows(3, n, dtype, seed + 1)),
                                     generator=g(seed))
        assert state.chains.shape == (3, n) and state.chains.dtype == dtype
    else:
        loss = getattr(objectives, name)(model, x)
    _loss_reaches_every_parameter(model, loss, dtype)


@FEW
@given(CONTINUOUS, st.sampled_from(["score_matching", "sliced_score_matching", "denoising_score_matching", "nce"]))
def test_continuous_objectives_return_a_scalar_whose_gradient_reaches_every_parameter(case, name):
    kind, d, batch, dtype, seed = case
    model = continuous_model(kind, d, dtype, seed)
    x = torch.randn(batch, d, generator=g(seed), dtype=dtype)
    if name == "sliced_score_matching":
        loss = objectives.sliced_score_matching(model, x, generator=g(seed))
    elif name == "denoising_score_matching":
        loss = objectives.denoising_score_matching(model, x, 0.1, generator=g(seed))
    elif name == "nce":
        noise = torch.distributions.Independent(
            torch.distributions.Normal(torch.zeros(d, dtype=dtype), torch.ones(d, dtype=dtype)), 1
        )
        loss = objectives.nce(model, x, noise, 2, generator=g(seed))
    else:
        loss = objectives.score_matching(model, x)
    _loss_reaches_every_parameter(model, loss, dtype, None if name == "nce" else x)
