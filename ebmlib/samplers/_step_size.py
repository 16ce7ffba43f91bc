"""Step sizes that are one number for every chain or one number per chain.

Kernels with a ``step_size`` (MALA, HMC) take either a Python float or a ``[chains]`` tensor,
so that step-size adaptation (:mod:`ebmlib.samplers.adaptation`) can tune each chain on its own.
"""

from __future__ import annotations

import torch

from .._validation import check_positive_float

__all__ = ["check_step_size", "acceptance_probability"]


def check_step_size(value: object, n_chains: int, like: torch.Tensor, name: str = "step_size") -> float | torch.Tensor:
    """A positive float, or a ``[n_chains]`` (or 0-d) tensor of positive finite step sizes.

    Args:
        value: the step size as given.
        n_chains: the number of chains the step moves.
        like: a tensor of the chains (the result takes its dtype and device).
        name: the argument's name for error messages.

    Returns:
        A float, or a ``[n_chains, 1]`` tensor in ``like``'s dtype and device, ready to
        broadcast against ``[n_chains, d]`` states. Reading a tensor's values costs one
        device synchronisation per call.
    """
    if not isinstance(value, torch.Tensor):
        return check_positive_float(value, name)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a float or a floating tensor, got a tensor of dtype {value.dtype}")
    if value.dim() == 0:
        value = value.expand(n_chains)
    if tuple(value.shape) != (n_chains,):
        raise ValueError(
            f"{name} must be a float or a [{n_chains}] tensor (one per chain), got shape {tuple(value.shape)}"
        )
    value = value.detach().to(dtype=like.dtype, device=like.device)
    if not bool(((value > 0) & torch.isfinite(value)).all()):
        raise ValueError(f"{name} must hold finite numbers > 0")
    return value[:, None]


def acceptance_probability(log_ratio: torch.Tensor) -> torch.Tensor:
    """``min(1, exp(log_ratio))`` per chain, with 0 where the ratio is NaN (a proposal that overflowed).

    Args:
        log_ratio: ``[chains]`` log Metropolis-Hastings ratios.

    Returns:
        ``[chains]`` acceptance probabilities in ``[0, 1]``, same dtype.
    """
    prob = torch.exp(log_ratio.clamp(max=0.0))
    return torch.where(torch.isnan(prob), torch.zeros_like(prob), prob)
