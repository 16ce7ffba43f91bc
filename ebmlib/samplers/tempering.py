r"""Parallel tempering: replicas of the chains at a ladder of temperatures, with swaps.

Replica :math:`t` samples :math:`p_t(x) \propto e^{-E(x) / T_t}` with :math:`T_0 = 1 < T_1 < \dots`,
moved by any kernel. Hot replicas move easily between modes; swap moves between neighbouring
temperatures, accepted with the Metropolis-Hastings probability

.. math::

    \min\left(1, \exp\big(E_t(x_t) + E_{t+1}(x_{t+1}) - E_t(x_{t+1}) - E_{t+1}(x_t)\big)\right),

pass those moves down to the :math:`T = 1` replica, whose samples are exact in the limit. Each
tempered energy :math:`E_t` is the energy of ``model.at_temperature(T_t)`` (for an RBM that is
the tempered *free* energy, which is not :math:`F(v) / T`). Every step proposes a swap to every
neighbouring pair: first the pairs (0, 1), (2, 3), ..., then (1, 2), (3, 4), ..., so that a run
of one step at a time, as persistent chains use it, still reaches every pair.

**Each replica keeps its kernel state** from step to step (MALA's energy and score, say), so a
step costs one kernel step per temperature and nothing more:

* for a *continuous* model the swap ratio is
  :math:`(1/T_t - 1/T_{t+1}) (E(x_t) - E(x_{t+1}))`, read off the energies the kernel states
  carry (``energy`` fields; a state without one costs one evaluation of the model per
  replica). This uses :math:`E_t = E / T_t`, which holds for every continuous model of
  ebmlib (``at_temperature`` of :class:`~ebmlib.models.Tempered` and
  :class:`~ebmlib.models.GaussianEnergy`), and :meth:`ParallelTempering.init` checks it on the
  start states. A chain that changes temperature takes its state with it, its ``energy`` and
  ``score`` fields rescaled by :math:`T_\text{old} / T_\text{new}`;
* for a *binary* model (an RBM's tempered free energy is not :math:`F / T`) the four tempered
  energies of each pair are evaluated, and a chain that changes temperature takes its state
  with it, its ``energy`` field replaced by the evaluated one.

A state's other fields move with their chain unchanged. The swap acceptance rates tell
whether the ladder works: a pair that almost never swaps cuts the ladder in two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from .._random import uniform
from .._validation import check_batch, check_kernel, check_positive_int
from ..models import EnergyModel
from .base import Kernel, run_chain
from .default import default_kernel

__all__ = ["ParallelTempering", "TemperingState", "TemperingInfo", "TemperingResult", "parallel_tempering"]


class TemperingState(NamedTuple):
    """``x``: the :math:`T = 1` chains ``[chains, n]``; ``replicas``: every replica
    ``[n_temperatures, chains, n]``; ``states``: each replica's kernel state, kept between steps."""

    x: torch.Tensor
    replicas: torch.Tensor
    states: tuple[Any, ...]


class TemperingInfo(NamedTuple):
    """``swap_rates``: ``[n_temperatures - 1]`` float64, the share of chains whose swap between
    temperatures ``t`` and ``t + 1`` was accepted at this step."""

    swap_rates: torch.Tensor


class TemperingResult(NamedTuple):
    """What :func:`parallel_tempering` returns: ``(samples, replicas, swap_rates)``.

    ``samples`` is the ``[chains, n]`` :math:`T = 1` replica (a view of ``replicas[0]``);
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
            check_kernel(kernel)
        self.kernel = kernel
        self.temperatures = _check_temperatures(temperatures)
        self.params = {}

    def _inner(self, model: EnergyModel) -> Kernel:
        if self.kernel is not None:
            return self.kernel
        if not model.is_binary:
            raise TypeError("parallel tempering of a continuous model needs a kernel (samplers.Langevin, say)")
        return default_kernel(model)

    def _tempered(self, model: EnergyModel) -> list[EnergyModel]:
        return [model] + [model.at_temperature(t) for t in self.temperatures[1:]]

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
        kernel = self._inner(model)
        tempered = self._tempered(model)
        if not model.is_binary:
            _check_scaling(model, tempered, self.temperatures, replicas)
        states = tuple(kernel.init(m, r) for m, r in zip(tempered, replicas))
        return TemperingState(replicas[0], replicas, states)

    def step(
        self, model: EnergyModel, state: TemperingState, *, generator: torch.Generator | None = None, **params
    ) -> tuple[TemperingState, TemperingInfo]:
        kernel = self._inner(model)
        temps = self.temperatures
        tempered = self._tempered(model)
        states = [kernel.step(m, s, generator=generator, **params)[0] for m, s in zip(tempered, state.states)]
        n_pairs = len(temps) - 1
        rates = torch.zeros(n_pairs, dtype=torch.float64, device=states[0].x.device)
        with torch.no_grad():
            if model.is_binary:
                self._swap_binary(tempered, states, rates, generator)
            else:
                self._swap_continuous(model, states, rates, generator)
        replicas = torch.stack([s.x for s in states])
        return TemperingState(replicas[0], replicas, tuple(states)), TemperingInfo(rates)

    def _swap_binary(self, tempered, states, rates, generator) -> None:
        for t in _pair_order(len(states) - 1):
            lo, hi = tempered[t], tempered[t + 1]
            x_lo, x_hi = states[t].x, states[t + 1].x
            own_lo, own_hi, other_lo, other_hi = lo.energy(x_lo), hi.energy(x_hi), lo.energy(x_hi), hi.energy(x_lo)
            log_ratio = own_lo + own_hi - other_lo - other_hi
            u = uniform(x_lo.shape[0], log_ratio.dtype, x_lo.device, generator)
            swap = torch.log(u) < log_ratio
            energies = {"energy": ((other_lo, own_lo), (other_hi, own_hi))}
            states[t], states[t + 1] = _exchange(states[t], states[t + 1], swap, energies=energies)
            rates[t] = swap.double().mean()

    def _swap_continuous(self, model, states, rates, generator) -> None:
        temps = self.temperatures
        # untempered energies E(x) of every replica: from the states, or one evaluation each
        e = [
            s.energy * temp if getattr(s, "energy", None) is not None else model.energy(s.x)
            for s, temp in zip(states, temps)
        ]
        for t in _pair_order(len(states) - 1):
            lo_t, hi_t = temps[t], temps[t + 1]
            log_ratio = (1.0 / lo_t - 1.0 / hi_t) * (e[t] - e[t + 1])
            x = states[t].x
            u = uniform(x.shape[0], log_ratio.dtype, x.device, generator)
            swap = torch.log(u) < log_ratio
            states[t], states[t + 1] = _exchange(states[t], states[t + 1], swap, scale=hi_t / lo_t)
            e[t], e[t + 1] = torch.where(swap, e[t + 1], e[t]), torch.where(swap, e[t], e[t + 1])
            rates[t] = swap.double().mean()


def _pair_order(n_pairs: int) -> list[int]:
    """Pairs (0, 1), (2, 3), ... first, then (1, 2), (3, 4), ..."""
    return [*range(0, n_pairs, 2), *range(1, n_pairs, 2)]


_RESCALED = ("energy", "score")  # fields that hold E(x) / T and -grad E(x) / T at the state's temperature


def _exchange(lo, hi, swap: torch.Tensor, *, scale: float = 1.0, energies: dict | None = None):
    """States ``lo`` and ``hi`` with the chains where ``swap`` exchanged, field by field.

    A chain moving down (``hi`` to ``lo``) has its ``energy`` and ``score`` multiplied by ``scale``
    (``T_hi / T_lo``) and one moving up by ``1 / scale``; ``energies`` maps a field to
    ``((moved_lo, kept_lo), (moved_hi, kept_hi))``, values to use instead.
    """
    new_lo, new_hi = {}, {}
    for name in lo._fields:
        a, b = getattr(lo, name), getattr(hi, name)
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
            new_lo[name], new_hi[name] = a, b
            continue
        mask = swap.reshape(-1, *([1] * (a.dim() - 1)))
        if energies is not None and name in energies:
            (moved_lo, kept_lo), (moved_hi, kept_hi) = energies[name]
            new_lo[name], new_hi[name] = torch.where(mask, moved_lo, kept_lo), torch.where(mask, moved_hi, kept_hi)
        elif name in _RESCALED and scale != 1.0:
            new_lo[name], new_hi[name] = torch.where(mask, b * scale, a), torch.where(mask, a / scale, b)
        else:
            new_lo[name], new_hi[name] = torch.where(mask, b, a), torch.where(mask, a, b)
    return type(lo)(**new_lo), type(hi)(**new_hi)


def _check_scaling(model: EnergyModel, tempered: list[EnergyModel], temperatures: list[float], replicas) -> None:
    """Refuse a continuous model whose ``at_temperature(T)`` is not ``E / T`` (checked on a few rows)."""
    rows = replicas[0][:8]
    with torch.no_grad():
        energy = model.energy(rows)
        for m, temp in zip(tempered[1:], temperatures[1:]):
            if not torch.allclose(
                m.energy(rows), energy / temp, rtol=1e-4, atol=1e-5 * max(1.0, float(energy.abs().max()))
            ):
                raise ValueError(
                    f"parallel tempering of a continuous model needs at_temperature(T) to have energy E / T; "
                    f"{type(model).__name__}.at_temperature({temp:g}) does not"
                )


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
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    pt = ParallelTempering(kernel, temperatures)
    chain = run_chain(pt, model, replicas, n_steps, generator=generator, trace=("swap_rates",))
    if n_steps:
        rates = chain.trace["swap_rates"].mean(0)
    else:  # no swap was tried: zeros, on the replicas' device as the measured rates would be
        rates = torch.zeros(len(pt.temperatures) - 1, dtype=torch.float64, device=replicas.device)
    return TemperingResult(chain.state.replicas[0], chain.state.replicas, rates)
