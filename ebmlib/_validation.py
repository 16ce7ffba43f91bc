"""Argument checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError``
(right kind, wrong value) with a message that names the argument and says what
was expected, so that bad input never turns into a silent NaN further down.
"""

from __future__ import annotations

import math
import weakref

import torch

# Tensors whose values were checked (or made by ebmlib's samplers) and not modified since:
# id -> (weak reference, version counter, binary). In-place changes bump ``_version`` (shared
# with views), which invalidates the entry, so a chain passed back to a sampler is not read again.
_CHECKED: dict[int, tuple[weakref.ref, int, bool]] = {}


def mark_checked(x: torch.Tensor, binary: bool) -> torch.Tensor:
    """Record that ``x`` holds finite values (0/1 if ``binary``), as of its current version."""
    key = id(x)

    def forget(_: object) -> None:
        _CHECKED.pop(key, None)

    _CHECKED[key] = (weakref.ref(x, forget), x._version, binary)
    return x


def _known(x: torch.Tensor, binary: bool) -> bool:
    entry = _CHECKED.get(id(x))
    return entry is not None and entry[0]() is x and entry[1] == x._version and (entry[2] or not binary)


__all__ = [
    "check_width",
    "check_batch",
    "check_ids",
    "check_positive_int",
    "check_positive_float",
    "check_generator",
    "check_probability",
    "check_kernel",
]


def check_width(x: object, name: str, n_features: int) -> torch.Tensor:
    """Check that ``x`` is a floating tensor of shape ``[batch, n_features]``.

    Reads only the shape and dtype, never the values: free on any device (no synchronisation),
    so every model's ``energy`` runs it on every call.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(
            f"{name} must have shape [batch, {n_features}], got a {x.dim()}-d tensor of shape {tuple(x.shape)}"
        )
    if x.shape[1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} columns (shape [batch, {n_features}]), got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (binary data are float 0s and 1s), got {x.dtype}")
    return x


def check_batch(
    x: object,
    name: str,
    n_features: int,
    *,
    binary: bool = False,
) -> torch.Tensor:
    """Check that ``x`` is a finite float tensor of shape ``[batch, n_features]``.

    Unlike :func:`check_width` this reads the values (finiteness, and 0/1 entries when
    ``binary``), so public entry points call it once per call, not once per step.

    Args:
        x: the object to check.
        name: the argument's name, used in error messages.
        n_features: the expected width (number of columns).
        binary: if True, every entry must be exactly 0 or 1.

    Returns:
        ``x`` itself, unchanged.
    """
    x = check_width(x, name, n_features)
    if x.numel() == 0 or _known(x, binary):
        return x
    # Reductions by aminmax are fast and multithreaded; NaN propagates through them.
    if binary:
        low, high = torch.aminmax(x * (x - 1))  # zero exactly at 0 and 1 (NaN and inf give NaN or inf)
        lo, hi = low.item(), high.item()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if lo != 0 or hi != 0:
            raise ValueError(f"{name} must be binary (every entry 0.0 or 1.0) for a binary model")
    else:
        low, high = torch.aminmax(x)
        if not (math.isfinite(low.item()) and math.isfinite(high.item())):
            raise ValueError(f"{name} contains NaN or infinite values")
    return mark_checked(x, binary)


def check_positive_int(value: object, name: str, *, allow_zero: bool = False) -> int:
    """Check that ``value`` is an integer >= 1 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    lowest = 0 if allow_zero else 1
    if value < lowest:
        raise ValueError(f"{name} must be >= {lowest}, got {value}")
    return value


def check_positive_float(value: object, name: str) -> float:
    """Check that ``value`` is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def check_generator(generator: object, device: torch.device, name: str = "generator") -> None:
    """Check that ``generator`` is ``None`` or a ``torch.Generator`` on ``device``'s type."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise ValueError(
            f"{name} is on {generator.device.type} but the tensors are on {device.type}: "
            f"pass torch.Generator(device='{device.type}') or None (the global, seeded RNG)"
        )


def check_ids(ids: object, name: str, vocab_size: int, trailing: tuple[int, ...]) -> torch.Tensor:
    """A long tensor of shape ``[batch, *trailing]`` with entries in ``[0, vocab_size)``."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integer ids, got {type(ids).__name__}")
    if ids.dtype != torch.long:
        raise TypeError(f"{name} must hold integer ids (torch.long), got {ids.dtype}")
    if ids.dim() != 1 + len(trailing) or tuple(ids.shape[1:]) != trailing:
        shape = ", ".join(["batch", *map(str, trailing)])
        raise ValueError(f"{name} must have shape [{shape}], got {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold ids in [0, {vocab_size}), got values in [{int(ids.min())}, {int(ids.max())}]"
        )
    return ids


def check_probability(value: object, name: str, *, open_low: bool = False, open_high: bool = False) -> float:
    """Check that ``value`` is a real number in ``[0, 1]`` (ends excluded on request)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if not (math.isfinite(value) and low_ok and high_ok):
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return float(value)


def check_kernel(kernel: object, name: str = "kernel") -> None:
    """Check that ``kernel`` follows the kernel protocol: ``init(model, x)`` and ``step(model, state, ...)``."""
    if not (callable(getattr(kernel, "init", None)) and callable(getattr(kernel, "step", None))):
        raise TypeError(
            f"{name} must have init(model, x) and step(model, state, *, generator, **params), "
            f"got {type(kernel).__name__}"
        )
