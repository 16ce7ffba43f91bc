"""Random-walk Metropolis-Hastings, for binary and continuous models.

The proposal is symmetric, so a move from ``x`` to ``x'`` is accepted with probability
``min(1, exp(E(x) - E(x')))``: only an energy *difference* is needed, never ``Z``.

* binary models: flip one unit chosen uniformly at random in each chain;
* continuous models: add Gaussian noise of standard deviation ``step_size``.
"""

from __future__ import annotations

import torch

from .._validation import check_generator, check_positive_float
from ..models import EnergyModel
from ._chain import run_chain

__all__ = ["metropolis_hastings", "mh_step"]


def mh_step(
    model: EnergyModel,
    x: torch.Tensor,
    energy: torch.Tensor,
    step_size: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Metropolis-Hastings step for every chain.

    Args:
        model: the model.
        x: ``[chains, n]`` current state.
        energy: ``[chains]`` energies of ``x`` (carried between steps to save an evaluation).
        step_size: standard deviation of the random walk (continuous models only).
        generator: random generator on ``x``'s device.

    Returns:
        ``(x, energy, accepted)`` after the step; ``accepted`` is a ``[chains]`` bool tensor.
    """
    chains, n = x.shape
    if model.is_binary:
        unit = torch.randint(n, (chains,), device=x.device, generator=generator)
        proposal = x.clone()
        rows = torch.arange(chains, device=x.device)
        proposal[rows, unit] = 1.0 - proposal[rows, unit]
    else:
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        proposal = x + step_size * noise
    proposal_energy = model.energy(proposal)
    u = torch.rand(chains, dtype=x.dtype, device=x.device, generator=generator)
    accepted = torch.log(u) < energy - proposal_energy
    x = torch.where(accepted[:, None], proposal, x)
    energy = torch.where(accepted, proposal_energy, energy)
    return x, energy, accepted


def metropolis_hastings(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    step_size: float = 0.5,
    generator: torch.Generator | None = None,
    progress: bool = False,
    return_acceptance: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run ``n_steps`` Metropolis-Hastings steps on every chain.

    For a binary model one step flips at most one unit, so ``n`` steps cost about as
    much as one Gibbs sweep.

    Args:
        model: a binary or continuous model.
        x: ``[chains, n]`` start states.
        n_steps: number of steps.
        step_size: random-walk standard deviation (continuous models; ignored for binary).
        generator: random generator on ``x``'s device.
        progress: show a progress bar.
        return_acceptance: also return each chain's acceptance rate.

    Returns:
        The ``[chains, n]`` final state, and with ``return_acceptance`` a ``[chains]``
        float64 tensor of acceptance rates.
    """
    model.check_input(x)
    check_positive_float(step_size, "step_size")
    check_generator(generator, x.device)
    with torch.no_grad():
        start = (x.clone(), model.energy(x))

    def kernel(state):
        x, e, acc = mh_step(model, *state, step_size=step_size, generator=generator)
        return (x, e), acc

    (x, _), rate = run_chain(kernel, start, n_steps, progress=progress, desc="Metropolis-Hastings")
    if return_acceptance:
        return x, rate if rate is not None else torch.zeros(x.shape[0], dtype=torch.float64)
    return x
