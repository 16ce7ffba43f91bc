"""The Bernoulli-Bernoulli restricted Boltzmann machine."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import softplus

from .._validation import check_positive_float, check_positive_int
from ..utils import bernoulli_from_logits
from .base import EnergyModel

__all__ = ["RBM"]


class RBM(EnergyModel):
    r"""Binary RBM: ``E(v, h) = -v^T W h - b^T v - c^T h``.

    :meth:`energy` is the *free energy* of the visible units, with the hidden ones summed
    out: ``F(v) = -b^T v - sum_j softplus(c_j + (v W)_j)``, so ``p(v) ∝ exp(-F(v))``.

    Args:
        n_visible: number of visible units.
        n_hidden: number of hidden units.
        init_std: standard deviation of the initial weights; biases start at 0.

    Attributes:
        weight: ``[n_visible, n_hidden]``.
        visible_bias: ``[n_visible]`` (``b``).
        hidden_bias: ``[n_hidden]`` (``c``).
    """

    is_binary = True

    def __init__(self, n_visible: int, n_hidden: int, init_std: float = 0.01) -> None:
        super().__init__()
        check_positive_int(n_visible, "n_visible")
        check_positive_int(n_hidden, "n_hidden")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_features = n_visible
        self.n_hidden = n_hidden
        self.weight = nn.Parameter(torch.randn(n_visible, n_hidden) * init_std)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))

    @property
    def n_visible(self) -> int:
        return self.n_features

    # --- energies -------------------------------------------------------------------
    def energy(self, v: torch.Tensor) -> torch.Tensor:
        """Free energy ``F(v)``: ``[batch, n_visible] -> [batch]``."""
        return -(v @ self._param(self.visible_bias, v)) - softplus(self.hidden_logits(v)).sum(-1)

    def hidden_free_energy(self, h: torch.Tensor) -> torch.Tensor:
        """Free energy of the hidden layer, visible units summed out: ``[batch, n_hidden] -> [batch]``.

        ``p(h) ∝ exp(-F_h(h))`` with ``F_h(h) = -c^T h - sum_i softplus(b_i + (W h)_i)``.
        """
        return -(h @ self._param(self.hidden_bias, h)) - softplus(self.visible_logits(h)).sum(-1)

    def joint_energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(v, h)`` for paired rows: ``[batch, n_visible], [batch, n_hidden] -> [batch]``."""
        w = self._param(self.weight, v)
        return (
            -((v @ w) * h).sum(-1)
            - v @ self._param(self.visible_bias, v)
            - h @ self._param(self.hidden_bias, v)
        )

    # --- conditionals ---------------------------------------------------------------
    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """Log-odds of ``p(h_j = 1 | v)``: ``[batch, n_visible] -> [batch, n_hidden]``."""
        return torch.addmm(self._param(self.hidden_bias, v), v, self._param(self.weight, v))

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Log-odds of ``p(v_i = 1 | h)``: ``[batch, n_hidden] -> [batch, n_visible]``."""
        return torch.addmm(self._param(self.visible_bias, h), h, self._param(self.weight, h).T)

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``h ~ p(h | v)``, shape ``[batch, n_hidden]``."""
        return bernoulli_from_logits(self.hidden_logits(v), generator)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``v ~ p(v | h)``, shape ``[batch, n_visible]``."""
        return bernoulli_from_logits(self.visible_logits(h), generator)

    # --- constructors -----------------------------------------------------------------
    def at_temperature(self, temperature: float) -> "RBM":
        """The same model at temperature ``T`` (all energies divided by ``T``), as a new model."""
        t = check_positive_float(temperature, "temperature")
        other = RBM(self.n_visible, self.n_hidden, init_std=0.0).to(self.weight)
        with torch.no_grad():
            for mine, theirs in zip(self.parameters(), other.parameters()):
                theirs.copy_(mine / t)
        return other

    @classmethod
    def random(
        cls,
        n_visible: int,
        n_hidden: int,
        weight_std: float = 1.0,
        bias_std: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> "RBM":
        """An RBM with Gaussian random weights and biases (a known ground truth for tests)."""
        model = cls(n_visible, n_hidden, init_std=0.0)
        with torch.no_grad():
            model.weight.copy_(torch.randn(n_visible, n_hidden, generator=generator) * weight_std)
            model.visible_bias.copy_(torch.randn(n_visible, generator=generator) * bias_std)
            model.hidden_bias.copy_(torch.randn(n_hidden, generator=generator) * bias_std)
        return model

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"
