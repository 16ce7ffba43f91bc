"""Layers initialised from a caller's ``torch.Generator`` only (never PyTorch's global state)."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import torch
from torch import nn


def linear(fan_in: int, fan_out: int, generator: torch.Generator | None = None, device=None, dtype=None) -> nn.Linear:
    """``nn.Linear`` with PyTorch's default initialisation (uniform in ``+-1/sqrt(fan_in)``),
    drawn from ``generator``."""
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out, device=_cpu(device), dtype=dtype)
    uniform_(layer, fan_in, generator)
    return layer


def conv2d(
    channels_in: int,
    channels_out: int,
    kernel_size: int,
    generator: torch.Generator | None = None,
    device=None,
    dtype=None,
    **kwargs,
) -> nn.Conv2d:
    """``nn.Conv2d`` with PyTorch's default initialisation, drawn from ``generator``."""
    layer = nn.utils.skip_init(
        nn.Conv2d, channels_in, channels_out, kernel_size, device=_cpu(device), dtype=dtype, **kwargs
    )
    uniform_(layer, channels_in * kernel_size * kernel_size, generator)
    return layer


def _cpu(device):
    return "cpu" if device is None else device  # skip_init leaves a module on "meta" for device=None


def uniform_(layer: nn.Module, fan_in: int, generator: torch.Generator | None) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        for p in layer.parameters(recurse=False):
            p.uniform_(-bound, bound, generator=generator)


M = TypeVar("M", bound=nn.Module)


def spectral_normalized(layer: M, generator: torch.Generator | None = None) -> M:
    """``layer`` with spectral normalisation of its weight (Miyato et al. 2018).

    The weight is divided by an estimate of its largest singular value, refined by one power
    iteration at every forward pass in training mode, so the layer is (about) 1-Lipschitz.
    The power method's starting vectors are drawn from ``generator``; PyTorch's global
    random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        nn.utils.parametrizations.spectral_norm(layer)
    parametrized: Any = layer  # spectral_norm added its parametrizations
    norm = parametrized.parametrizations.weight[0]
    with torch.no_grad():
        for name in ("_u", "_v"):
            buffer = getattr(norm, name)
            draw = torch.randn(
                buffer.shape,
                generator=generator,
                dtype=buffer.dtype,
                device=generator.device if generator is not None else buffer.device,
            )
            buffer.copy_(nn.functional.normalize(draw.to(buffer.device), dim=0))
        weight = parametrized.parametrizations.weight.original
        norm._power_method(norm._reshape_weight_to_matrix(weight), 15)
    return layer
