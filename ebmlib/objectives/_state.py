"""What the stateful wrappers share: their state as plain containers of tensors, and back.

A checkpoint (:func:`ebmlib.training.fit`) is loaded with ``torch.load(weights_only=True)``,
which reads tensors, numbers, strings and plain ``dict``/``list``/``tuple`` containers and
refuses any other object. So a wrapper's ``state_dict`` turns its ``NamedTuple`` state into a
``dict`` (fields that are ``None`` left out) and its generator into the generator's state tensor.
"""

from __future__ import annotations

from typing import Any

import torch


def plain(value: Any) -> Any:
    """``value`` with every ``NamedTuple`` turned into a ``dict`` (``None`` fields dropped), tuples
    into lists and tensors detached and cloned."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items() if v is not None}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return value


def save_generator(state: dict, generator: torch.Generator | None) -> dict:
    """``state`` with the generator's state added under ``"generator"`` (when there is one)."""
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def load_generator(state: dict, generator: torch.Generator | None) -> None:
    """Restore a generator's state saved by :func:`save_generator`."""
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
