r"""A small normalizing flow: a density that can both sample and evaluate :math:`\log q(x)`.

NCE needs a noise distribution with both abilities, and the closer it is to the data
the more NCE learns per sample. A flow is the most flexible such distribution; it can
be fitted to the data by maximum likelihood or trained against the energy model
(flow contrastive estimation).

The flow here is RealNVP (Dinh et al. 2017): a learned elementwise affine map followed
by affine coupling layers. Each coupling layer leaves half of the coordinates (a mask)
unchanged and shifts and scales the other half by functions of the first half, so that
its inverse and its log-determinant cost one network evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .._validation import check_batch, check_generator, check_positive_int
from ..utils import _on_cpu
from ._init import linear
from .continuous import _sample_count

__all__ = ["CouplingFlow"]


class _Coupling(nn.Module):
    def __init__(self, mask: torch.Tensor, hidden: int, generator: torch.Generator | None) -> None:
        super().__init__()
        d = mask.numel()
        self.mask: torch.Tensor
        self.register_buffer("mask", mask)
        first = linear(d, hidden, generator)
        middle = linear(hidden, hidden, generator)
        last = linear(hidden, 2 * d, generator)
        nn.init.zeros_(last.weight)  # start at the identity map
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(first, nn.Tanh(), middle, nn.Tanh(), last)

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = kept
        for layer in self.net:  # in the input's dtype (parameters cast, autograd intact)
            if isinstance(layer, nn.Linear):
                h = nn.functional.linear(h, layer.weight.to(h.dtype), layer.bias.to(h.dtype))
            else:
                h = layer(h)
        shift, log_scale = h.chunk(2, dim=-1)
        free = 1.0 - self.mask.to(h.dtype)
        return shift * free, torch.tanh(log_scale) * free  # tanh keeps the scale in [1/e, e]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_scale(z * self.mask)
        return z * torch.exp(log_scale) + shift, log_scale.sum(-1)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_scale(x * self.mask)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(-1)


class CouplingFlow(nn.Module):
    r"""RealNVP density on :math:`\mathbb{R}^d`: :math:`x = f(z)`, :math:`z \sim \mathcal{N}(0, I)`, with exact
    :math:`\log q(x)`.

    It follows the ``torch.distributions`` interface that NCE uses for noise:
    ``sample``, ``rsample`` (differentiable in the flow's parameters) and ``log_prob``.

    Args:
        n_features: dimension ``d`` (>= 2).
        n_layers: number of coupling layers (masks alternate between even and odd coordinates).
        hidden: width of each coupling network's two hidden layers.
        loc: initial shift of the first, elementwise affine map (default 0).
        scale: initial scale of that map (default 1); set ``loc`` and ``scale`` to the
            data's mean and standard deviation to start from a matched diagonal Gaussian.
        generator: random generator for the coupling networks' initial weights.
        device, dtype: where and in what precision the parameters live. The flow is drawn on
            the CPU and then moved, so that one generator gives the same flow on every device.
    """

    def __init__(
        self,
        n_features: int,
        n_layers: int = 4,
        hidden: int = 64,
        loc: torch.Tensor | None = None,
        scale: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_features, "n_features")
        if n_features < 2:
            raise ValueError(f"n_features must be >= 2 for coupling layers, got {n_features}")
        check_positive_int(n_layers, "n_layers", allow_zero=True)
        check_positive_int(hidden, "hidden")
        self.n_features = n_features
        loc = torch.zeros(n_features) if loc is None else torch.as_tensor(loc, dtype=torch.float32)
        scale = torch.ones(n_features) if scale is None else torch.as_tensor(scale, dtype=torch.float32)
        if loc.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(f"loc and scale must have shape [{n_features}]")
        if not bool((scale > 0).all()):
            raise ValueError("scale must be positive")
        self.loc = nn.Parameter(loc.clone())
        self.log_scale = nn.Parameter(scale.log())
        parity = torch.arange(n_features) % 2
        generator = _on_cpu(generator)  # the flow is made on the CPU; move it with .to()
        self.layers = nn.ModuleList(_Coupling((parity == (i % 2)).float(), hidden, generator) for i in range(n_layers))
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def _forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x = f(z)`` and ``log |det df/dz|`` per row."""
        log_det = self.log_scale.sum().expand(z.shape[0])
        x = z * torch.exp(self.log_scale) + self.loc
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def _base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z * z).sum(-1) - 0.5 * self.n_features * math.log(2 * math.pi)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\log q(x)` per row: ``[batch, d] -> [batch]``, computed in the wider of the
        input's and the flow's dtypes (a float64 input to a float32 flow is not rounded to float32)."""
        check_batch(x, "x", self.n_features)
        z = x.to(torch.promote_types(x.dtype, self.loc.dtype))
        log_det = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for layer in reversed(self.layers):
            z, ld = cast(_Coupling, layer).inverse(z)
            log_det = log_det + ld
        loc, log_scale = self.loc.to(z.dtype), self.log_scale.to(z.dtype)
        z = (z - loc) * torch.exp(-log_scale)
        log_det = log_det - log_scale.sum()
        return self._base_log_prob(z) + log_det

    def rsample_with_log_prob(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Samples ``sample_shape + (d,)`` and their :math:`\log q` (``sample_shape``), both differentiable
        in the flow's parameters (an int ``n`` means ``(n,)``).

        One forward pass gives both, which is what the entropy term of adversarial
        training and flow contrastive estimation need.
        """
        shape, n = _sample_count(sample_shape)
        check_generator(generator, self.loc.device)
        z = torch.randn(n, self.n_features, generator=generator, device=self.loc.device, dtype=self.loc.dtype)
        x, log_det = self._forward(z)
        return x.reshape(*shape, self.n_features), (self._base_log_prob(z) - log_det).reshape(shape)

    def rsample(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Differentiable samples of shape ``sample_shape + (d,)`` (an int ``n`` means ``(n,)``)."""
        return self.rsample_with_log_prob(sample_shape, generator=generator)[0]

    def sample(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Samples of shape ``sample_shape + (d,)`` with no gradient."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)
