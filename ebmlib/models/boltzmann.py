"""The fully visible Boltzmann machine over binary vectors."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_positive_float, check_positive_int
from ..utils import _factory_device
from ._scan import sweep
from .base import EnergyModel

__all__ = ["BoltzmannMachine"]


class BoltzmannMachine(EnergyModel):
    r"""Fully visible Boltzmann machine: :math:`E(x) = -\tfrac{1}{2} x^\top W x - b^\top x` for ``x`` in {0,1}^n.

    Args:
        n_units: number of binary units ``n``.
        init_std: standard deviation of the (symmetric) initial couplings; biases start at 0.
        generator: random generator for the initial couplings (on ``device``).
        device, dtype: where and in what precision the parameters live.

    Attributes:
        weight: ``[n, n]`` parameter. The energy uses its symmetric part with the diagonal
            zeroed (:attr:`coupling`), so gradients keep it symmetric with a zero diagonal.
        bias: ``[n]`` parameter.
    """

    is_binary = True

    def __init__(
        self,
        n_units: int,
        init_std: float = 0.01,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_units, "n_units")
        if not init_std >= 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_features = n_units
        factory = {"device": _factory_device(device, generator), "dtype": dtype or torch.get_default_dtype()}
        w = torch.zeros(n_units, n_units, **factory)
        if init_std > 0:
            w.normal_(0.0, init_std, generator=generator)
        self.weight = nn.Parameter(self._symmetrize(w))
        self.bias = nn.Parameter(torch.zeros(n_units, **factory))

    @property
    def n_units(self) -> int:
        return self.n_features

    @staticmethod
    def _symmetrize(w: torch.Tensor) -> torch.Tensor:
        w = 0.5 * (w + w.T)
        return w.fill_diagonal_(0.0)

    @property
    def coupling(self) -> torch.Tensor:
        """The couplings the energy uses, ``weight`` made symmetric with a zero diagonal (``[n, n]``)."""
        return self._symmetrize(self.weight)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x)` per row: ``[batch, n] -> [batch]``."""
        w = self._param(self.coupling, x)
        b = self._param(self.bias, x)
        return -0.5 * ((x @ w) * x).sum(-1) - x @ b

    def local_fields(self, x: torch.Tensor) -> torch.Tensor:
        r"""Log-odds of each unit given all the others: :math:`\log p(x_i=1|x_{-i})/p(x_i=0|x_{-i})`.

        Shape ``[batch, n] -> [batch, n]``. Because the diagonal is zero, unit ``i``'s own
        value does not enter its field.
        """
        return torch.addmm(self._param(self.bias, x), x, self._param(self.coupling, x))

    def parameter_vector(self) -> torch.Tensor:
        """The free parameters as one float64 vector: the couplings above the diagonal, then the biases.

        Two models are the same distribution exactly when these vectors are equal, which makes
        the distance between them a distance between estimates.
        """
        upper = torch.triu_indices(self.n_features, self.n_features, 1, device=self.bias.device)
        return torch.cat([self.coupling.detach()[upper[0], upper[1]], self.bias.detach()]).double()

    # --- capabilities -----------------------------------------------------------------
    def gibbs_sweep(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        order: str = "forward",
        backend: str = "auto",
    ) -> torch.Tensor:
        r"""One systematic-scan sweep, unit :math:`i` redrawn from :math:`\sigma(f_i)` (its local field) in turn.

        Compiled with numba on the CPU (``ebmlib.models._scan``); ``backend`` forces
        ``"numba"`` or the tensor loop ``"torch"``. ``order="reverse"`` scans ``n-1, ..., 0``,
        the time reversal of the forward scan.
        """
        with torch.no_grad():
            weight, bias = self.coupling.detach().to(x.dtype), self.bias.detach().to(x.dtype)
            return sweep(x, weight, bias, generator=generator, order=order, backend=backend)

    def flip_gaps(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x) - E(x^{(i)})` from the local fields: ``-(2 x_i - 1) f_i``, no extra energy evaluation."""
        return -(2 * x - 1) * self.local_fields(x)

    def at_temperature(self, temperature: float) -> BoltzmannMachine:
        r"""The same model at temperature ``T``: :math:`p_T(x) \propto \exp(-E(x)/T)`, as a new model."""
        t = check_positive_float(temperature, "temperature")
        other = BoltzmannMachine(self.n_features, init_std=0.0, device=self.bias.device, dtype=self.bias.dtype)
        with torch.no_grad():
            other.weight.copy_(self.coupling / t)
            other.bias.copy_(self.bias / t)
        return other

    @classmethod
    def random(
        cls,
        n_units: int,
        weight_std: float = 1.0,
        bias_std: float = 1.0,
        *,
        generator: torch.Generator | None = None,
    ) -> BoltzmannMachine:
        """A model with Gaussian random couplings and biases (a known ground truth for tests), made
        on the generator's device."""
        device = _factory_device(None, generator)
        model = cls(n_units, init_std=0.0, device=device)
        with torch.no_grad():
            w = torch.randn(n_units, n_units, generator=generator, device=device) * weight_std
            model.weight.copy_(cls._symmetrize(w) * 2**0.5)  # off-diagonal std = weight_std
            model.bias.normal_(0.0, bias_std, generator=generator)
        return model

    def extra_repr(self) -> str:
        return f"n_units={self.n_features}"
