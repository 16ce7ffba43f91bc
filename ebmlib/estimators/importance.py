"""Simple importance sampling: ``Z = E_q[p~(x) / q(x)]`` for a proposal ``q`` you can sample and score."""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from .result import Estimate, from_log_weights

__all__ = ["importance_sampling"]


def importance_sampling(model: EnergyModel, proposal, n_samples: int) -> Estimate:
    """Estimate ``log Z`` with draws from ``proposal``: ``log w = -E(x) - log q(x)``.

    Args:
        model: any model with ``energy``.
        proposal: an object with ``sample((n,))`` and ``log_prob(x)``, such as a
            ``torch.distributions`` distribution over ``[n_features]`` vectors.
        n_samples: number of draws (>= 2, for the standard error).

    The estimate of ``Z`` is unbiased; its variance explodes when ``q`` and ``p`` differ in
    high dimension, which the effective sample size (``ess``) shows.
    """
    if not (callable(getattr(proposal, "sample", None)) and callable(getattr(proposal, "log_prob", None))):
        raise TypeError("proposal must have sample() and log_prob(), like a torch.distributions object")
    check_positive_int(n_samples, "n_samples")
    if n_samples < 2:
        raise ValueError("n_samples must be >= 2 to give a standard error")
    with torch.no_grad():
        x = proposal.sample((n_samples,))
        log_w = -model.energy(x).double() - proposal.log_prob(x).double()
    return from_log_weights(log_w)
