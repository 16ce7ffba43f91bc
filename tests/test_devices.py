"""Device propagation without a GPU: public functions run on CPU models and inputs while the
*default* device is ``meta``. A tensor the library creates without naming a device lands on the
meta device and cannot meet the CPU tensors: on a GPU the same omission would put it on the CPU.
Each case was chosen because it creates tensors of its own (grids, rates, weights, start states)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ebmlib import diagnostics, estimators, exact, plotting, samplers
from ebmlib.models import RBM, DistributionEnergy, GaussianEnergy, MLPEnergy


def g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def cpu_models():
    rbm = RBM.random(6, 3, generator=g(0))
    gauss = GaussianEnergy(2, torch.zeros(2), torch.eye(2))
    mlp = MLPEnergy(2, (8,), generator=g(1))
    normal = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(2), torch.ones(2)), 1)
    inputs = {"replicas": torch.zeros(3, 4, 6), "x": torch.zeros(4, 2), "draws": torch.randn(20, 4, 2, generator=g(9))}
    return rbm, gauss, mlp, normal, inputs


CASES = {
    "parallel tempering, no steps": lambda m: (
        samplers.parallel_tempering(m[0], m[4]["replicas"], [1.0, 2.0, 4.0], 0, generator=g(2)).swap_rates
    ),
    "parallel tempering, two steps": lambda m: (
        samplers.parallel_tempering(m[0], m[4]["replicas"], [1.0, 2.0, 4.0], 2, generator=g(3)).swap_rates
    ),
    "density_2d": lambda m: plotting.density_2d(lambda x: -m[1].energy(x), n_grid=8) and m[4]["x"],
    "distribution log Z": lambda m: DistributionEnergy(m[3]).closed_form_log_partition(),
    "exact log Z": lambda m: exact.log_partition(m[0]),
    "AIS, RBM": lambda m: estimators.ais(m[0], 4, 5, generator=g(4)).log_z,
    "AIS, tuned MALA": lambda m: (
        estimators.ais(
            m[2],
            4,
            5,
            base=m[3],
            kernel=samplers.Langevin(0.1, adjusted=True),
            generator=g(5),
            step_sizes=estimators.tune_ais_steps(
                m[2],
                samplers.Langevin(0.1, adjusted=True),
                4,
                target_accept=0.5,
                base=m[3],
                n_steps=2,
                n_check=2,
                generator=g(6),
            ),
        ).log_z
    ),
    "reverse AIS": lambda m: estimators.reverse_ais(m[1], m[4]["x"], 5, base=m[3], generator=g(7)).log_z,
    "HMC adaptation": lambda m: (
        samplers.adapt_step_size(samplers.HMC(0.1, 3), m[2], m[4]["x"], 3, target_accept=0.8, generator=g(8)).state.x
    ),
    "summary": lambda m: diagnostics.summarize(m[4]["draws"], truth=0.0).z,
}


@pytest.mark.parametrize("name", list(CASES))
def test_cpu_work_stays_on_the_cpu_when_the_default_device_is_elsewhere(name):
    models = cpu_models()
    with torch.device("meta"):
        out = CASES[name](models)
    assert out.device.type == "cpu"
