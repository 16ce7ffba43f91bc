r"""Centered gradients for an RBM (Montavon and Mueller 2012; Melchior, Fischer and Wiskott 2016).

Write the energy with offsets :math:`\mu` (visible) and :math:`\lambda` (hidden),

.. math::

    E(v, h) = -(v - \mu)^\top W (h - \lambda) - b'^\top (v - \mu) - c'^\top (h - \lambda),

take the likelihood gradient step in :math:`(W, b', c')` and map it back: with
:math:`\langle \cdot \rangle` the data average minus the model average and
:math:`\hat h = \sigma(c + W^\top v)`,

.. math::

    \Delta W = \langle (v - \mu)(\hat h - \lambda)^\top \rangle, \quad
    \Delta b = \langle v \rangle - \Delta W \lambda, \quad
    \Delta c = \langle \hat h \rangle - \Delta W^\top \mu.

The model is the same; only the direction of the step changes, which conditions the problem far
better when units are mostly on or mostly off. The offsets follow running averages of the
data's visible means and hidden probabilities; :math:`\mu = \lambda = 0` gives the plain
gradient back. The offsets are state (:class:`~ebmlib.objectives.Offsets`, carried by
:class:`~ebmlib.objectives.PCDState`); :class:`~ebmlib.objectives.Centering` holds only the rate of their running
averages and computes with them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from .._validation import check_probability
from ..models import EnergyModel

__all__ = ["Centering", "Offsets"]


class Offsets(NamedTuple):
    r"""The centering offsets: ``visible`` :math:`\mu` ``[n_visible]`` and ``hidden`` :math:`\lambda`
    ``[n_hidden]``."""

    visible: torch.Tensor
    hidden: torch.Tensor


def _check_rbm(model: EnergyModel) -> Any:
    """``model``, checked to be an RBM (a model with ``hidden_logits``, ``weight`` and both biases)."""
    if not callable(getattr(model, "hidden_logits", None)):
        raise TypeError(f"centering needs an RBM (a model with hidden_logits), got {type(model).__name__}")
    return model


class Centering:
    """The centered gradient of an RBM, with offsets that follow running averages at ``rate``.

    Pass it as ``centering=`` to :func:`~ebmlib.objectives.pcd`,
    :func:`~ebmlib.objectives.fast_pcd`, :class:`~ebmlib.objectives.PersistentCD` and
    :class:`~ebmlib.objectives.FastPCD`, which keep the offsets in their state; or call its
    methods yourself.

    Args:
        rate: weight of the newest batch in the running averages of the offsets, in ``(0, 1]``.
    """

    def __init__(self, rate: float = 0.01) -> None:
        self.rate = check_probability(rate, "rate", open_low=True)

    def update(self, model: EnergyModel, x: torch.Tensor, offsets: Offsets | None = None) -> Offsets:
        """The offsets moved towards the means of batch ``x`` (``None``: the first batch sets them)."""
        rbm = _check_rbm(model)
        with torch.no_grad():
            mu, lam = x.mean(0), torch.sigmoid(rbm.hidden_logits(x)).mean(0)
            if offsets is None:
                return Offsets(mu.clone(), lam.clone())
            return Offsets(offsets.visible.lerp(mu, self.rate), offsets.hidden.lerp(lam, self.rate))

    @staticmethod
    def surrogate(model: EnergyModel, v: torch.Tensor, offsets: Offsets) -> torch.Tensor:
        """Per row, a function whose parameter gradient is minus the centered statistics of ``v``."""
        rbm = _check_rbm(model)
        mu, lam = offsets.visible.to(v), offsets.hidden.to(v)
        with torch.no_grad():
            a = v - mu
            e = torch.sigmoid(rbm.hidden_logits(v)) - lam
            alpha = v - a * (e @ lam)[:, None]
            gamma = torch.sigmoid(rbm.hidden_logits(v)) - e * (a @ mu)[:, None]
        w, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
        return -((a @ w.to(v)) * e).sum(1) - alpha @ b.to(v) - gamma @ c.to(v)

    def loss(self, model: EnergyModel, x: torch.Tensor, negatives: torch.Tensor, offsets: Offsets) -> torch.Tensor:
        """The centered counterpart of :func:`~ebmlib.objectives.contrastive_loss` at ``offsets``
        (its value means nothing; its gradient does)."""
        model.check_input(x)
        model.check_input(negatives, "negatives")
        negatives = negatives.detach()
        return self.surrogate(model, x, offsets).mean() - self.surrogate(model, negatives, offsets).mean()

    def __repr__(self) -> str:
        return f"Centering(rate={self.rate:g})"
