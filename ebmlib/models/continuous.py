"""Continuous energy models on R^d: a Gaussian with closed-form Z, a flexible MLP energy, and
any ``torch.distributions`` density as an energy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .._validation import check_positive_float, check_positive_int
from ..utils import _factory_device, _shape, draw
from ._init import M, conv2d, linear, spectral_normalized
from .base import EnergyModel

__all__ = ["GaussianEnergy", "MLPEnergy", "ConvEnergy", "DistributionEnergy"]


def _sample_count(sample_shape: int | Sequence[int] | torch.Size) -> tuple[torch.Size, int]:
    shape = _shape(sample_shape)
    return shape, math.prod(shape)


class GaussianEnergy(EnergyModel):
    r"""Gaussian energy with precision :math:`\Lambda = L L^\top`:

    .. math::

        E(x) = \tfrac{1}{2} (x - \mu)^\top \Lambda (x - \mu).

    Its partition function is known in closed form,

    .. math::

        \log Z = \tfrac{d}{2} \log(2 \pi) - \tfrac{1}{2} \log \det \Lambda,

    which makes it the ground truth for every continuous method in the book. It samples like a
    ``torch.distributions`` object.

    Args:
        n_features: dimension ``d``.
        mean: initial mean ``[d]`` (default zeros).
        precision: initial precision matrix ``[d, d]``, symmetric positive definite
            (default identity).
        device, dtype: where and in what precision the parameters live (default: the
            precision's device, the default dtype).

    Attributes:
        mean: ``[d]`` parameter.
        precision_tril: ``[d, d]`` parameter; its lower triangle is ``L``.
    """

    def __init__(
        self,
        n_features: int,
        mean: torch.Tensor | None = None,
        precision: torch.Tensor | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_features, "n_features")
        self.n_features = n_features
        if mean is None:
            mean = torch.zeros(n_features)
        if precision is None:
            precision = torch.eye(n_features)
        mean, precision = torch.as_tensor(mean), torch.as_tensor(precision)
        if tuple(mean.shape) != (n_features,):
            raise ValueError(f"mean must have shape [{n_features}], got {tuple(mean.shape)}")
        if tuple(precision.shape) != (n_features, n_features):
            raise ValueError(f"precision must have shape [{n_features}, {n_features}], got {tuple(precision.shape)}")
        factor, info = torch.linalg.cholesky_ex(precision.to(torch.float64))
        if not torch.allclose(precision, precision.T) or int(info) != 0:
            raise ValueError("precision must be a symmetric positive definite matrix")
        dtype = dtype or torch.get_default_dtype()
        device = precision.device if device is None else device
        self.mean = nn.Parameter(mean.detach().clone().to(device=device, dtype=dtype))
        # cholesky returns a column-major factor; a parameter's gradient takes the parameter's
        # strides, and optimizers such as LBFGS need contiguous gradients
        self.precision_tril = nn.Parameter(factor.to(device=device, dtype=dtype).contiguous())

    def _factor(self, like: torch.Tensor) -> torch.Tensor:
        return torch.tril(self._param(self.precision_tril, like))

    @property
    def precision(self) -> torch.Tensor:
        r""":math:`\Lambda = L L^\top`, shape ``[d, d]``."""
        factor = self._factor(self.precision_tril)
        return factor @ factor.T

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x)` per row: ``[batch, d] -> [batch]``."""
        z = (x - self._param(self.mean, x)) @ self._factor(x)
        return 0.5 * (z * z).sum(-1)

    def energy_and_score(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Both in closed form: the score is :math:`-\Lambda (x - \mu)`."""
        factor = self._factor(x)
        centred = x - self._param(self.mean, x)
        z = centred @ factor
        return 0.5 * (z * z).sum(-1), -(z @ factor.T)

    def closed_form_log_partition(self) -> torch.Tensor:
        r"""The closed-form :math:`\log Z`, a 0-d float64 tensor (differentiable):

        .. math::

            \tfrac{d}{2} \log 2 \pi - \tfrac{1}{2} \log \det \Lambda.
        """
        diag = torch.diagonal(self.precision_tril).to(torch.float64)
        return 0.5 * self.n_features * math.log(2 * math.pi) - torch.log(diag.abs()).sum()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""Normalized :math:`\log p(x)` per row, float64."""
        self.check_input(x)
        return -self.energy(x.to(torch.float64)) - self.closed_form_log_partition()

    def sample(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        r"""Exact samples of shape ``sample_shape + (d,)``: :math:`x = \mu + L^{-\top} z` with ``z ~ N(0, I)``.

        ``sample_shape`` may be an int ``n`` (the same as ``(n,)``).
        """
        shape, n = _sample_count(sample_shape)
        with torch.no_grad():
            factor = torch.tril(self.precision_tril)
            z = torch.randn(n, self.n_features, generator=generator, device=factor.device, dtype=factor.dtype)
            x = torch.linalg.solve_triangular(factor.T, z.T, upper=True).T + self.mean
        return x.reshape(*shape, self.n_features)

    def at_temperature(self, temperature: float) -> GaussianEnergy:
        """The same model at temperature ``T`` (precision divided by ``T``), as a new model."""
        t = check_positive_float(temperature, "temperature")
        return GaussianEnergy(self.n_features, self.mean.detach().clone(), self.precision.detach() / t).to(self.mean)


class MLPEnergy(EnergyModel):
    r"""A flexible energy on :math:`\mathbb{R}^d`: :math:`E(x) = f_\theta(x) + \|x\|^2 / (2 s^2)`.

    :math:`f_\theta` is a multilayer perceptron with smooth (SiLU) activations, so that the
    score and its derivatives exist everywhere (score matching needs them). The weak
    Gaussian envelope of width ``s`` keeps :math:`Z` finite whatever the network learns. The
    network runs in the dtype of its input (float64 rows give a float64 energy).

    Args:
        n_features: dimension ``d``.
        hidden: widths of the hidden layers.
        envelope_std: ``s``; ``None`` removes the envelope (then :math:`Z` may be infinite).
        spectral_norm: divide every weight matrix by its largest singular value (Miyato et
            al. 2018), a stabiliser for energies trained with Langevin negatives (Du and
            Mordatch 2019): it bounds how steep the network can make the energy.
        generator: random generator for the initial weights (PyTorch's default
            initialisation, uniform in :math:`\pm 1 / \sqrt{\text{fan\_in}}`), on ``device``.
        device, dtype: where and in what precision the parameters live.

    Attributes:
        net: the layers, an ``nn.Sequential`` of ``nn.Linear`` and ``nn.SiLU``.
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (64, 64),
        envelope_std: float | None = 10.0,
        *,
        spectral_norm: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_features, "n_features")
        self.n_features = n_features
        if envelope_std is not None:
            check_positive_float(envelope_std, "envelope_std")
        self.envelope_std = envelope_std
        layers: list[nn.Module] = []
        width = n_features
        device = _factory_device(device, generator)
        for h in [*hidden, 1]:
            check_positive_int(h, "hidden[i]")
            layer = linear(width, h, generator, device, dtype)
            layers += [spectral_normalized(layer, generator) if spectral_norm else layer, nn.SiLU()]
            width = h
        self.net = nn.Sequential(*layers[:-1])

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x)` per row: ``[batch, d] -> [batch]``."""
        h = x
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                h = nn.functional.linear(h, self._param(layer.weight, x), self._param(layer.bias, x))
            else:
                h = layer(h)
        e = h.squeeze(-1)
        if self.envelope_std is not None:
            e = e + 0.5 * (x * x).sum(-1) / self.envelope_std**2
        return e


class ConvEnergy(EnergyModel):
    r"""A small convolutional energy for images: :math:`E(x) = f_\theta(x) + \|x - m\|^2 / (2 s^2)`.

    Rows are flattened one-channel images, ``[batch, h * w]``. :math:`f_\theta` is a 3x3
    convolution to ``channels[0]`` maps, then one 3x3 convolution with stride 2 for each
    further entry of ``channels``, a linear layer to ``hidden`` units and a linear layer to
    one number, with the smooth swish activation :math:`x \sigma(x)` (SiLU) after every layer but
    the last, as in the deep energy models of Du and Mordatch (2019): Langevin sampling and
    score-based training need a score that is continuous in ``x``. The network runs in the
    dtype of its input.

    Args:
        image_shape: ``(h, w)``, e.g. ``(8, 8)`` for the scikit-learn digits or ``(28, 28)``
            for MNIST.
        channels: feature maps of each convolution; all but the first halve the resolution.
        hidden: width of the dense layer.
        envelope_std: ``s`` of a Gaussian envelope that keeps :math:`Z` finite whatever the network
            learns (``None``: no envelope, and :math:`Z` may be infinite). With :math:`f_\theta = 0` the
            model *is* the envelope, :math:`\mathcal{N}(m, s^2 I)`: centred on the data and about as wide,
            it is also a good base for AIS and a good prior for fresh Langevin chains.
        envelope_mean: ``m``, ``[h * w]`` or a number (default 0); a buffer, not learned.
        spectral_norm: spectral normalisation of every layer (see :class:`MLPEnergy`).
        generator, device, dtype: as in :class:`MLPEnergy`.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (8, 8),
        channels: Sequence[int] = (16, 32, 32),
        hidden: int = 64,
        envelope_std: float | None = None,
        envelope_mean: torch.Tensor | float = 0.0,
        *,
        spectral_norm: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if len(image_shape) != 2:
            raise ValueError(f"image_shape must be (height, width), got {tuple(image_shape)}")
        h, w = (check_positive_int(v, "image_shape[i]") for v in image_shape)
        if not channels:
            raise ValueError("channels must list at least one convolution")
        check_positive_int(hidden, "hidden")
        if envelope_std is not None:
            check_positive_float(envelope_std, "envelope_std")
        self.image_shape, self.n_features, self.envelope_std = (h, w), h * w, envelope_std
        device = _factory_device(device, generator)
        centre = torch.as_tensor(envelope_mean, dtype=dtype or torch.get_default_dtype())
        if centre.dim() > 1 or (centre.dim() == 1 and centre.shape[0] != h * w):
            raise ValueError(f"envelope_mean must be a number or a [{h * w}] tensor, got shape {tuple(centre.shape)}")
        self.envelope_mean: torch.Tensor
        self.register_buffer("envelope_mean", centre.expand(h * w).clone().to(device))

        def wrap(layer: M) -> M:
            return spectral_normalized(layer, generator) if spectral_norm else layer

        convs, width = [], 1
        for i, c in enumerate(channels):
            check_positive_int(c, "channels[i]")
            stride = 1 if i == 0 else 2
            convs.append(wrap(conv2d(width, c, 3, generator, device, dtype, stride=stride, padding=1)))
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            width = c
        self.convs = nn.ModuleList(convs)
        self.dense = wrap(linear(width * h * w, hidden, generator, device, dtype))
        self.out = wrap(linear(hidden, 1, generator, device, dtype))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x)` per row: ``[batch, h * w] -> [batch]``."""
        act = nn.functional.silu
        z = x.reshape(-1, 1, *self.image_shape)
        for conv in cast(list[nn.Conv2d], list(self.convs)):
            z = act(
                nn.functional.conv2d(
                    z,
                    self._param(conv.weight, x),
                    self._param(cast(torch.Tensor, conv.bias), x),
                    stride=conv.stride,
                    padding=conv.padding,
                )
            )
        z = act(nn.functional.linear(z.flatten(1), self._param(self.dense.weight, x), self._param(self.dense.bias, x)))
        e = nn.functional.linear(z, self._param(self.out.weight, x), self._param(self.out.bias, x)).squeeze(-1)
        if self.envelope_std is not None:
            d = x - self.envelope_mean.to(x)
            e = e + 0.5 * (d * d).sum(-1) / self.envelope_std**2
        return e

    def envelope(self) -> torch.distributions.Distribution:
        r"""The envelope :math:`\mathcal{N}(m, s^2 I)` as a distribution (a base for AIS, a prior for chains)."""
        if self.envelope_std is None:
            raise ValueError("this ConvEnergy has no envelope (envelope_std=None)")
        m = self.envelope_mean.detach()
        return torch.distributions.Independent(torch.distributions.Normal(m, torch.full_like(m, self.envelope_std)), 1)


class DistributionEnergy(EnergyModel):
    r"""Wrap a ``torch.distributions`` object as an energy model: :math:`E(x) = -\log p(x)`.

    The result is normalized by construction (:math:`\log Z = 0`), so it serves as a target
    with a known partition function and known samples, for instance a multimodal mixture.
    Float64 rows are scored in float64 (the distribution's float32 parameters are promoted).

    Args:
        distribution: a distribution over vectors (``event_shape == (d,)``) with ``log_prob``.
    """

    def __init__(self, distribution: torch.distributions.Distribution) -> None:
        super().__init__()
        if not isinstance(distribution, torch.distributions.Distribution) or len(distribution.event_shape) != 1:
            raise TypeError("distribution must be a torch distribution over vectors (event_shape (d,))")
        self.distribution = distribution
        self.n_features = int(distribution.event_shape[0])

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`-\log p(x)` per row, ``[batch, d] -> [batch]``, in ``x``'s dtype."""
        return -self.distribution.log_prob(x).to(x.dtype)

    def closed_form_log_partition(self) -> torch.Tensor:
        """Zero: the wrapped density is already normalized (float64, on the distribution's device)."""
        try:
            device = self.distribution.mean.device
        except (AttributeError, NotImplementedError):  # a distribution without a mean
            device = torch.device("cpu")
        return torch.zeros((), dtype=torch.float64, device=device)

    def sample(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Exact samples of shape ``sample_shape + (d,)``, reproducible from ``generator``."""
        return draw(self.distribution, sample_shape, generator=generator)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The exact log-density per row, ``[batch]``."""
        self.check_input(x)
        return -self.energy(x)
