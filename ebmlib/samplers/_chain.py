"""The loop every sampler shares: apply a kernel ``n_steps`` times, with an optional progress bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from .._validation import check_positive_int
from ..utils import progress_range

State = TypeVar("State")


def run_chain(
    kernel: Callable[[State], tuple[State, "torch.Tensor | None"]],
    state: State,
    n_steps: int,
    *,
    progress: bool = False,
    desc: str = "sampling",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Apply ``kernel`` (state -> (state, accepted or None)) ``n_steps`` times.

    The state is whatever the kernel carries: the chains' ``[chains, n]`` tensor, or a
    tuple that also caches their energies and scores.

    Returns:
        The final state and, for kernels that accept or reject, each chain's acceptance
        rate over the run (``[chains]``), else ``None``.
    """
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    accepted = None
    with torch.no_grad():
        for _ in progress_range(n_steps, progress, desc):
            state, acc = kernel(state)
            if acc is not None:
                acc = acc.to(torch.float64)
                accepted = acc if accepted is None else accepted + acc
    if accepted is not None:
        accepted = accepted / n_steps
    return state, accepted
