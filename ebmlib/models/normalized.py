"""A model with its normalizer as a parameter: ``log p(x) = -E(x) + c``.

Noise-contrastive estimation cannot learn ``theta`` alone: the classifier it trains
needs a *normalized* model density. :class:`LearnedNormalizer` supplies one by adding a
free scalar ``c`` that stands for ``-log Z(theta)``; NCE learns it with the other
parameters, and at NCE's optimum ``c = -log Z``.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import EnergyModel

__all__ = ["LearnedNormalizer"]


class LearnedNormalizer(EnergyModel):
    """Wrap ``model`` so that ``E'(x) = E(x) - c``, i.e. ``log p(x) = -E(x) + c``.

    The wrapped model is normalized exactly when ``c = -log Z(model)``;
    ``ebmlib.exact.log_partition`` of the wrapper is ``log Z(model) + c``.

    Args:
        model: any energy model (its parameters are trained together with ``c``).
        c: initial value of ``c``.

    Attributes:
        model: the wrapped model.
        c: 0-d parameter, the estimate of ``-log Z(model)``.
    """

    def __init__(self, model: EnergyModel, c: float = 0.0) -> None:
        super().__init__()
        if not isinstance(model, EnergyModel):
            raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
        self.model = model
        self.n_features = model.n_features
        self.is_binary = model.is_binary
        self.c = nn.Parameter(torch.tensor(float(c)))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x) - c`` per row: ``[batch, n] -> [batch]``."""
        return self.model.energy(x) - self._param(self.c, x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The density the model claims, ``-E(x) + c``, per row (normalized only if ``c`` is right)."""
        self.check_input(x)
        return -self.energy(x)
