r"""Annealing schedules: the values of :math:`\beta` at which the path estimators visit the path."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._validation import check_positive_int

__all__ = ["linear_schedule", "piecewise_schedule", "check_schedule"]


def check_schedule(betas: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """An annealing schedule as a float64 tensor: starts at 0, ends at 1, never decreases."""
    b = torch.as_tensor(betas, dtype=torch.float64, device="cpu").reshape(-1)
    if b.numel() < 2:
        raise ValueError(f"betas must hold at least two values (0 and 1), got {b.tolist()}")
    if not bool(torch.isfinite(b).all()):
        raise ValueError("betas contains NaN or infinite values")
    if b[0].item() != 0.0 or b[-1].item() != 1.0:
        raise ValueError(f"betas must run from 0 to 1, got {b[0].item()} ... {b[-1].item()}")
    if bool((b[1:] < b[:-1]).any()):
        raise ValueError("betas must not decrease")
    return b


def linear_schedule(n_betas: int) -> torch.Tensor:
    """``n_betas`` equally spaced values from 0 to 1 (float64)."""
    check_positive_int(n_betas, "n_betas")
    if n_betas < 2:
        raise ValueError(f"n_betas must be >= 2, got {n_betas}")
    return torch.linspace(0.0, 1.0, n_betas, dtype=torch.float64, device="cpu")


def piecewise_schedule(n_betas: int) -> torch.Tensor:
    """The schedule shape of Salakhutdinov and Murray (2008), scaled to ``n_betas`` points.

    They used 500 betas on [0, 0.5), 4,000 on [0.5, 0.9) and 10,000 on [0.9, 1]: the steps
    are smallest near the model, where the distributions change fastest for an RBM.
    """
    check_positive_int(n_betas, "n_betas")
    if n_betas < 10:
        raise ValueError(f"n_betas must be >= 10 for a piecewise schedule, got {n_betas}")
    first, second = max(1, round(n_betas * 500 / 14500)), max(1, round(n_betas * 4000 / 14500))
    return torch.cat(
        [
            torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64, device="cpu")[:-1],
            torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64, device="cpu")[:-1],
            torch.linspace(0.9, 1.0, n_betas - first - second, dtype=torch.float64, device="cpu"),
        ]
    )
