r"""The result every estimator of :math:`\log Z` returns, and the statistics of importance weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..utils import log_mean_exp

__all__ = ["Estimate", "effective_sample_size", "relative_variance"]


def effective_sample_size(log_weights: torch.Tensor) -> float:
    r""":math:`(\sum w)^2 / \sum w^2` from log weights, between 1 and their number."""
    w = torch.exp(log_weights - log_weights.max())
    return float(w.sum() ** 2 / (w * w).sum())


def relative_variance(log_weights: torch.Tensor) -> float:
    r"""The squared delta-method standard error of :math:`\log \operatorname{mean}(w)`:

    .. math::

        \operatorname{Var}(w) / (n \operatorname{mean}(w)^2).
    """
    w = torch.exp(log_weights - log_weights.max())
    return float(w.var() / (len(w) * w.mean() ** 2))


@dataclass
class Estimate:
    r"""An estimate of :math:`\log Z` from importance weights.

    Attributes:
        log_z: the estimate, a 0-d float64 tensor,

            .. math::

                \log \operatorname{mean}(e^{\text{log\_weights}}) + \log Z_\text{base}.

        log_weights: ``[n]`` float64, the per-chain (or per-sample) log importance weights.
        ess: effective sample size of the weights, :math:`(\sum w)^2 / \sum w^2`, between 1 and ``n``.
        stderr: delta-method standard error of ``log_z``,

            .. math::

                \operatorname{std}(w) / (\sqrt{n} \operatorname{mean}(w)).
    """

    log_z: torch.Tensor
    log_weights: torch.Tensor
    ess: float
    stderr: float

    @classmethod
    def from_log_weights(cls, log_weights: torch.Tensor, log_z_base: float | torch.Tensor = 0.0) -> Estimate:
        r"""The estimate, with its ESS and standard error:

        .. math::

            \log \operatorname{mean}(e^{\text{log\_weights}}) + \text{log\_z\_base}.

        Every estimator here ends with this call; it is public so that an estimator of your own
        returns the same type.
        """
        lw = log_weights.detach().to(torch.float64).reshape(-1)
        if lw.numel() < 2:
            raise ValueError(f"at least two weights are needed for a standard error, got {lw.numel()}")
        if not bool(torch.isfinite(lw).all()):
            raise ValueError("log weights contain NaN or infinite values")
        offset = torch.as_tensor(log_z_base, dtype=torch.float64, device=lw.device)
        return cls(log_mean_exp(lw, 0) + offset, lw, effective_sample_size(lw), math.sqrt(relative_variance(lw)))

    def __float__(self) -> float:
        return float(self.log_z)

    def __repr__(self) -> str:
        n = len(self.log_weights)
        return f"Estimate(log_z={float(self.log_z):.4f} ± {self.stderr:.4f}, ess={self.ess:.1f} of {n})"
