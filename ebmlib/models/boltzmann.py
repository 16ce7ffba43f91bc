"""The fully visible Boltzmann machine over binary vectors."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_positive_float, check_positive_int
from .base import EnergyModel

__all__ = ["BoltzmannMachine"]


class BoltzmannMachine(EnergyModel):
    r"""Fully visible Boltzmann machine: ``E(x) = -1/2 x^T W x - b^T x`` for ``x`` in {0,1}^n.

    Args:
        n_units: number of binary units ``n``.
        init_std: standard deviation of the (symmetric) initial couplings; biases start at 0.

    Attributes:
        weight: ``[n, n]`` parameter. The energy uses its symmetric part with the diagonal
            zeroed (:attr:`coupling`), so gradients keep it symmetric with a zero diagonal.
        bias: ``[n]`` parameter.
    """

    is_binary = True

    def __init__(self, n_units: int, init_std: float = 0.01) -> None:
        super().__init__()
        check_positive_int(n_units, "n_units")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_features = n_units
        w = torch.randn(n_units, n_units) * init_std
        self.weight = nn.Parameter(self._symmetrize(w))
        self.bias = nn.Parameter(torch.zeros(n_units))

    @property
    def n_units(self) -> int:
        return self.n_features

    @staticmethod
    def _symmetrize(w: torch.Tensor) -> torch.Tensor:
        w = 0.5 * (w + w.T)
        return w.fill_diagonal_(0.0)

    @property
    def coupling(self) -> torch.Tensor:
        """The couplings the energy uses, ``weight`` made symmetric with a zero diagonal (``[n, n]``)."""
        return self._symmetrize(self.weight)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)`` per row: ``[batch, n] -> [batch]``."""
        w = self._param(self.coupling, x)
        b = self._param(self.bias, x)
        return -0.5 * ((x @ w) * x).sum(-1) - x @ b

    def local_fields(self, x: torch.Tensor) -> torch.Tensor:
        """Log-odds of each unit given all the others: ``log p(x_i=1|x_-i)/p(x_i=0|x_-i)``.

        Shape ``[batch, n] -> [batch, n]``. Because the diagonal is zero, unit ``i``'s own
        value does not enter its field.
        """
        return torch.addmm(self._param(self.bias, x), x, self._param(self.coupling, x))

    def at_temperature(self, temperature: float) -> "BoltzmannMachine":
        """The same model at temperature ``T``: ``p_T(x) ∝ exp(-E(x)/T)``, as a new model."""
        t = check_positive_float(temperature, "temperature")
        other = BoltzmannMachine(self.n_features, init_std=0.0).to(self.bias)
        with torch.no_grad():
            other.weight.copy_(self.coupling / t)
            other.bias.copy_(self.bias / t)
        return other

    @classmethod
    def random(
        cls,
        n_units: int,
        weight_std: float = 1.0,
        bias_std: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> "BoltzmannMachine":
        """A model with Gaussian random couplings and biases (a known ground truth for tests)."""
        model = cls(n_units, init_std=0.0)
        with torch.no_grad():
            w = torch.randn(n_units, n_units, generator=generator) * weight_std
            model.weight.copy_(cls._symmetrize(w) * 2**0.5)  # off-diagonal std = weight_std
            model.bias.copy_(torch.randn(n_units, generator=generator) * bias_std)
        return model

    def extra_repr(self) -> str:
        return f"n_units={self.n_features}"
