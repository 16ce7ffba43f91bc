"""The result every estimator of ``log Z`` returns."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Estimate", "from_log_weights"]


@dataclass
class Estimate:
    """An estimate of ``log Z`` from importance weights.

    Attributes:
        log_z: the estimate, a 0-d float64 tensor: ``log mean(exp(log_weights)) + log_z_base``.
        log_weights: ``[n]`` float64, the per-chain (or per-sample) log importance weights.
        ess: effective sample size of the weights, ``(sum w)^2 / sum w^2``, between 1 and ``n``.
        stderr: delta-method standard error of ``log_z``, ``std(w) / (sqrt(n) mean(w))``.
    """

    log_z: torch.Tensor
    log_weights: torch.Tensor
    ess: float
    stderr: float

    def __float__(self) -> float:
        return float(self.log_z)

    def __repr__(self) -> str:
        n = len(self.log_weights)
        return f"Estimate(log_z={float(self.log_z):.4f} ± {self.stderr:.4f}, ess={self.ess:.1f} of {n})"


def from_log_weights(log_weights: torch.Tensor, offset: float | torch.Tensor = 0.0) -> Estimate:
    """Build an :class:`Estimate` from log weights (in log space throughout)."""
    lw = log_weights.detach().to(torch.float64).reshape(-1)
    n = lw.numel()
    if n < 2:
        raise ValueError(f"at least two weights are needed for a standard error, got {n}")
    if not bool(torch.isfinite(lw).all()):
        raise ValueError("log weights contain NaN or infinite values")
    log_mean = torch.logsumexp(lw, 0) - math.log(n)
    w = torch.exp(lw - lw.max())  # scaled weights in (0, 1]
    ess = float(w.sum() ** 2 / (w * w).sum())
    stderr = float(w.std() / (w.mean() * math.sqrt(n)))
    return Estimate(log_mean + torch.as_tensor(offset, dtype=torch.float64, device=lw.device), lw, ess, stderr)
