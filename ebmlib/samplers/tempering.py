"""Parallel tempering: replicas of the chains at a ladder of temperatures, with swaps.

Replica ``t`` samples ``p_t(x) ∝ exp(-E(x) / T_t)`` with ``T_0 = 1 < T_1 < ...``, moved by any
kernel. Hot replicas move easily between modes; swap moves between neighbouring temperatures,
accepted with the Metropolis-Hastings probability

    min(1, exp(E_t(x_t) + E_{t+1}(x_{t+1}) - E_t(x_{t+1}) - E_{t+1}(x_t))),

pass those moves down to the ``T = 1`` replica, whose samples are exact in the limit. Each
tempered energy ``E_t`` is the energy of ``model.at_temperature(T_t)`` (for an RBM that is the
tempered *free* energy, which is not ``F(v) / T``). Every step proposes a swap to every
neighbouring pair: first the pairs (0, 1), (2, 3), ..., then (1, 2), (3, 4), ..., so that a run
of one step at a time, as persistent chains use it, still reaches every pair.

The swap acceptance rates tell whether the ladder works: a pair that almost never swaps
cuts the ladder in two. One step costs one kernel step *per temperature*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from .._validation import check_batch, check_positive_int
from ..models import EnergyModel
from .base import Kernel, _check_kernel, default_kernel

__all__ = ["ParallelTempering", "TemperingState", "TemperingInfo", "TemperingResult", "parallel_tempering"]


class TemperingState(NamedTuple):
    """``x``: the ``T = 1`` chains ``[chains, n]``; ``replicas``: every replica ``[n_temperatures, chains, n]``."""

    x: torch.Tensor
    replicas: torch.Tensor


class TemperingInfo(NamedTuple):
    """``swap_rates``: ``[n_temperatures - 1]`` float64, the share of chains whose swap between
    temperatures ``t`` and ``t + 1`` was accepted at this step."""

    swap_rates: torch.Tensor


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


def _check_temperatures(temperatures: Sequence[float] | torch.Tensor) -> list[float]:
    """A temperature ladder as a list: starts at exactly 1, strictly increasing, finite."""
    temps = [float(t) for t in (temperatures.tolist() if isinstance(temperatures, torch.Tensor) else temperatures)]
    if len(temps) < 2:
        raise ValueError(f"temperatures must hold at least two values (1 and hotter), got {temps}")
    if temps[0] != 1.0:
        raise ValueError(f"temperatures must start at 1.0 (the model itself), got {temps[0]}")
    if any(not (b > a) for a, b in zip(temps, temps[1:])) or not all(t < float("inf") for t in temps):
        raise ValueError(f"temperatures must be finite and strictly increasing, got {temps}")
    return temps


class ParallelTempering(Kernel):
    """A kernel that runs ``kernel`` on a replica at every temperature, then proposes swaps.

    Args:
        kernel: the move at each temperature (any kernel; default Gibbs for binary models,
            which must then be given at ``init``).
        temperatures: the ladder, starting at 1 and increasing.
    """

    def __init__(self, kernel: Kernel | None, temperatures: Sequence[float] | torch.Tensor) -> None:
        if kernel is not None:
            _check_kernel(kernel)
        self.kernel = kernel
        self.temperatures = _check_temperatures(temperatures)
        self.params = {}

    def _inner(self, model: EnergyModel) -> Kernel:
        if self.kernel is not None:
            return self.kernel
        if not model.is_binary:
            raise TypeError("parallel tempering of a continuous model needs a kernel (samplers.Langevin, say)")
        return default_kernel(model)

    def init(self, model: EnergyModel, x: torch.Tensor) -> TemperingState:
        """``x`` is ``[chains, n]`` (every replica starts there) or ``[n_temperatures, chains, n]``."""
        n_temps = len(self.temperatures)
        if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3) or (x.dim() == 3 and x.shape[0] != n_temps):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"replicas must have shape [chains, {model.n_features}] or "
                f"[{n_temps}, chains, {model.n_features}] (one slice per temperature), got {shape}"
            )
        replicas = (x.expand(n_temps, -1, -1) if x.dim() == 2 else x).clone()
        for t in range(n_temps):
            check_batch(replicas[t], f"replicas[{t}]", model.n_features, binary=model.is_binary)
        self._inner(model)
        return TemperingState(replicas[0], replicas)

    def step(
        self, model: EnergyModel, state: TemperingState, generator: torch.Generator | None = None, **params
    ) -> tuple[TemperingState, TemperingInfo]:
        kernel = self._inner(model)
        tempered = [model] + [model.at_temperature(t) for t in self.temperatures[1:]]
        moved = []
        for m, replica in zip(tempered, state.replicas):
            inner, _ = kernel.step(m, kernel.init(m, replica), generator, **params)
            moved.append(inner.x)
        x = torch.stack(moved)
        n_pairs, chains = len(tempered) - 1, x.shape[1]
        rates = torch.zeros(n_pairs, dtype=torch.float64, device=x.device)
        with torch.no_grad():
            for t in [*range(0, n_pairs, 2), *range(1, n_pairs, 2)]:
                lo, hi = tempered[t], tempered[t + 1]
                log_ratio = lo.energy(x[t]) + hi.energy(x[t + 1]) - lo.energy(x[t + 1]) - hi.energy(x[t])
                u = torch.rand(chains, dtype=log_ratio.dtype, device=x.device, generator=generator)
                swap = torch.log(u) < log_ratio
                x[t], x[t + 1] = torch.where(swap[:, None], x[t + 1], x[t]), torch.where(swap[:, None], x[t], x[t + 1])
                rates[t] = swap.double().mean()
        return TemperingState(x[0], x), TemperingInfo(rates)


def parallel_tempering(
    model: EnergyModel,
    replicas: torch.Tensor,
    temperatures: Sequence[float] | torch.Tensor,
    n_steps: int,
    *,
    kernel: Kernel | None = None,
    generator: torch.Generator | None = None,
) -> TemperingResult:
    """Run ``n_steps`` of parallel tempering: one kernel step per replica, then swaps.

    Args:
        model: any model with ``at_temperature`` (every :class:`~ebmlib.models.EnergyModel`).
        replicas: ``[n_temperatures, chains, n]`` states, one slice per temperature, or
            ``[chains, n]`` to start every replica at the same states.
        temperatures: the ladder, starting at 1 and increasing.
        n_steps: number of (kernel step, swap) rounds.
        kernel: the move at each temperature; default Gibbs (binary models only).
        generator: random generator on the replicas' device.

    Returns:
        A :class:`TemperingResult`.
    """
    from .base import run_chain

    check_positive_int(n_steps, "n_steps", allow_zero=True)
    pt = ParallelTempering(kernel, temperatures)
    chain = run_chain(pt, model, replicas, n_steps, generator=generator, trace=("swap_rates",))
    rates = chain.trace["swap_rates"].mean(0) if n_steps else torch.zeros(len(pt.temperatures) - 1, dtype=torch.float64)
    return TemperingResult(chain.state.replicas[0], chain.state.replicas, rates)
