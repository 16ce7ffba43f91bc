r"""The kernel protocol every sampler follows, and the loop that runs any kernel.

A *kernel* is a Markov transition that works on many chains at once:

* ``kernel.init(model, x) -> State`` checks the start states ``x`` (``[chains, n]``) and
  builds the kernel's state, a ``NamedTuple`` whose field ``x`` holds the chains and whose
  other fields carry what the next step reuses (an energy, a score);
* ``kernel.step(model, state, *, generator=None, **params) -> (State, Info)`` makes one
  transition of every chain and reports what happened (``Info``, a ``NamedTuple``; for
  kernels that accept or reject, ``info.accepted`` is a ``[chains]`` bool tensor);
* ``kernel.reversed()`` is the time reversal of the transition (the kernel itself when it is
  reversible), which linked importance sampling needs.

``params`` override the settings the kernel was built with, one step at a time (a step size,
say). A kernel holds no mutable state of its own and never changes a state in place, so one
kernel can serve many chains, and states and traces can be kept. A state's fields are the
chains ``x`` and per-chain tensors (chains first) or ``None``; fields named ``energy`` and
``score`` hold :math:`E(x)` and :math:`-\nabla_x E(x)` of the model the state was built for
(parallel tempering relies on the names when it moves a chain to another temperature).

Everything else composes around a kernel: :func:`run_chain` runs it and records traces,
:class:`~ebmlib.samplers.ParallelTempering` is itself a kernel built from another one, and
persistent chains, AIS, linked importance sampling and the log-Z tracker take any kernel.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch

from .._validation import check_generator, check_kernel, check_positive_int
from ..utils import progress_range

__all__ = ["Kernel", "Chain", "run_chain"]

Statistic = Callable[[Any, Any], torch.Tensor]


class Kernel:
    """Base class of ebmlib's kernels (see the module docstring for the protocol).

    Subclasses set their default settings in ``__init__`` (stored in ``self.params``) and
    implement :meth:`init` and :meth:`step`; ``_settings`` merges a step's overrides.
    """

    params: dict[str, Any]

    def init(self, model, x: torch.Tensor):  # pragma: no cover - abstract
        """Check ``x`` and build the state of the chains started at ``x``."""
        raise NotImplementedError

    def step(self, model, state, *, generator: torch.Generator | None = None, **params):  # pragma: no cover
        """One transition of every chain: ``(state, info)``."""
        raise NotImplementedError

    def reversed(self) -> Kernel:
        """The time-reversed kernel; reversible kernels (the default) return themselves."""
        return self

    def with_settings(self, **settings: Any) -> Kernel:
        """A new kernel with ``settings`` in place of this one's (``step_size=0.05``): what a step's
        overrides do, held for every step. Unknown names are refused; where the kernel's class is
        built from its settings (every kernel of ebmlib) the new one goes through its constructor,
        so a bad value (a NaN step) is refused here as it would be there."""
        merged = self._settings(settings)
        try:
            inspect.signature(type(self)).bind(**merged)
        except TypeError:  # a constructor that takes other arguments: copy, then replace
            kernel = copy.copy(self)
            kernel.params = merged
            return kernel
        return type(self)(**merged)

    def _settings(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.step got unknown settings {sorted(unknown)}; it takes {sorted(self.params)}"
            )
        return {**self.params, **overrides}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({settings})"


class Chain(NamedTuple):
    """What :func:`run_chain` (and every sampler shortcut) returns: ``(x, state, trace)``.

    ``x`` holds the chains' final states, ``[chains, n]`` (a new tensor); ``state`` is the
    kernel's final state (to continue the run with ``kernel.step``); ``trace`` maps each
    requested statistic to its values stacked over steps, ``[n_steps, ...]`` (empty when no
    trace was asked for).
    """

    x: torch.Tensor
    state: Any
    trace: dict[str, torch.Tensor]


def _statistics(trace: Sequence[str] | Mapping[str, Statistic]) -> dict[str, Statistic]:
    """Name -> ``fn(state, info)``; a bare name reads that field of the info, else of the state."""
    if isinstance(trace, Mapping):
        for name, fn in trace.items():
            if not callable(fn):
                raise TypeError(f"trace[{name!r}] must be a function (state, info) -> tensor")
        return dict(trace)
    if isinstance(trace, str) or not isinstance(trace, Sequence):
        raise TypeError("trace must be a sequence of field names or a mapping name -> fn(state, info)")

    def field(name: str) -> Statistic:
        def read(state, info):
            for source in (info, state):
                if name in getattr(source, "_fields", ()):
                    return getattr(source, name)
            fields = sorted({*getattr(info, "_fields", ()), *getattr(state, "_fields", ())})
            raise ValueError(f"trace asks for {name!r}, which this kernel's state and info lack: {fields}")

        return read

    return {name: field(name) for name in trace}


def run_chain(
    kernel: Kernel,
    model,
    x: torch.Tensor,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    trace: Sequence[str] | Mapping[str, Statistic] | None = None,
    progress: bool = False,
    **params,
) -> Chain:
    """Run ``n_steps`` of ``kernel`` on every chain, starting at ``x``: the one loop every
    sampler, objective and estimator of ebmlib runs its chains with.

    Args:
        kernel: any kernel (``init`` and ``step``).
        model: the model the kernel samples.
        x: ``[chains, n]`` start states, on the device the chains should run on.
        n_steps: number of steps (0 returns a copy of ``x``).
        generator: a ``torch.Generator`` on ``x``'s device.
        trace: statistics to record after every step: field names of the kernel's info or
            state (``("accepted",)``, ``("x",)``), or a mapping ``name -> fn(state, info)``
            (``{"mode": lambda s, i: nearest_pattern(s.x, modes)}``).
        progress: show a progress bar.
        params: settings passed to every ``kernel.step`` (overriding the kernel's own).

    Returns:
        A :class:`Chain`: the final states ``[chains, n]`` (a new tensor) as ``.x``, the final
        kernel state and the stacked traces (``{}`` without ``trace``).
    """
    check_kernel(kernel)
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    stats = None if trace is None else _statistics(trace)
    state = kernel.init(model, x)
    check_generator(generator, state.x.device)
    records: dict[str, list[torch.Tensor]] = {name: [] for name in stats or {}}
    with torch.no_grad():
        for _ in progress_range(n_steps, progress, type(kernel).__name__):
            state, info = kernel.step(model, state, generator=generator, **params)
            for name, fn in (stats or {}).items():
                value = fn(state, info)
                records[name].append(value if isinstance(value, torch.Tensor) else torch.as_tensor(value))
    final = state.x.clone() if state.x is x else state.x
    stacked = {
        name: torch.stack(values) if values else torch.empty(0, device=state.x.device)
        for name, values in records.items()
    }
    return Chain(final, state, stacked)
