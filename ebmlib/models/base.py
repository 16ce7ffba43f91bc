"""The interface every ebmlib model shares.

A model defines an unnormalized density ``p~(x) = exp(-E(x))`` over rows of ``x``:

* ``energy(x)`` returns ``E(x)``, one value per row (shape ``[batch]``);
* ``unnormalized_log_prob(x)`` returns ``-E(x)``;
* ``score(x)`` returns ``grad_x log p~(x) = -grad_x E(x)`` (continuous models);
* ``n_features`` is the width of a row and ``is_binary`` says whether rows are 0/1.

A subclass sets ``n_features`` (and ``is_binary`` for 0/1 data) and implements ``energy``.
``energy`` must accept float64 rows even when the parameters are float32: read each
parameter through ``self._param(p, x)``, which casts it to ``x``'s dtype, so that
:mod:`ebmlib.exact` can evaluate the model in double precision.

The partition function ``Z = sum_x p~(x)`` (or the integral) is *not* part of the
interface: that is the whole point of the book. Where it is tractable it lives in
:mod:`ebmlib.exact` (enumeration) or in a model's own ``log_partition`` (closed form).
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_batch

__all__ = ["EnergyModel"]


class EnergyModel(nn.Module):
    """Base class: an energy function over rows of ``x`` of width ``n_features``."""

    n_features: int
    is_binary: bool = False

    def energy(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Energy ``E(x)`` of each row: ``[batch, n_features] -> [batch]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`energy`."""
        return self.energy(x)

    def unnormalized_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p~(x) = -E(x)``, shape ``[batch]``."""
        return -self.energy(x)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``grad_x log p~(x)``, shape ``[batch, n_features]``, by autograd.

        Gradients flow only to ``x``: the model's parameters are left untouched, so
        this is safe to call inside a sampler while training.
        """
        if self.is_binary:
            raise TypeError(f"{type(self).__name__} is a binary model: it has no score")
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x).sum(), x)
        return -grad

    def check_input(self, x: object, name: str = "x") -> torch.Tensor:
        """Validate a batch for this model (shape, dtype, finiteness, binarity)."""
        return check_batch(x, name, self.n_features, binary=self.is_binary)

    def _param(self, p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A parameter cast to the dtype of ``like``; autograd still flows through it.

        This is what lets :mod:`ebmlib.exact` evaluate a float32 model in float64.
        """
        return p if p.dtype == like.dtype else p.to(like.dtype)
