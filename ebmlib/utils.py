"""Small helpers every chapter uses: seeding, device choice, log-space averages."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import torch

from ._validation import check_positive_int

__all__ = ["seed_everything", "get_device", "log_mean_exp", "bernoulli_from_logits", "progress_range", "time_call"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that a run repeats.

    Args:
        seed: any non-negative integer.

    Returns:
        A CPU ``torch.Generator`` seeded with ``seed``, for functions that take one.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve a device name: ``"auto"`` picks CUDA when it is available, else CPU.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here")
    return resolved


def log_mean_exp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log(mean(exp(x)))`` along ``dim``, computed stably with logsumexp.

    Args:
        x: any floating tensor.
        dim: the dimension to average over.

    Returns:
        ``x`` with ``dim`` reduced.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating torch.Tensor")
    n = x.shape[dim]
    if n == 0:
        raise ValueError(f"x must have at least one entry along dim={dim}")
    return torch.logsumexp(x, dim=dim) - math.log(n)


def bernoulli_from_logits(
    logits: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw 0/1 samples with ``P(1) = sigmoid(logits)``, same shape, dtype and device.

    One uniform draw per entry, compared in place with the probability: the result is
    written into the uniforms' own storage as 1.0 / 0.0, so no extra pass converts a
    boolean mask (this matters: drawing the uniforms is most of a Gibbs step's cost
    beyond its matrix products).
    """
    u = torch.rand(logits.shape, dtype=logits.dtype, device=logits.device, generator=generator)
    return u.lt_(torch.sigmoid(logits))


def progress_range(n: int, enabled: bool, desc: str = ""):
    """``range(n)``, wrapped in a tqdm progress bar when ``enabled``.

    tqdm is imported only when a bar is asked for, so that a plain run prints nothing.
    """
    if not enabled:
        return range(n)
    from tqdm.auto import tqdm

    return tqdm(range(n), desc=desc, leave=False)


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 1) -> float:
    """Average wall time of ``fn()`` in seconds over ``repeats`` calls, after ``warmup`` untimed calls.

    Waits for queued CUDA work before starting and stopping the clock, so GPU timings are real.
    """
    check_positive_int(repeats, "repeats")
    check_positive_int(warmup, "warmup", allow_zero=True)

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - start) / repeats
