"""Continuous energy models on R^d: a Gaussian with closed-form Z and a flexible MLP energy."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_positive_float, check_positive_int
from .base import EnergyModel

__all__ = ["GaussianEnergy", "MLPEnergy", "DistributionEnergy"]


class GaussianEnergy(EnergyModel):
    r"""Gaussian energy ``E(x) = 1/2 (x - mu)^T Lambda (x - mu)`` with ``Lambda = L L^T``.

    Its partition function is known in closed form,
    ``log Z = d/2 log(2 pi) - 1/2 log det Lambda``, which makes it the ground truth for
    every continuous method in the book.

    Args:
        n_features: dimension ``d``.
        mean: initial mean ``[d]`` (default zeros).
        precision: initial precision matrix ``[d, d]``, symmetric positive definite
            (default identity).

    Attributes:
        mean: ``[d]`` parameter.
        precision_tril: ``[d, d]`` parameter; its lower triangle is ``L``.
    """

    def __init__(
        self,
        n_features: int,
        mean: torch.Tensor | None = None,
        precision: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_features, "n_features")
        self.n_features = n_features
        if mean is None:
            mean = torch.zeros(n_features)
        if precision is None:
            precision = torch.eye(n_features)
        if tuple(mean.shape) != (n_features,):
            raise ValueError(f"mean must have shape [{n_features}], got {tuple(mean.shape)}")
        if tuple(precision.shape) != (n_features, n_features):
            raise ValueError(
                f"precision must have shape [{n_features}, {n_features}], got {tuple(precision.shape)}"
            )
        factor, info = torch.linalg.cholesky_ex(precision.to(torch.float64))
        if not torch.allclose(precision, precision.T) or int(info) != 0:
            raise ValueError("precision must be a symmetric positive definite matrix")
        self.mean = nn.Parameter(mean.clone().float())
        self.precision_tril = nn.Parameter(factor.float())

    @property
    def precision(self) -> torch.Tensor:
        """``Lambda = L L^T``, shape ``[d, d]``."""
        factor = torch.tril(self.precision_tril)
        return factor @ factor.T

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)`` per row: ``[batch, d] -> [batch]``."""
        factor = torch.tril(self._param(self.precision_tril, x))
        z = (x - self._param(self.mean, x)) @ factor
        return 0.5 * (z * z).sum(-1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``-Lambda (x - mu)`` per row, in closed form."""
        return -(x - self._param(self.mean, x)) @ self._param(self.precision, x)

    def log_partition(self) -> torch.Tensor:
        """Closed-form ``log Z`` as a 0-d float64 tensor (differentiable)."""
        diag = torch.diagonal(self.precision_tril).to(torch.float64)
        return 0.5 * self.n_features * math.log(2 * math.pi) - torch.log(diag.abs()).sum()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized ``log p(x)`` per row, float64."""
        self.check_input(x)
        return -self.energy(x.to(torch.float64)) - self.log_partition()

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact samples ``[n_samples, d]``: ``x = mu + L^{-T} z`` with ``z ~ N(0, I)``."""
        check_positive_int(n_samples, "n_samples")
        factor = torch.tril(self.precision_tril.detach())
        z = torch.randn(n_samples, self.n_features, generator=generator, device=factor.device)
        x = torch.linalg.solve_triangular(factor.T, z.T, upper=True).T
        return x + self.mean.detach()

    def at_temperature(self, temperature: float) -> "GaussianEnergy":
        """The same model at temperature ``T`` (precision divided by ``T``), as a new model."""
        t = check_positive_float(temperature, "temperature")
        return GaussianEnergy(
            self.n_features, self.mean.detach().clone(), self.precision.detach() / t
        ).to(self.mean)


class MLPEnergy(EnergyModel):
    r"""A flexible energy on R^d: ``E(x) = f_theta(x) + ||x||^2 / (2 s^2)``.

    ``f_theta`` is a multilayer perceptron with smooth (SiLU) activations, so that the
    score and its derivatives exist everywhere (score matching needs them). The weak
    Gaussian envelope of width ``s`` keeps ``Z`` finite whatever the network learns.

    Args:
        n_features: dimension ``d``.
        hidden: widths of the hidden layers.
        envelope_std: ``s``; ``None`` removes the envelope (then ``Z`` may be infinite).
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (64, 64),
        envelope_std: float | None = 10.0,
    ) -> None:
        super().__init__()
        check_positive_int(n_features, "n_features")
        self.n_features = n_features
        if envelope_std is not None:
            check_positive_float(envelope_std, "envelope_std")
        self.envelope_std = envelope_std
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            check_positive_int(h, "hidden[i]")
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)`` per row: ``[batch, d] -> [batch]``."""
        e = self.net(x.to(self.net[0].weight.dtype)).squeeze(-1).to(x.dtype)
        if self.envelope_std is not None:
            e = e + 0.5 * (x * x).sum(-1) / self.envelope_std**2
        return e


class DistributionEnergy(EnergyModel):
    """Wrap a ``torch.distributions`` object as an energy model: ``E(x) = -log_prob(x)``.

    The result is normalized by construction (``log Z = 0``), so it serves as a target
    with a known partition function and known samples, for instance a multimodal mixture.

    Args:
        distribution: a distribution over vectors (``event_shape == (d,)``) with ``log_prob``.
    """

    def __init__(self, distribution: torch.distributions.Distribution) -> None:
        super().__init__()
        if not hasattr(distribution, "log_prob") or len(distribution.event_shape) != 1:
            raise TypeError("distribution must be a torch distribution over vectors (event_shape (d,))")
        self.distribution = distribution
        self.n_features = int(distribution.event_shape[0])

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``-log p(x)`` per row, ``[batch, d] -> [batch]``."""
        return -self.distribution.log_prob(x.float()).to(x.dtype)

    def log_partition(self) -> torch.Tensor:
        """Zero: the wrapped density is already normalized."""
        return torch.zeros((), dtype=torch.float64)

    def sample(self, n_samples: int) -> torch.Tensor:
        """Exact samples ``[n_samples, d]``, drawn from the global RNG (``torch.distributions`` takes no generator)."""
        check_positive_int(n_samples, "n_samples")
        return self.distribution.sample((n_samples,))
