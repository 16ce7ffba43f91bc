r""":math:`\log Z` of a continuous model in one to three dimensions, by a midpoint rule on a box."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import _device_of
from .enumeration import _CHUNK

__all__ = ["log_partition_grid"]


def log_partition_grid(
    model: EnergyModel,
    low: float | Sequence[float],
    high: float | Sequence[float],
    n_points: int = 512,
) -> torch.Tensor:
    r""":math:`\log Z` of a continuous model in 1-3 dimensions by a midpoint rule on a box.

    The box :math:`[\text{low}, \text{high}]^d` must hold essentially all of the mass; the error of the rule
    falls like :math:`(\text{cell width})^2` for smooth energies. Check both: refine the grid, and
    compare with a larger box (the difference bounds the mass outside). Returns a 0-d
    float64 tensor.
    """
    d = model.n_features
    if model.is_binary:
        raise TypeError("log_partition_grid is for continuous models; use log_partition")
    if d > 3:
        raise ValueError(f"log_partition_grid handles 1-3 dimensions, the model has {d}")
    check_positive_int(n_points, "n_points")
    lows = [float(low)] * d if isinstance(low, (int, float)) else [float(v) for v in low]
    highs = [float(high)] * d if isinstance(high, (int, float)) else [float(v) for v in high]
    if len(lows) != d or len(highs) != d or any(b <= a for a, b in zip(lows, highs)):
        raise ValueError(f"low and high must give {d} intervals with low < high")
    device = _device_of(model)
    axes = [
        a + (b - a) * (torch.arange(n_points, dtype=torch.float64, device=device) + 0.5) / n_points
        for a, b in zip(lows, highs)
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    log_cell = sum(math.log((b - a) / n_points) for a, b in zip(lows, highs))
    with torch.no_grad():
        log_w = torch.cat([-model.energy(chunk).to(torch.float64) for chunk in grid.split(_CHUNK)])
    return torch.logsumexp(log_w, 0) + log_cell
