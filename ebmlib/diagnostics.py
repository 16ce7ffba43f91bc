"""Measuring how well chains mix: which mode a state is in, and how often chains change mode."""

from __future__ import annotations

import torch

__all__ = ["nearest_pattern", "nearest_distance", "hop_rate"]


def nearest_pattern(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``patterns`` (Hamming distance for 0/1 data, else L1).

    Args:
        x: ``[batch, n]`` states.
        patterns: ``[k, n]`` reference states (for example the modes of the data).

    Returns:
        ``[batch]`` int64 indices into ``patterns`` (ties go to the lower index).
    """
    return _distances(x, patterns).argmin(1)


def nearest_distance(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Distance from each row of ``x`` to the nearest row of ``patterns`` (Hamming for 0/1 data).

    Args:
        x: ``[batch, n]`` states (model samples, say).
        patterns: ``[k, n]`` reference states (the training images, say).

    Returns:
        ``[batch]`` float distances: for 0/1 rows, how many units differ from the closest pattern.
    """
    return _distances(x, patterns).min(1).values


def _distances(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    if x.dim() != 2 or patterns.dim() != 2 or x.shape[1] != patterns.shape[1]:
        raise ValueError(
            f"x [batch, n] and patterns [k, n] must share n, got {tuple(x.shape)} and {tuple(patterns.shape)}"
        )
    return torch.cdist(x.float(), patterns.float().to(x.device), p=1)


def hop_rate(labels: torch.Tensor) -> float:
    """Fraction of steps at which a chain's label changes (a mode-hopping rate).

    Args:
        labels: ``[steps, chains]`` the mode label of every chain at every step, e.g.
            from :func:`nearest_pattern`.
    """
    if labels.dim() != 2 or labels.shape[0] < 2:
        raise ValueError(f"labels must have shape [steps >= 2, chains], got {tuple(labels.shape)}")
    return (labels[1:] != labels[:-1]).double().mean().item()
