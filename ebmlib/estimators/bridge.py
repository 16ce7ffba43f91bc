r"""Bridge sampling: a ratio of normalizers from samples of *both* distributions.

Importance sampling uses draws from one side only and fails when the target has mass
where the proposal has little. Bridge sampling (Bennett 1976; Meng and Wong 1996) uses
draws :math:`x_0 \sim p_0` and :math:`x_1 \sim p_1` and a bridge function :math:`a(x)`: for any
:math:`a`,

.. math::

    r = \frac{Z_1}{Z_0} = \frac{\mathbb{E}_{p_0}[f_1(x)\, a(x)]}{\mathbb{E}_{p_1}[f_0(x)\, a(x)]}.

The bridge with the smallest asymptotic variance is
:math:`a \propto 1 / (s_1 f_1 + s_0 r f_0)`, with :math:`s_i = n_i / (n_0 + n_1)` (Meng and Wong
1996): each :math:`s_i` goes with the density its own samples came from. It depends on
:math:`r` itself, so :math:`r` solves the fixed point

.. math::

    r = \frac{\operatorname{mean}_{x_0}\left[f_1 / (s_1 f_1 + s_0 r f_0)\right]}
             {\operatorname{mean}_{x_1}\left[f_0 / (s_1 f_1 + s_0 r f_0)\right]}.

With no samples of :math:`p_1` (:math:`s_1 \to 0`) it is importance sampling from :math:`p_0`,
:math:`r = \operatorname{mean}_{x_0}[f_1 / f_0]`; with none of :math:`p_0` it is the reverse,
:math:`1 / r = \operatorname{mean}_{x_1}[f_0 / f_1]`. The fixed point is iterated here in log
space from the importance-sampling value (Bennett's acceptance ratio). The estimator needs only
the *overlap* of the two distributions, not that one covers the other.
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
    r"""Estimate :math:`\log Z_1` by Bennett's acceptance ratio with the iterated optimal bridge.

    Args:
        log_f0: unnormalized log density of ``p0`` (``[batch, n] -> [batch]``), ``Z0`` known.
        log_f1: unnormalized log density of ``p1``.
        x0: ``[n0, n]`` samples of ``p0``; ``x1``: ``[n1, n]`` samples of ``p1`` (each >= 2).
        log_z0: :math:`\log Z_0`.
        n_iter: most fixed-point iterations; stops earlier once :math:`\log r` moves less than ``tol``.

    Returns:
        An :class:`Estimate`; ``log_weights`` are the log bridge terms on the ``x0`` side
        only (so, unlike the other estimators, ``log_z`` is *not* their log-mean-exp plus
        ``log_z0``, and ``ess`` is that side's alone), and ``stderr`` adds the relative
        variances of both sides' means, which assumes independent draws on each side: with
        correlated (MCMC) samples it is too small.
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
