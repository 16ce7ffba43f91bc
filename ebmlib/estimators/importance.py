r"""Simple importance sampling: :math:`Z = \mathbb{E}_q[\tilde p(x) / q(x)]` for a proposal :math:`q` you can
sample and score."""

from __future__ import annotations

from typing import Any, cast

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import draw
from .result import Estimate

__all__ = ["importance_sampling"]


def importance_sampling(
    model: EnergyModel, proposal: object, n_samples: int, *, generator: torch.Generator | None = None
) -> Estimate:
    r"""Estimate :math:`\log Z` with draws from ``proposal``: :math:`\log w = -E(x) - \log q(x)`.

    Args:
        model: any model with ``energy``.
        proposal: an object with ``sample`` and a normalized ``log_prob``: a ``torch.distributions``
            distribution over ``[n_features]`` vectors, a :class:`~ebmlib.models.GaussianEnergy`,
            a :class:`~ebmlib.models.CouplingFlow` ...
        n_samples: number of draws (>= 2, for the standard error).
        generator: random generator for the draws.

    The estimate of :math:`Z` is unbiased; its variance explodes when ``q`` and ``p`` differ in
    high dimension, which the effective sample size (``ess``) shows.
    """
    if not (callable(getattr(proposal, "sample", None)) and callable(getattr(proposal, "log_prob", None))):
        raise TypeError("proposal must have sample() and log_prob(), like a torch.distributions object")
    check_positive_int(n_samples, "n_samples")
    if n_samples < 2:
        raise ValueError("n_samples must be >= 2 to give a standard error")
    with torch.no_grad():
        x = draw(proposal, (n_samples,), generator=generator)
        log_w = -model.energy(x).double() - cast(Any, proposal).log_prob(x).double()
    return Estimate.from_log_weights(log_w)
