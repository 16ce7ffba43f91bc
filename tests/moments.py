"""Exact moments of the continuous test targets, and asserts with tolerances from the Monte Carlo error.

Shared by test_hmc.py and test_adaptation.py (not a test module itself).
"""

from __future__ import annotations

import math

import torch

from ebmlib.data import gaussian_mixture
from ebmlib.models import EnergyModel, GaussianEnergy


def assert_moments(draws: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, sigmas: float = 5.0) -> None:
    """Mean and covariance of ``draws`` (``[n, d]``, independent rows) within ``sigmas`` standard errors.

    The standard errors come from the draws themselves: ``sd(x_i) / sqrt(n)`` for the mean and
    ``sd((x_i - m_i)(x_j - m_j)) / sqrt(n)`` for a covariance entry, so the check holds for any
    target with finite fourth moments (Gaussians and mixtures alike).
    """
    d = draws.double()
    n = d.shape[0]
    emp_mean = d.mean(0)
    tol_mean = sigmas * d.std(0) / math.sqrt(n)
    assert bool(((emp_mean - mean).abs() <= tol_mean).all()), f"mean {emp_mean} vs exact {mean} (tol {tol_mean})"
    c = d - emp_mean
    products = c[:, :, None] * c[:, None, :]  # [n, d, d]
    emp_cov = products.mean(0)
    tol_cov = sigmas * products.std(0) / math.sqrt(n)
    worst = ((emp_cov - cov).abs() / tol_cov).max().item()
    assert worst <= 1.0, f"covariance {emp_cov} vs exact {cov}: {worst:.2f}x the tolerance"


def gaussian(cov: torch.Tensor, mean: torch.Tensor | None = None) -> GaussianEnergy:
    """The Gaussian energy with covariance ``cov`` (float64)."""
    d = cov.shape[0]
    mean = torch.zeros(d, dtype=torch.float64) if mean is None else mean
    return GaussianEnergy(d, mean=mean, precision=torch.linalg.inv(cov)).double()


def ill_conditioned_cov(seed: int = 0) -> torch.Tensor:
    """A 3-D covariance with variances 1, 0.1, 0.01 along rotated axes: condition number 100."""
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    return q @ torch.diag(torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64)) @ q.T


def mixture_moments(mixture: torch.distributions.MixtureSameFamily) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact mean and covariance of a mixture of diagonal Gaussians, from its components.

    ``mean = sum_k w_k mu_k``; ``cov = sum_k w_k (diag(s_k^2) + mu_k mu_k^T) - mean mean^T``.
    """
    w = mixture.mixture_distribution.probs.double()
    mu = mixture.component_distribution.base_dist.loc.double()
    sd = mixture.component_distribution.base_dist.scale.double()
    mean = w @ mu
    second = (w[:, None, None] * (torch.diag_embed(sd**2) + mu[:, :, None] * mu[:, None, :])).sum(0)
    return mean, second - torch.outer(mean, mean)


def ring_mixture():
    """The book's 2-D mixture (8 components on a circle of radius 4, std 0.5)."""
    return gaussian_mixture()


class TwoWells(EnergyModel):
    """The 1-D mixture ``w N(-m, s^2) + (1 - w) N(m, s^2)`` as a cheap energy (closed-form score).

    ``E(x) = -log(w N(x; -m, s^2) + (1 - w) N(x; m, s^2))``, normalized (``log Z = 0``). The
    barrier between the modes is about ``m^2 / (2 s^2)`` nats: 12.5 for the defaults.
    """

    def __init__(self, left: float = 0.3, m: float = 2.5, s: float = 0.5) -> None:
        super().__init__()
        self.n_features = 1
        self.left, self.m, self.s = left, m, s

    def _parts(self, x):
        centres = torch.tensor([-self.m, self.m], dtype=x.dtype, device=x.device)
        logw = torch.tensor([math.log(self.left), math.log(1 - self.left)], dtype=x.dtype, device=x.device)
        diff = x - centres  # [batch, 2]
        logs = logw - diff**2 / (2 * self.s**2) - math.log(self.s * math.sqrt(2 * math.pi))
        return diff, logs

    def energy(self, x):
        return -torch.logsumexp(self._parts(x)[1], 1)

    def energy_and_score(self, x):
        diff, logs = self._parts(x)
        resp = torch.softmax(logs, 1)
        return -torch.logsumexp(logs, 1), -(resp * diff).sum(1, keepdim=True) / self.s**2
