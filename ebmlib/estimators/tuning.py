r"""Step sizes for AIS's transitions, chosen on a pilot run and then held fixed.

AIS on a continuous model moves its chains with MALA or HMC at every intermediate
distribution :math:`p_\beta`, and the step that suits :math:`p_\beta` changes along the path:
from a broad base to a sharp model the narrowest direction shrinks, and one step size is
either too large at the end (the moves are rejected and the chains stop mixing) or too small
at the start. :func:`~ebmlib.estimators.tune_ais_steps` runs a *pilot*: its own chains walk a grid of
:math:`\beta` values, and at each one dual averaging (:func:`~ebmlib.samplers.adapt_step_size`)
tunes the step to a target acceptance rate; the step held fixed is then run for a few more
steps to measure the acceptance it gives. The result, a :class:`~ebmlib.estimators.StepSchedule`, maps any
:math:`\beta` to a step size (interpolated in :math:`\log \epsilon`), and :func:`~ebmlib.estimators.ais`
uses it with ``step_sizes=``.

Why a pilot and not the estimating run itself: AIS's weights are unbiased because each
transition is a fixed kernel, chosen before the run, that leaves its :math:`p_\beta`
invariant. A step size tuned on the states of the same run depends on them, and the argument
no longer holds. Tuned on separate chains and held fixed, every transition of the estimating
run is an ordinary MALA or HMC kernel with a step size that does not depend on its states.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from .._validation import check_generator, check_kernel, check_positive_int, check_probability
from ..models import EnergyModel
from ..samplers import Kernel, adapt_step_size, run_chain
from ..utils import progress_range
from .bases import resolve_base
from .paths import annealing_path

__all__ = ["StepSchedule", "tune_ais_steps", "default_tuning_grid"]


class StepSchedule(NamedTuple):
    r"""Step sizes along an annealing path, measured at a grid of :math:`\beta` values:
    ``betas`` (``[P]`` float64, increasing from 0 to 1, the pilot's grid), ``step_sizes``
    (``[P]`` float64, the step size held fixed at each grid point) and ``accept_prob`` (``[P]``
    float64, the mean acceptance probability that step gave on the pilot's chains at that point,
    measured after adaptation with the step held fixed)."""

    betas: torch.Tensor
    step_sizes: torch.Tensor
    accept_prob: torch.Tensor

    def __call__(self, beta: float) -> float:
        r"""The step size at ``beta``: linear interpolation of :math:`\log \epsilon` between grid points."""
        betas, logs = self.betas.tolist(), self.step_sizes.log().tolist()
        if beta <= betas[0]:
            return math.exp(logs[0])
        for (b0, l0), (b1, l1) in zip(zip(betas, logs), zip(betas[1:], logs[1:])):
            if beta <= b1:
                t = (beta - b0) / (b1 - b0)
                return math.exp(l0 + t * (l1 - l0))
        return math.exp(logs[-1])


def default_tuning_grid(n_points: int = 16) -> torch.Tensor:
    r"""``n_points`` values of :math:`\beta` from 0 to 1, geometric from :math:`10^{-4}` up (a path
    from a broad base changes fastest near :math:`\beta = 0`, where the model's share of the
    precision grows from nothing), float64."""
    check_positive_int(n_points, "n_points")
    if n_points < 3:
        raise ValueError(f"n_points must be >= 3, got {n_points}")
    up = torch.logspace(-4, 0, n_points - 1, dtype=torch.float64, device="cpu")
    return torch.cat([torch.zeros(1, dtype=torch.float64, device="cpu"), up])


def tune_ais_steps(
    model: EnergyModel,
    kernel: Kernel,
    n_chains: int,
    *,
    target_accept: float,
    betas: Sequence[float] | torch.Tensor | None = None,
    n_steps: int = 100,
    n_check: int = 20,
    base=None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> StepSchedule:
    r"""A pilot run that chooses the step size of ``kernel`` at each point of an annealing path.

    ``n_chains`` fresh chains start at the base and walk the grid ``betas``; at each point they
    run ``n_steps`` steps of ``kernel`` under :math:`p_\beta` while dual averaging tunes the
    (shared) step size towards ``target_accept`` (starting from the previous point's), then
    ``n_check`` more steps with that step held fixed, whose mean acceptance probability is
    recorded. The chains carry on to the next point, so they are near :math:`p_\beta` when it
    is tuned.

    Args:
        model: a continuous model with an annealing path (as for :func:`~ebmlib.estimators.ais`).
        kernel: a kernel with a ``step_size`` setting that reports ``accept_prob``
            (:class:`~ebmlib.samplers.HMC`, MALA as ``Langevin(adjusted=True)``); its own step
            size is the first one tried.
        n_chains: pilot chains (>= 2).
        target_accept: the acceptance probability to tune to (about 0.57 for MALA, 0.65 to 0.8
            for HMC).
        betas: the grid, increasing from 0 to 1 (default :func:`default_tuning_grid`).
        n_steps: adaptation steps per grid point; 0 tunes nothing and measures the acceptance
            of the kernel's own step along the path.
        n_check: steps per grid point at the held step size, to measure its acceptance (>= 1).
        base: the path's base, as for :func:`~ebmlib.estimators.ais`.
        generator: random generator on the model's device. Reusing it afterwards for the
            estimating run is fine (its draws continue); what to avoid is a fresh generator seeded
            like the pilot's, which would replay the pilot's draws.
        progress: show a progress bar over the grid.

    Returns:
        A :class:`~ebmlib.estimators.StepSchedule`; pass it to :func:`~ebmlib.estimators.ais` as ``step_sizes``.
    """
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
    check_kernel(kernel)
    if "step_size" not in getattr(kernel, "params", {}):
        raise TypeError(f"kernel must have a step_size setting to tune, {type(kernel).__name__} has none")
    check_positive_int(n_chains, "n_chains")
    if n_chains < 2:
        raise ValueError(f"n_chains must be >= 2 (the acceptance is averaged over chains), got {n_chains}")
    first = kernel.params["step_size"]
    if isinstance(first, torch.Tensor) and first.numel() != 1:
        raise TypeError(
            "tune_ais_steps tunes one step size shared by the chains: give the kernel a number as step_size"
        )
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    check_positive_int(n_check, "n_check")
    check_probability(target_accept, "target_accept", open_low=True, open_high=True)
    grid = (
        default_tuning_grid() if betas is None else torch.as_tensor(betas, dtype=torch.float64, device="cpu").flatten()
    )
    if len(grid) < 2 or float(grid[0]) != 0.0 or float(grid[-1]) != 1.0 or not bool((grid[1:] > grid[:-1]).all()):
        raise ValueError("betas must increase strictly from 0 to 1")
    path = annealing_path(model, resolve_base(model, base))
    check_generator(generator, path.log_z0.device)
    step = float(first)
    steps, accepts = [], []
    with torch.no_grad():
        x = path.sample_base(n_chains, generator=generator)
        for i in progress_range(len(grid), progress, "tuning AIS steps"):
            target = path.at(float(grid[i]))
            if n_steps:
                adapted = adapt_step_size(
                    kernel, target, x, n_steps, target_accept=target_accept, initial_step_size=step, generator=generator
                )
                step, x = float(adapted.step_size), adapted.state.x
            chain = run_chain(kernel, target, x, n_check, generator=generator, trace=("accept_prob",), step_size=step)
            x = chain.x
            steps.append(step)
            accepts.append(float(chain.trace["accept_prob"].double().mean()))
    as_tensor = lambda v: torch.tensor(v, dtype=torch.float64, device="cpu")  # noqa: E731
    return StepSchedule(grid, as_tensor(steps), as_tensor(accepts))
