"""Offline data sets and helpers."""

import math

import pytest
import torch

from ebmlib import data, exact, utils


def test_digits_are_binary_and_split_by_their_generator():
    train, test = data.digits(generator=torch.Generator().manual_seed(0))
    assert train.shape[1] == 64 and len(train) + len(test) == 1797
    assert set(train.unique().tolist()) == {0.0, 1.0} and train.dtype == torch.float32
    again, _ = data.digits(generator=torch.Generator().manual_seed(0))
    other, _ = data.digits(generator=torch.Generator().manual_seed(1))
    assert torch.equal(train, again) and not torch.equal(train, other)


def test_mnist5k_is_offline_binary_and_split():
    train, test = data.mnist5k()
    assert train.shape == (4000, 784) and test.shape == (1000, 784)
    assert set(test.unique().tolist()) == {0.0, 1.0}
    assert 0.05 < train.mean().item() < 0.3  # MNIST is mostly background


@pytest.mark.parametrize("loader, levels, width", [(data.digits_grey, 17, 64), (data.mnist5k_grey, 256, 784)])
def test_grey_images_are_dequantized_levels(loader, levels, width):
    train, test = loader(generator=torch.Generator().manual_seed(0))
    assert train.shape[1] == width == test.shape[1] and train.dtype == torch.float32
    assert 0 <= train.min().item() and train.max().item() < 1
    # floor(levels * x) recovers the integer grey level, and the jitter is uniform within a level
    level = torch.floor(levels * train)
    jitter = levels * train - level
    assert level.max().item() == levels - 1
    assert abs(jitter.mean().item() - 0.5) < 0.01 and abs(jitter.var().item() - 1 / 12) < 0.01
    again, _ = loader(generator=torch.Generator().manual_seed(0))
    assert torch.equal(train, again)


def test_bars_and_stripes_lists_every_image():
    images = data.bars_and_stripes(3)
    assert images.shape == (2 ** 4 - 2, 9)
    grids = images.reshape(-1, 3, 3)
    for g in grids:
        rows_whole = bool(((g.sum(1) == 0) | (g.sum(1) == 3)).all())
        cols_whole = bool(((g.sum(0) == 0) | (g.sum(0) == 3)).all())
        assert rows_whole or cols_whole


def test_gaussian_mixture_density_integrates_to_one():
    mixture = data.gaussian_mixture(n_components=6, radius=3.0, std=0.4)
    axis = torch.linspace(-6, 6, 601, dtype=torch.float64)
    xx, yy = torch.meshgrid(axis, axis, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1).float()
    mass = mixture.log_prob(pts).double().exp().sum() * (12 / 600) ** 2
    assert abs(mass.item() - 1.0) < 1e-3


def test_boltzmann_dataset_is_exact_sampling_from_its_model():
    model, x = data.boltzmann_dataset(6, 30_000, generator=torch.Generator().manual_seed(1))
    m = exact.marginals(model)
    tol = 5 * torch.sqrt(m * (1 - m) / 30_000)
    assert bool(((x.double().mean(0) - m).abs() <= tol).all())


def test_log_mean_exp_is_stable():
    x = torch.tensor([1000.0, 1000.0 + math.log(3.0)], dtype=torch.float64)
    assert abs(utils.log_mean_exp(x).item() - (1000.0 + math.log(2.0))) < 1e-12


def test_seed_everything_repeats_draws():
    utils.seed_everything(3)
    a = torch.rand(4)
    utils.seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_make_generator_gives_named_independent_streams():
    a, b = utils.make_generator(0, "pcd"), utils.make_generator(0, "pcd")
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))
    c, d = utils.make_generator(0, "cd"), utils.make_generator(1, "pcd")
    first = torch.rand(5, generator=utils.make_generator(0, "pcd"))
    assert not torch.equal(first, torch.rand(5, generator=c)) and not torch.equal(first, torch.rand(5, generator=d))


def test_draw_gives_torch_distributions_a_generator_and_leaves_the_global_state():
    normal = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    state = torch.get_rng_state()
    a = utils.draw(normal, (4,), generator=torch.Generator().manual_seed(5))
    b = utils.draw(normal, 4, generator=torch.Generator().manual_seed(5))
    assert a.shape == (4, 3) and torch.equal(a, b)
    assert not torch.equal(a, utils.draw(normal, 4, generator=torch.Generator().manual_seed(6)))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_draws_have_their_probabilities_and_no_pair_correlation(dtype):
    """The compiled generator draws two float32 uniforms from one 64-bit number: each
    column's frequency and the correlation of neighbouring entries are checked."""
    logits = torch.tensor([-2.0, 0.0, 3.0, 0.5], dtype=dtype).repeat(50_001, 1)
    draws = utils.bernoulli_from_logits(logits, generator=torch.Generator().manual_seed(0)).double()
    assert draws.dtype == torch.float64 and set(draws.unique().tolist()) <= {0.0, 1.0}
    p = torch.sigmoid(logits[0].double())
    assert bool(((draws.mean(0) - p).abs() <= 5 * torch.sqrt(p * (1 - p) / len(draws))).all())
    for i, j in [(0, 1), (2, 3), (1, 2)]:  # the first two pairs share a 64-bit draw
        cov = ((draws[:, i] - p[i]) * (draws[:, j] - p[j])).mean().item()
        assert abs(cov) < 5 * math.sqrt(p[i] * (1 - p[i]) * p[j] * (1 - p[j]) / len(draws))
    again = utils.bernoulli_from_logits(logits, generator=torch.Generator().manual_seed(0)).double()
    assert torch.equal(draws, again)


def test_progress_range_counts_with_and_without_a_bar(capsys):
    """With or without a bar the loop sees range(n); the bar goes to stderr, never stdout.

    (The warning that tqdm.auto gives in a notebook without ipywidgets shows only in a kernel;
    tests/infra/test_executed_book.py catches it in the executed chapters.)"""
    import warnings

    from ebmlib.utils import progress_range

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(progress_range(4, True, desc="x")) == [0, 1, 2, 3]
    assert list(progress_range(3, False)) == [0, 1, 2]
    assert capsys.readouterr().out == ""
