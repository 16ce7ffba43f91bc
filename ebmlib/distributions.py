r"""Tractable distributions that the rest of ebmlib starts from.

:class:`IndependentBernoulli` is the product of independent binary units,

.. math::

    q(x) = \prod_i \sigma(l_i)^{x_i} (1 - \sigma(l_i))^{1 - x_i} = \exp(l^\top x - A(l)),
    \qquad A(l) = \sum_i \log(1 + e^{l_i}),

the base that annealed importance sampling starts binary models from (the model's own visible
biases, the data's base rate, or the uniform distribution), and the simplest model with a
partition function in closed form. It follows the ``torch.distributions`` interface
(``sample(sample_shape, *, generator)``, ``log_prob``), with a generator, as everything in
ebmlib that draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.functional import softplus

from ._random import bernoulli_
from .utils import _shape

__all__ = ["IndependentBernoulli"]


class IndependentBernoulli:
    r"""Independent binary units with log-odds ``logits``: :math:`q(x) = \exp(l^\top x - A(l))`.

    Not :class:`torch.distributions.Bernoulli` (one unit per entry, drawn from the global random
    state): this is a distribution over whole 0/1 vectors (``event_shape`` ``[n]``), drawn from
    a ``torch.Generator``, with its log-partition function :math:`A(l)` exposed.

    Args:
        logits: ``[n]`` log-odds :math:`l_i` of each unit being on (a float64 tensor is kept as
            it is).

    Attributes:
        logits: the ``[n]`` log-odds.
    """

    def __init__(self, logits: torch.Tensor) -> None:
        logits = logits if isinstance(logits, torch.Tensor) else torch.as_tensor(logits, device="cpu")
        if not logits.is_floating_point() or logits.dim() != 1 or not bool(torch.isfinite(logits).all()):
            raise ValueError("logits must be a finite 1-d floating tensor (one log-odds per unit)")
        self.logits = logits

    @property
    def event_shape(self) -> torch.Size:
        """One draw is a vector of ``n`` units, ``[n]``."""
        return torch.Size([len(self.logits)])

    @property
    def probs(self) -> torch.Tensor:
        r"""``[n]`` probabilities :math:`\sigma(l_i)` that each unit is on."""
        return torch.sigmoid(self.logits)

    @property
    def log_partition(self) -> torch.Tensor:
        r"""The log-partition function, a 0-d float64 tensor:

        .. math::

            A(l) = \log \sum_x e^{l^\top x} = \sum_i \log(1 + e^{l_i}).
        """
        return softplus(self.logits.double()).sum()

    def sample(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Float32 0/1 draws of shape ``sample_shape + [n]`` (``sample_shape`` may be an int).

        The probabilities are rounded to float32 before the draw, whatever the dtype of
        ``logits``; cast the draws with ``.to()``.
        """
        shape = _shape(sample_shape)
        probs = torch.sigmoid(self.logits).float().expand(*shape, len(self.logits)).contiguous()
        return bernoulli_(probs, generator=generator)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log q(x) = l^\top x - A(l)` of each row: ``[..., n] -> [...]``, float64."""
        return (x @ self.logits.to(x)).double() - self.log_partition

    def __repr__(self) -> str:
        return f"IndependentBernoulli(n={len(self.logits)})"
