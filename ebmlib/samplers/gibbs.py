"""Gibbs sampling for binary models: each model's own sweep, as a kernel.

How a sweep runs is the model's business (:meth:`ebmlib.models.EnergyModel.gibbs_sweep`):

* :class:`~ebmlib.models.RBM`: block Gibbs, all hidden units given the visible ones, then all
  visible units given the hidden ones (two matrix products and two Bernoulli draws);
* :class:`~ebmlib.models.BoltzmannMachine`: a systematic scan, one unit at a time, compiled
  (``ebmlib.models._scan``);
* any other binary model: a systematic scan whose conditionals are read off energy differences;
* wrappers such as :class:`~ebmlib.models.LearnedNormalizer` use the sweep of the model they wrap.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._validation import mark_checked
from ..models import EnergyModel
from .base import Chain, Kernel, run_chain

__all__ = ["Gibbs", "GibbsState", "GibbsInfo", "gibbs"]


class GibbsState(NamedTuple):
    """The chains, ``x``: ``[chains, n]`` 0/1 states."""

    x: torch.Tensor


class GibbsInfo(NamedTuple):
    """A Gibbs sweep accepts every move: nothing to report."""


class Gibbs(Kernel):
    """One Gibbs sweep (a block step for an RBM) per step.

    Args:
        order: ``"forward"`` or ``"reverse"`` unit order of a systematic scan; the reverse scan
            is the forward one's time reversal (block Gibbs on an RBM is its own).
        backend: how a Boltzmann machine's scan runs: ``"auto"`` (numba on the CPU),
            ``"numba"`` or ``"torch"``; only Boltzmann machines take it.
    """

    def __init__(self, *, order: str = "forward", backend: str = "auto") -> None:
        if order not in ("forward", "reverse"):
            raise ValueError(f"order must be 'forward' or 'reverse', got {order!r}")
        if backend not in ("auto", "numba", "torch"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
        self.params = {"order": order, "backend": backend}

    def init(self, model: EnergyModel, x: torch.Tensor) -> GibbsState:
        if not getattr(model, "is_binary", False):
            raise TypeError(f"Gibbs sampling needs a binary model, got {type(model).__name__}")
        return GibbsState(model.check_input(x))

    def step(
        self, model: EnergyModel, state: GibbsState, *, generator: torch.Generator | None = None, **params
    ) -> tuple[GibbsState, GibbsInfo]:
        settings = self._settings(params)
        options = {"order": settings["order"]}
        if settings["backend"] != "auto":
            options["backend"] = settings["backend"]
        return GibbsState(mark_checked(model.gibbs_sweep(state.x, generator=generator, **options), True)), GibbsInfo()

    def reversed(self) -> Gibbs:
        flipped = "reverse" if self.params["order"] == "forward" else "forward"
        return Gibbs(order=flipped, backend=self.params["backend"])


def gibbs(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    trace=None,
    progress: bool = False,
    backend: str = "auto",
) -> Chain:
    """Run ``n_steps`` Gibbs sweeps on every chain: :func:`run_chain` with :class:`Gibbs`.

    Args:
        model: a binary model.
        x: ``[chains, n]`` float 0/1 start states, on the device the chains should run on.
        n_steps: number of sweeps (0 returns a copy of ``x``).
        generator: a ``torch.Generator`` on ``x``'s device, for reproducible draws.
        trace: statistics to record (see :func:`run_chain`).
        progress: show a progress bar.
        backend: how a Boltzmann machine's scan runs (see :class:`Gibbs`).

    Returns:
        A :class:`~ebmlib.samplers.Chain`; ``.x`` is a new ``[chains, n]`` tensor, same dtype and
        device as ``x``.
    """
    return run_chain(Gibbs(backend=backend), model, x, n_steps, generator=generator, trace=trace, progress=progress)
