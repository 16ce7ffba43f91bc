"""Langevin dynamics for continuous models, unadjusted (ULA) or Metropolis-adjusted (MALA).

A step moves each chain along the score and adds Gaussian noise,

    x' = x + eps * grad log p~(x) + sqrt(2 eps) * xi,    xi ~ N(0, I).

Unadjusted, the chain's stationary distribution is only close to ``p`` (the bias
shrinks with ``eps``). Adjusted, each move is accepted with the Metropolis-Hastings
probability for this asymmetric proposal, which makes ``p`` exactly stationary.
Neither needs ``Z``: the score of ``p~`` equals the score of ``p``.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_generator, check_positive_float
from ..models import EnergyModel
from ._chain import run_chain

__all__ = ["langevin", "langevin_step"]


def _log_proposal(to: torch.Tensor, frm: torch.Tensor, score_frm: torch.Tensor, eps: float) -> torch.Tensor:
    """``log q(to | frm)`` up to a constant that cancels in the acceptance ratio."""
    diff = to - frm - eps * score_frm
    return -(diff * diff).sum(-1) / (4 * eps)


def langevin_step(
    model: EnergyModel,
    x: torch.Tensor,
    energy: torch.Tensor,
    score: torch.Tensor,
    step_size: float,
    adjusted: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One Langevin step for every chain.

    Args:
        model: a continuous model.
        x: ``[chains, d]`` current state, with its ``energy`` ``[chains]`` and ``score``
            ``[chains, d]`` (carried between steps so that each step evaluates them once).
        step_size: ``eps``.
        adjusted: accept or reject with the Metropolis-Hastings ratio (MALA).
        generator: random generator on ``x``'s device.

    Returns:
        ``(x, energy, score, accepted)``; ``accepted`` is ``None`` when not adjusted.
    """
    noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    proposal = x + step_size * score + math.sqrt(2 * step_size) * noise
    proposal_score = model.score(proposal)
    if not adjusted:
        return proposal, energy, proposal_score, None
    proposal_energy = model.energy(proposal)
    log_ratio = (
        energy - proposal_energy
        + _log_proposal(x, proposal, proposal_score, step_size)
        - _log_proposal(proposal, x, score, step_size)
    )
    u = torch.rand(x.shape[0], dtype=x.dtype, device=x.device, generator=generator)
    accepted = torch.log(u) < log_ratio
    keep = accepted[:, None]
    return (
        torch.where(keep, proposal, x),
        torch.where(accepted, proposal_energy, energy),
        torch.where(keep, proposal_score, score),
        accepted,
    )


def langevin(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    step_size: float = 0.01,
    adjusted: bool = False,
    generator: torch.Generator | None = None,
    progress: bool = False,
    return_acceptance: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run ``n_steps`` of (unadjusted or Metropolis-adjusted) Langevin dynamics.

    Args:
        model: a continuous model.
        x: ``[chains, d]`` start states.
        n_steps: number of steps.
        step_size: ``eps`` in the update above.
        adjusted: ``True`` for MALA (exact stationary distribution), ``False`` for ULA.
        generator: random generator on ``x``'s device.
        progress: show a progress bar.
        return_acceptance: also return each chain's acceptance rate (all ones for ULA).

    Returns:
        The ``[chains, d]`` final state, and with ``return_acceptance`` a ``[chains]``
        float64 tensor of acceptance rates.
    """
    if model.is_binary:
        raise TypeError(f"langevin needs a continuous model, {type(model).__name__} is binary")
    model.check_input(x)
    check_positive_float(step_size, "step_size")
    check_generator(generator, x.device)
    x = x.detach().clone()
    energy = model.energy(x).detach() if adjusted else torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    start = (x, energy, model.score(x))

    def kernel(state):
        *new, acc = langevin_step(model, *state, step_size, adjusted, generator)
        return tuple(new), acc

    (x, _, _), rate = run_chain(kernel, start, n_steps, progress=progress, desc="Langevin")
    if return_acceptance:
        return x, rate if rate is not None else torch.ones(x.shape[0], dtype=torch.float64)
    return x
