"""Random-walk Metropolis-Hastings, for binary and continuous models.

The proposal is symmetric, so a move from ``x`` to ``x'`` is accepted with probability
``min(1, exp(E(x) - E(x')))``: only an energy *difference* is needed, never ``Z``.

* binary models: flip one unit chosen uniformly at random in each chain;
* continuous models: add Gaussian noise of standard deviation ``step_size``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._random import uniform
from .._validation import check_positive_float
from ..models import EnergyModel
from ._step_size import acceptance_probability
from .base import Chain, Kernel, run_chain

__all__ = ["MetropolisHastings", "MHState", "MHInfo", "metropolis_hastings"]


class MHState(NamedTuple):
    """The chains ``x`` (``[chains, n]``) and their energies (``[chains]``), kept to save an evaluation."""

    x: torch.Tensor
    energy: torch.Tensor


class MHInfo(NamedTuple):
    """``accepted``: ``[chains]`` bool, whether each chain's proposal was accepted; ``accept_prob``:
    ``[chains]``, its probability ``min(1, exp(E(x) - E(x')))``."""

    accepted: torch.Tensor
    accept_prob: torch.Tensor | None = None


class MetropolisHastings(Kernel):
    """Random-walk Metropolis-Hastings: one proposal per chain per step.

    For a binary model one step flips at most one unit, so ``n`` steps cost about as much
    as one Gibbs sweep.

    Args:
        step_size: standard deviation of the Gaussian random walk (continuous models only).
    """

    def __init__(self, step_size: float = 0.5) -> None:
        self.params = {"step_size": check_positive_float(step_size, "step_size")}

    def init(self, model: EnergyModel, x: torch.Tensor) -> MHState:
        model.check_input(x)
        with torch.no_grad():
            return MHState(x, model.energy(x))

    def step(
        self, model: EnergyModel, state: MHState, *, generator: torch.Generator | None = None, **params
    ) -> tuple[MHState, MHInfo]:
        step_size = check_positive_float(self._settings(params)["step_size"], "step_size")
        x, energy = state
        chains, n = x.shape
        with torch.no_grad():
            if model.is_binary:
                unit = torch.randint(n, (chains,), device=x.device, generator=generator)
                proposal = x.clone()
                rows = torch.arange(chains, device=x.device)
                proposal[rows, unit] = 1.0 - proposal[rows, unit]
            else:
                noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
                proposal = x + step_size * noise
            proposal_energy = model.energy(proposal)
            u = uniform(chains, x.dtype, x.device, generator)
            log_ratio = energy - proposal_energy
            accepted = torch.log(u) < log_ratio
            new = MHState(torch.where(accepted[:, None], proposal, x), torch.where(accepted, proposal_energy, energy))
        return new, MHInfo(accepted, acceptance_probability(log_ratio))


def metropolis_hastings(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    step_size: float = 0.5,
    generator: torch.Generator | None = None,
    trace=None,
    progress: bool = False,
) -> Chain:
    """Run ``n_steps`` Metropolis-Hastings steps on every chain (:class:`MetropolisHastings`).

    Args:
        model: a binary or continuous model.
        x: ``[chains, n]`` start states.
        n_steps: number of steps.
        step_size: random-walk standard deviation (continuous models; ignored for binary).
        generator: random generator on ``x``'s device.
        trace: statistics to record (see :func:`run_chain`); ``("accepted",)`` gives the
            acceptances, whose mean over steps is each chain's acceptance rate.
        progress: show a progress bar.

    Returns:
        A :class:`Chain` (``.x``: the ``[chains, n]`` final states).
    """
    return run_chain(
        MetropolisHastings(step_size), model, x, n_steps, generator=generator, trace=trace, progress=progress
    )
