"""Langevin dynamics for continuous models, unadjusted (ULA) or Metropolis-adjusted (MALA).

A step moves each chain along the score and adds Gaussian noise,

    x' = x + eps * grad log p~(x) + sigma * xi,    xi ~ N(0, I),   sigma = sqrt(2 eps) by default.

Unadjusted, the chain's stationary distribution is only close to ``p`` (the bias shrinks
with ``eps``). Adjusted, each move is accepted with the Metropolis-Hastings probability for
this asymmetric proposal, which makes ``p`` exactly stationary. Neither needs ``Z``: the
score of ``p~`` equals the score of ``p``.

A noise scale other than ``sqrt(2 eps)`` changes what the unadjusted chain samples: for small
steps it is ``p^(1/T)`` with temperature ``T = sigma^2 / (2 eps)``, a *tempered* model, not the
model. Deep energy-based models are often trained that way (chapter 9).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._random import uniform
from .._validation import check_positive_float
from ..models import EnergyModel
from ._step_size import acceptance_probability, check_step_size
from .base import Chain, Kernel, run_chain

__all__ = ["Langevin", "LangevinState", "LangevinInfo", "langevin"]


class LangevinState(NamedTuple):
    """The chains ``x`` ``[chains, d]``, their energies ``[chains]`` and scores ``[chains, d]``.

    The unadjusted kernel needs no energy and defers the score to the step that uses it, so
    its states carry ``None`` in both: ``K`` steps cost ``K`` evaluations of the model, not
    ``K + 1``. MALA's states carry both (its acceptance ratio needs them).
    """

    x: torch.Tensor
    energy: torch.Tensor | None
    score: torch.Tensor | None


class LangevinInfo(NamedTuple):
    """``accepted``: ``[chains]`` bool (all True for the unadjusted kernel); ``accept_prob``:
    MALA's ``[chains]`` acceptance probabilities ``min(1, MH ratio)`` (``None`` for the unadjusted kernel)."""

    accepted: torch.Tensor
    accept_prob: torch.Tensor | None = None


def _all_accepted(x: torch.Tensor) -> torch.Tensor:
    """``[chains]`` of True: the unadjusted kernel accepts every move."""
    return torch.ones((), dtype=torch.bool, device=x.device).expand(x.shape[0])


def _drift(score: torch.Tensor, max_score: float | None) -> torch.Tensor:
    return score if max_score is None else score.clamp(-max_score, max_score)


class Langevin(Kernel):
    r"""One Langevin step per chain; every step evaluates the model once (energy and score together).

    Args:
        step_size: :math:`\epsilon`; a step may override it with a ``[chains]`` tensor, one per chain.
        adjusted: accept or reject with the Metropolis-Hastings ratio (MALA).
        noise_scale: :math:`\sigma`; ``None`` for :math:`\sqrt{2 \epsilon}`, the value for which the target is
            the model itself. Any other value targets a tempered model (see the module docstring).
        max_score: clip each coordinate of the score to ``[-max_score, max_score]`` before the
            move (a stabiliser used when training deep energy models, Du and Mordatch 2019);
            ``None`` for no clipping. MALA accounts for the clipped drift in its ratio.
    """

    def __init__(
        self,
        step_size: float = 0.01,
        *,
        adjusted: bool = False,
        noise_scale: float | None = None,
        max_score: float | None = None,
    ) -> None:
        self.params = {
            "step_size": check_positive_float(step_size, "step_size"),
            "adjusted": bool(adjusted),
            "noise_scale": None if noise_scale is None else check_positive_float(noise_scale, "noise_scale"),
            "max_score": None if max_score is None else check_positive_float(max_score, "max_score"),
        }

    def init(self, model: EnergyModel, x: torch.Tensor) -> LangevinState:
        if model.is_binary:
            raise TypeError(f"Langevin dynamics needs a continuous model, {type(model).__name__} is binary")
        model.check_input(x)
        if not self.params["adjusted"]:
            return LangevinState(x, None, None)  # the first step evaluates the score
        return LangevinState(x, *model.energy_and_score(x))

    def step(
        self, model: EnergyModel, state: LangevinState, *, generator: torch.Generator | None = None, **params
    ) -> tuple[LangevinState, LangevinInfo]:
        s = self._settings(params) if params else self.params
        if isinstance(s["step_size"], torch.Tensor):  # one step size per chain
            return self._step_per_chain(model, state, generator, s)
        eps = check_positive_float(s["step_size"], "step_size") if params else s["step_size"]
        sigma = math.sqrt(2 * eps) if s["noise_scale"] is None else s["noise_scale"]
        x, energy, score = state
        if score is None or (s["adjusted"] and energy is None):
            energy, score = model.energy_and_score(x)
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        proposal = torch.add(x, _drift(score, s["max_score"]), alpha=eps).add_(noise, alpha=sigma)
        if not s["adjusted"]:
            return LangevinState(proposal, None, None), LangevinInfo(_all_accepted(x))
        proposal_energy, proposal_score = model.energy_and_score(proposal)

        def log_q(to, frm, frm_score):  # log proposal density, up to a constant that cancels
            diff = to - frm - eps * _drift(frm_score, s["max_score"])
            return -(diff * diff).sum(-1) / (2 * sigma**2)

        assert energy is not None  # MALA's states carry their energy
        log_ratio = energy - proposal_energy + log_q(x, proposal, proposal_score) - log_q(proposal, x, score)
        return self._accept(state, proposal, proposal_energy, proposal_score, log_ratio, generator)

    def _accept(
        self,
        state: LangevinState,
        proposal: torch.Tensor,
        proposal_energy: torch.Tensor,
        proposal_score: torch.Tensor,
        log_ratio: torch.Tensor,
        generator: torch.Generator | None,
    ) -> tuple[LangevinState, LangevinInfo]:
        x, energy, score = state
        assert energy is not None and score is not None  # MALA's states carry both
        u = uniform(x.shape[0], x.dtype, x.device, generator)
        accepted = torch.log(u) < log_ratio
        keep = accepted[:, None]
        new = LangevinState(
            torch.where(keep, proposal, x),
            torch.where(accepted, proposal_energy, energy),
            torch.where(keep, proposal_score, score),
        )
        return new, LangevinInfo(accepted, acceptance_probability(log_ratio))

    def _step_per_chain(
        self, model: EnergyModel, state: LangevinState, generator: torch.Generator | None, s: dict
    ) -> tuple[LangevinState, LangevinInfo]:
        """The same step with a ``[chains]`` tensor of step sizes (per-chain adaptation makes them)."""
        x, energy, score = state
        eps = torch.as_tensor(check_step_size(s["step_size"], x.shape[0], x))  # [chains, 1]
        sigma = torch.sqrt(2 * eps) if s["noise_scale"] is None else torch.full_like(eps, s["noise_scale"])
        if score is None or (s["adjusted"] and energy is None):
            energy, score = model.energy_and_score(x)
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        proposal = x + eps * _drift(score, s["max_score"]) + sigma * noise
        if not s["adjusted"]:
            return LangevinState(proposal, None, None), LangevinInfo(_all_accepted(x))
        proposal_energy, proposal_score = model.energy_and_score(proposal)

        def log_q(to, frm, frm_score):
            diff = to - frm - eps * _drift(frm_score, s["max_score"])
            return -(diff * diff).sum(-1) / (2 * sigma[:, 0] ** 2)

        assert energy is not None
        log_ratio = energy - proposal_energy + log_q(x, proposal, proposal_score) - log_q(proposal, x, score)
        return self._accept(
            LangevinState(x, energy, score), proposal, proposal_energy, proposal_score, log_ratio, generator
        )


def langevin(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    step_size: float = 0.01,
    adjusted: bool = False,
    noise_scale: float | None = None,
    generator: torch.Generator | None = None,
    trace=None,
    progress: bool = False,
) -> Chain:
    r"""Run ``n_steps`` of (unadjusted or Metropolis-adjusted) Langevin dynamics (:class:`Langevin`).

    Args:
        model: a continuous model.
        x: ``[chains, d]`` start states.
        n_steps: number of steps.
        step_size: :math:`\epsilon` in the update above.
        adjusted: ``True`` for MALA (exact stationary distribution), ``False`` for ULA.
        noise_scale: :math:`\sigma` (default :math:`\sqrt{2 \epsilon}`).
        generator: random generator on ``x``'s device.
        trace: statistics to record (see :func:`run_chain`), e.g. ``("accepted",)``.
        progress: show a progress bar.

    Returns:
        A :class:`Chain` (``.x``: the ``[chains, d]`` final states).
    """
    kernel = Langevin(step_size, adjusted=adjusted, noise_scale=noise_scale)
    return run_chain(kernel, model, x, n_steps, generator=generator, trace=trace, progress=progress)
