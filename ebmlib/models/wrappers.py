"""Models made from other models: a tempered copy that shares the parameters."""

from __future__ import annotations

import torch

from .._validation import check_positive_float
from .base import EnergyModel

__all__ = ["Tempered"]


class Tempered(EnergyModel):
    """``model`` at temperature ``T``: :math:`E_T(x) = E(x) / T`, sharing ``model``'s parameters.

    This is what :meth:`EnergyModel.at_temperature` returns for models whose family is not
    closed under scaling (an MLP energy, a wrapped ``torch.distributions`` object).

    Args:
        model: any energy model.
        temperature: ``T > 0``.
    """

    def __init__(self, model: EnergyModel, temperature: float) -> None:
        super().__init__()
        if not isinstance(model, EnergyModel):
            raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
        self.model = model
        self.temperature = check_positive_float(temperature, "temperature")
        self.n_features = model.n_features
        self.is_binary = model.is_binary

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x) / T` per row: ``[batch, n] -> [batch]``."""
        return self.model.energy(x) / self.temperature

    def energy_and_score(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        energy, score = self.model.energy_and_score(x)
        return energy / self.temperature, score / self.temperature

    def flip_gaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.flip_gaps(x) / self.temperature

    def at_temperature(self, temperature: float) -> EnergyModel:
        return self.model.at_temperature(self.temperature * check_positive_float(temperature, "temperature"))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:g}"
