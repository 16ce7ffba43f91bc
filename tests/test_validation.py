"""Bad input gets a clear error that names the argument, never a silent NaN."""

import pytest
import torch

from ebmlib import data, exact, samplers, utils
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, MLPEnergy


@pytest.fixture
def bm():
    return BoltzmannMachine(4)


@pytest.mark.parametrize(
    "x, error, message",
    [
        (torch.zeros(3, 5), ValueError, r"x must have 4 columns"),
        (torch.zeros(4), ValueError, r"x must have shape \[batch, 4\]"),
        (torch.zeros(3, 4, dtype=torch.int64), TypeError, r"x must have a floating dtype"),
        ([[0.0, 1.0, 0.0, 1.0]], TypeError, r"x must be a torch.Tensor"),
        (torch.full((2, 4), float("nan")), ValueError, r"x contains NaN"),
        (torch.full((2, 4), 0.3), ValueError, r"x must be binary"),
    ],
)
def test_gibbs_rejects_bad_chains(bm, x, error, message):
    with pytest.raises(error, match=message):
        samplers.gibbs(bm, x, 1)


def test_metropolis_and_langevin_reject_bad_arguments(bm):
    with pytest.raises(ValueError, match="x contains NaN"):
        samplers.metropolis_hastings(GaussianEnergy(2), torch.tensor([[float("nan"), 0.0]]), 1)
    with pytest.raises(ValueError, match="step_size"):
        samplers.langevin(GaussianEnergy(2), torch.zeros(3, 2), 1, step_size=-0.1)
    with pytest.raises(TypeError, match="continuous model"):
        samplers.langevin(bm, torch.zeros(3, 4), 1)
    with pytest.raises(TypeError, match="binary model"):
        samplers.gibbs(MLPEnergy(4), torch.zeros(3, 4), 1)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        samplers.gibbs(bm, torch.zeros(3, 4), -1)
    with pytest.raises(TypeError, match="n_steps must be an int"):
        samplers.gibbs(bm, torch.zeros(3, 4), 2.5)
    with pytest.raises(ValueError, match="backend"):
        samplers.gibbs(bm, torch.zeros(3, 4), 1, backend="fortran")


def test_models_reject_bad_sizes():
    with pytest.raises(ValueError, match="n_units must be >= 1"):
        BoltzmannMachine(0)
    with pytest.raises(TypeError, match="n_hidden must be an int"):
        RBM(4, 2.0)
    with pytest.raises(ValueError, match="symmetric positive definite"):
        GaussianEnergy(2, precision=torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="temperature"):
        BoltzmannMachine(3).at_temperature(0.0)


def test_exact_rejects_continuous_and_oversized_models():
    with pytest.raises(TypeError, match="binary model"):
        exact.enumerated_layer(GaussianEnergy(2))
    with pytest.raises(ValueError, match="too large to enumerate"):
        exact.log_likelihood(BoltzmannMachine(40), torch.zeros(1, 40))
    with pytest.raises(ValueError, match="max_bits must be >= 1"):
        exact.log_partition(BoltzmannMachine(3), max_bits=0)


def test_utils_reject_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        utils.seed_everything(-1)
    with pytest.raises(ValueError, match="device"):
        utils.get_device("tpu")
    with pytest.raises(TypeError):
        utils.log_mean_exp(torch.arange(3))
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=1.5)


def test_generator_must_be_a_generator_on_the_data_device(bm):
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        samplers.gibbs(bm, torch.zeros(3, 4), 1, generator=0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator is on cpu but the tensors are on cuda"):
            samplers.gibbs(bm.cuda(), torch.zeros(3, 4, device="cuda"), 1, generator=torch.Generator())
    from ebmlib._validation import check_generator

    with pytest.raises(ValueError, match="generator is on cpu but the tensors are on cuda"):
        check_generator(torch.Generator(), torch.device("cuda"))
