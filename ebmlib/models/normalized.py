r"""A model with its normalizer as a parameter: :math:`\log p(x) = -E(x) + c`.

Noise-contrastive estimation cannot learn :math:`\theta` alone: the classifier it trains
needs a *normalized* model density. :class:`LearnedNormalizer` supplies one by adding a
free scalar ``c`` that stands for :math:`-\log Z(\theta)`; NCE learns it with the other
parameters, and at NCE's optimum :math:`c = -\log Z`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils import _device_of, _dtype_of
from .base import EnergyModel, Enumeration

__all__ = ["LearnedNormalizer"]


class LearnedNormalizer(EnergyModel):
    r"""Wrap ``model`` so that :math:`E'(x) = E(x) - c`, i.e. :math:`\log p(x) = -E(x) + c`.

    The wrapper is normalized exactly when :math:`c = -\log Z_\text{model}`. A constant changes no
    conditional, score or energy difference, so the wrapper keeps every capability of the
    wrapped model: :mod:`ebmlib.exact` enumerates it as it enumerates ``model`` (an RBM over
    its smaller layer), and ``exact.log_partition`` of the wrapper is :math:`\log Z_\text{model} + c`
    wherever :math:`\log Z_\text{model}` is available exactly (by enumeration or in closed form). Gibbs
    sweeps and flip gaps are those of ``model``; its annealing path is ``model``'s, shifted by ``c``
    (:func:`ebmlib.estimators.annealing_path`).

    Args:
        model: any energy model (its parameters are trained together with ``c``).
        c: initial value of ``c``.

    Attributes:
        model: the wrapped model.
        c: 0-d parameter, the estimate of :math:`-\log Z_\text{model}`.
    """

    def __init__(self, model: EnergyModel, c: float = 0.0) -> None:
        super().__init__()
        if not isinstance(model, EnergyModel):
            raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
        self.model = model
        self.n_features = model.n_features
        self.is_binary = model.is_binary
        self.c = nn.Parameter(torch.tensor(float(c), device=_device_of(model), dtype=_dtype_of(model)))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x) - c` per row: ``[batch, n] -> [batch]``."""
        return self.model.energy(x) - self._param(self.c, x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The density the model claims, :math:`-E(x) + c`, per row (normalized only if ``c`` is right)."""
        self.check_input(x)
        return -self.energy(x)

    def energy_and_score(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        energy, score = self.model.energy_and_score(x)
        return energy - self.c.detach().to(energy.dtype), score

    # --- capabilities: those of the wrapped model, shifted by c where a level matters ----
    def enumeration(self) -> Enumeration | None:
        inner = self.model.enumeration()
        return None if inner is None else inner.shifted(lambda s: self._param(self.c, s))

    def closed_form_log_partition(self) -> torch.Tensor | None:
        inner = self.model.closed_form_log_partition()
        return None if inner is None else inner + self.c.to(torch.float64)

    def gibbs_sweep(self, x: torch.Tensor, *, generator: torch.Generator | None = None, **options) -> torch.Tensor:
        return self.model.gibbs_sweep(x, generator=generator, **options)

    def flip_gaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.flip_gaps(x)
