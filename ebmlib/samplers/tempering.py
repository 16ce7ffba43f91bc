"""Parallel tempering: replicas of the chains at a ladder of temperatures, with swaps.

Replica ``t`` samples ``p_t(x) ∝ exp(-E(x) / T_t)`` with ``T_0 = 1 < T_1 < ...``. Hot replicas
move easily between modes; swap moves between neighbouring temperatures, accepted with
the Metropolis-Hastings probability

    min(1, exp(E_t(x_t) + E_{t+1}(x_{t+1}) - E_t(x_{t+1}) - E_{t+1}(x_t))),

pass those moves down to the ``T = 1`` replica, whose samples are exact in the limit.
Each tempered energy ``E_t`` is the energy of ``model.at_temperature(T_t)`` (for an RBM
that is the tempered *free* energy, which is not ``F(v) / T``). Every step proposes a swap
to every neighbouring pair: first the pairs (0, 1), (2, 3), ..., then (1, 2), (3, 4), ...,
so that a run of one step at a time, as persistent chains use it, still reaches every pair.

The swap acceptance rates tell whether the ladder works: a pair that almost never swaps
cuts the ladder in two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from .._validation import check_batch, check_generator, check_positive_int
from ..models import EnergyModel
from .gibbs import gibbs_step

__all__ = ["TemperingResult", "check_temperatures", "parallel_tempering"]


class TemperingResult(NamedTuple):
    """What :func:`parallel_tempering` returns: ``(samples, replicas, swap_rates)``.

    ``samples`` is the ``[chains, n]`` ``T = 1`` replica (a view of ``replicas[0]``);
    ``replicas`` holds every replica, ``[n_temperatures, chains, n]``, to continue the run;
    ``swap_rates`` (``[n_temperatures - 1]``, float64) is the acceptance rate of swaps
    between temperatures ``t`` and ``t + 1`` over the run.
    """

    samples: torch.Tensor
    replicas: torch.Tensor
    swap_rates: torch.Tensor


def check_temperatures(temperatures: Sequence[float] | torch.Tensor) -> list[float]:
    """A temperature ladder as a list: starts at exactly 1, strictly increasing, finite."""
    temps = [float(t) for t in (temperatures.tolist() if isinstance(temperatures, torch.Tensor) else temperatures)]
    if len(temps) < 2:
        raise ValueError(f"temperatures must hold at least two values (1 and hotter), got {temps}")
    if temps[0] != 1.0:
        raise ValueError(f"temperatures must start at 1.0 (the model itself), got {temps[0]}")
    if any(not (b > a) for a, b in zip(temps, temps[1:])) or not all(t < float("inf") for t in temps):
        raise ValueError(f"temperatures must be finite and strictly increasing, got {temps}")
    return temps


def parallel_tempering(
    model: EnergyModel,
    replicas: torch.Tensor,
    temperatures: Sequence[float] | torch.Tensor,
    n_steps: int,
    *,
    kernel: Callable[[EnergyModel, torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> TemperingResult:
    """Run ``n_steps`` of parallel tempering: one kernel step per replica, then swaps.

    Args:
        model: a model with ``at_temperature`` (:class:`~ebmlib.models.BoltzmannMachine`,
            :class:`~ebmlib.models.RBM`, :class:`~ebmlib.models.GaussianEnergy`).
        replicas: ``[n_temperatures, chains, n]`` states, one slice per temperature
            (``x.expand(len(temperatures), -1, -1)`` starts every replica at ``x``).
        temperatures: the ladder, starting at 1 and increasing.
        n_steps: number of (kernel step, swap) rounds.
        kernel: ``kernel(model_at_T, x, generator) -> x``, one step at a fixed temperature;
            default :func:`~ebmlib.samplers.gibbs_step` (binary models only).
        generator: random generator on the replicas' device.

    Returns:
        A :class:`TemperingResult`.
    """
    temps = check_temperatures(temperatures)
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    if not isinstance(replicas, torch.Tensor) or replicas.dim() != 3 or replicas.shape[0] != len(temps):
        shape = tuple(replicas.shape) if isinstance(replicas, torch.Tensor) else type(replicas).__name__
        raise ValueError(
            f"replicas must have shape [{len(temps)}, chains, {model.n_features}] "
            f"(one slice per temperature), got {shape}"
        )
    for t in range(len(temps)):
        check_batch(replicas[t], f"replicas[{t}]", model.n_features, binary=model.is_binary)
    check_generator(generator, replicas.device)
    if kernel is None:
        if not model.is_binary:
            raise TypeError("parallel_tempering needs a kernel for a continuous model")
        kernel = gibbs_step
    if not hasattr(model, "at_temperature"):
        raise TypeError(f"{type(model).__name__} has no at_temperature(); it cannot be tempered")

    tempered = [model] + [model.at_temperature(t) for t in temps[1:]]
    x = replicas.clone()
    n_pairs = len(temps) - 1
    accepted = torch.zeros(n_pairs, dtype=torch.float64, device=x.device)
    attempts = torch.zeros(n_pairs, dtype=torch.float64, device=x.device)
    rows = torch.arange(x.shape[1], device=x.device)
    with torch.no_grad():
        for _ in range(n_steps):
            for t, m in enumerate(tempered):
                x[t] = kernel(m, x[t], generator)
            for t in [*range(0, n_pairs, 2), *range(1, n_pairs, 2)]:
                lo, hi = tempered[t], tempered[t + 1]
                log_ratio = lo.energy(x[t]) + hi.energy(x[t + 1]) - lo.energy(x[t + 1]) - hi.energy(x[t])
                u = torch.rand(x.shape[1], dtype=log_ratio.dtype, device=x.device, generator=generator)
                swap = rows[torch.log(u) < log_ratio]
                x[t, swap], x[t + 1, swap] = x[t + 1, swap], x[t, swap]
                accepted[t] += swap.numel()
                attempts[t] += x.shape[1]
    rates = torch.where(attempts > 0, accepted / attempts.clamp_min(1), torch.zeros_like(attempts))
    return TemperingResult(x[0], x, rates)
