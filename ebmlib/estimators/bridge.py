r"""Bridge sampling: a ratio of normalizers from samples of *both* distributions.

Importance sampling uses draws from one side only and fails when the target has mass
where the proposal has little. Bridge sampling (Bennett 1976; Meng and Wong 1996) uses
draws ``x0 ~ p0`` and ``x1 ~ p1`` and a bridge function ``a(x)``: for any ``a``,

    r = Z1 / Z0 = E_{p0}[f1(x) a(x)] / E_{p1}[f0(x) a(x)].

The bridge with the smallest asymptotic variance is ``a ∝ 1 / (s1 f1 + s0 r f0)``, with
``s_i = n_i / (n0 + n1)`` (Meng and Wong 1996): each ``s_i`` goes with the density its own
samples came from. It depends on ``r`` itself, so ``r`` solves the fixed point

    r = mean_{x0}[ f1 / (s1 f1 + s0 r f0) ] / mean_{x1}[ f0 / (s1 f1 + s0 r f0) ].

With no samples of ``p1`` (``s1 -> 0``) it is importance sampling from ``p0``,
``r = mean_{x0}[f1 / f0]``; with none of ``p0`` it is the reverse, ``1 / r = mean_{x1}[f0 / f1]``.
The fixed point is iterated here in log space from the importance-sampling value (Bennett's
acceptance ratio).
The estimator needs only the *overlap* of the two distributions, not that one covers the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._validation import check_positive_int
from ..utils import log_mean_exp
from .result import Estimate, effective_sample_size, relative_variance

__all__ = ["bridge_sampling"]


def bridge_sampling(
    log_f0: Callable[[torch.Tensor], torch.Tensor],
    log_f1: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    x1: torch.Tensor,
    *,
    log_z0: float | torch.Tensor = 0.0,
    n_iter: int = 100,
    tol: float = 1e-10,
) -> Estimate:
    """Estimate ``log Z1`` by Bennett's acceptance ratio with the iterated optimal bridge.

    Args:
        log_f0: unnormalized log density of ``p0`` (``[batch, n] -> [batch]``), ``Z0`` known.
        log_f1: unnormalized log density of ``p1``.
        x0: ``[n0, n]`` samples of ``p0``; ``x1``: ``[n1, n]`` samples of ``p1`` (each >= 2).
        log_z0: ``log Z0``.
        n_iter: most fixed-point iterations; stops earlier once ``log r`` moves less than ``tol``.

    Returns:
        An :class:`Estimate`; ``log_weights`` are the log bridge terms on the ``x0`` side,
        and ``stderr`` adds the relative variances of both sides' means.
    """
    check_positive_int(n_iter, "n_iter")
    if len(x0) < 2 or len(x1) < 2:
        raise ValueError("bridge_sampling needs at least two samples from each distribution")
    with torch.no_grad():
        l0 = (log_f1(x0) - log_f0(x0)).double()  # log f1/f0 on p0's samples
        l1 = (log_f1(x1) - log_f0(x1)).double()  # ... and on p1's samples
    n0, n1 = len(l0), len(l1)
    log_s0, log_s1 = math.log(n0 / (n0 + n1)), math.log(n1 / (n0 + n1))
    log_r = log_mean_exp(l0, 0)  # start from importance sampling with p0 as the proposal
    for _ in range(n_iter):
        top = l0 - torch.logaddexp(log_s1 + l0, log_s0 + log_r)  # f1 a on p0's samples (a / f0 cancels)
        bottom = -torch.logaddexp(log_s1 + l1, log_s0 + log_r)  # f0 a on p1's samples
        new = log_mean_exp(top, 0) - log_mean_exp(bottom, 0)
        done = abs(float(new - log_r)) < tol
        log_r = new
        if done:
            break
    stderr = math.sqrt(relative_variance(top) + relative_variance(bottom))
    log_z = log_r + torch.as_tensor(log_z0, dtype=torch.float64, device=log_r.device)
    return Estimate(log_z, top, effective_sample_size(top), stderr)
