r"""Annealing paths: distributions ``p_beta``, ``beta`` in ``[0, 1]``, from a tractable base to a model.

AIS, reverse AIS and linked importance sampling all walk a path
``p_beta(x) ∝ f_beta(x) = exp(log_f(x, beta))`` whose end ``beta = 0`` is a *base* with known
``log Z_0`` that can be sampled exactly, and whose end ``beta = 1`` is the model. A path says

* ``log_z0`` and ``sample_base(n, generator)``: the base;
* ``log_f(x, beta)``: the unnormalized log density of ``p_beta`` (float64);
* ``at(beta)``: ``p_beta`` as an :class:`~ebmlib.models.EnergyModel`, so that any kernel can
  move chains under it;
* ``move(x, beta, kernel, generator)``: one kernel step under ``p_beta``;
* ``increment(x, lo, hi)``: ``log_f(x, hi) - log_f(x, lo)``, an importance weight factor;
* ``advance(x, lo, hi, kernel, generator)``: AIS's unit of work, the increment and then a
  move under ``p_hi``.

A model chooses its path (:meth:`ebmlib.models.EnergyModel.annealing_path`):

* any model, any base ``q`` with ``sample`` and ``log_prob``: the geometric path
  ``f_beta = q^(1 - beta) p~^beta`` (:class:`GeometricPath`);
* a Boltzmann machine from independent units with log-odds ``b0`` (:class:`Bernoulli`):
  couplings ``beta W`` and biases ``(1 - beta) b0 + beta b``, every ``p_beta`` a Boltzmann
  machine (:class:`BoltzmannPath`, the geometric path written in its own family);
* an RBM from a :class:`Bernoulli` base: ``W`` and ``c`` scaled by ``beta``, visible biases blended
  ``(1 - beta) b0 + beta b`` (Salakhutdinov and Murray 2008), so that every ``p_beta`` is an RBM
  and block Gibbs moves stay available (:class:`RBMPath`);
* a :class:`~ebmlib.models.LearnedNormalizer`: the wrapped model's path, with ``log_f`` raised
  by ``beta c`` (:class:`ShiftedPath`).

The two binary paths run the default Gibbs kernel through fused code (one matrix product of
the weight increment is shared with the move); any other kernel runs on ``at(beta)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn.functional import softplus

from .._random import bernoulli_
from .._validation import check_positive_int
from ..models import RBM, BoltzmannMachine, EnergyModel
from ..samplers import Gibbs, Kernel
from ..samplers._scan import systematic_scan
from ..utils import _shape, draw

__all__ = [
    "Bernoulli",
    "AnnealingPath",
    "GeometricPath",
    "BoltzmannPath",
    "RBMPath",
    "ShiftedPath",
    "resolve_base",
    "linear_schedule",
    "piecewise_schedule",
    "check_schedule",
]


class Bernoulli:
    """Independent binary units with log-odds ``logits``: a base for binary models.

    Follows the ``torch.distributions`` interface (``sample``, ``log_prob``), with a generator.

    Args:
        logits: ``[n]`` log-odds of each unit being on (float64 is kept as it is).
    """

    def __init__(self, logits: torch.Tensor) -> None:
        logits = torch.as_tensor(logits)
        if logits.dim() != 1 or not bool(torch.isfinite(logits).all()):
            raise ValueError("logits must be a finite 1-d tensor (one log-odds per unit)")
        self.logits = logits

    @property
    def log_partition(self) -> torch.Tensor:
        """``log sum_x exp(logits . x) = sum_i softplus(logits_i)`` (float64)."""
        return softplus(self.logits.double()).sum()

    def sample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        shape = _shape(sample_shape)
        probs = torch.sigmoid(self.logits).float().expand(*shape, len(self.logits)).contiguous()
        return bernoulli_(probs, generator)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.logits.to(x)).double() - self.log_partition

    def __repr__(self) -> str:
        return f"Bernoulli(n={len(self.logits)})"


def resolve_base(model: EnergyModel, base: object = None) -> object:
    """The base distribution an estimator anneals from.

    Args:
        model: the model at the end of the path.
        base: for a binary model ``None`` or ``"model"`` (independent units with the model's
            own visible biases, the default), ``"uniform"``, a ``[n]`` tensor of log-odds (for
            the base-rate model of Salakhutdinov and Murray, the log-odds of the training
            data's pixel means: :func:`ebmlib.utils.base_rate_logits`), or any object with
            ``sample`` and ``log_prob``. For a continuous model ``None`` (a standard normal) or
            such an object.

    The default for binary models was chosen by measurement (``benchmarks/ais.py``): on RBMs
    trained on MNIST and on random ones, at equal cost, the model's own visible biases were
    never worse than the base rate and far better than uniform, and need no data.
    """
    if model.is_binary:
        if base is None:
            base = "model"
        if isinstance(base, str):
            if base == "uniform":
                logits = torch.zeros(model.n_features, dtype=torch.float64)
            elif base == "model":
                logits = _visible_bias(model)
            else:
                raise ValueError(f"base must be 'model', 'uniform', log-odds or a distribution, got {base!r}")
            return Bernoulli(logits.to(_device(model)))
        if isinstance(base, torch.Tensor):
            if base.shape != (model.n_features,):
                raise ValueError(f"base logits must have shape [{model.n_features}], got {tuple(base.shape)}")
            return Bernoulli(base.to(_device(model)))
    elif base is None:
        device, dtype = _device(model), _dtype(model)
        zeros = torch.zeros(model.n_features, device=device, dtype=dtype)
        return torch.distributions.Independent(torch.distributions.Normal(zeros, torch.ones_like(zeros)), 1)
    if not (callable(getattr(base, "sample", None)) and callable(getattr(base, "log_prob", None))):
        raise TypeError(f"base must have sample() and log_prob(), like a torch.distributions object, got {base!r}")
    return base


def _device(model: EnergyModel) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _dtype(model: EnergyModel) -> torch.dtype:
    p = next(iter(model.parameters()), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def _visible_bias(model: EnergyModel) -> torch.Tensor:
    for name in ("visible_bias", "bias"):
        b = getattr(model, name, None)
        if isinstance(b, torch.Tensor) and b.shape == (model.n_features,):
            return b.detach().double()
    inner = getattr(model, "model", None)
    if isinstance(inner, EnergyModel):
        return _visible_bias(inner)
    raise ValueError(
        f"base='model' needs visible biases, and {type(model).__name__} has none; use base='uniform' or give log-odds"
    )


class AnnealingPath:
    """Base class; subclasses set ``model``, ``log_z0`` and implement ``sample_base``, ``log_f``, ``at``."""

    model: EnergyModel
    log_z0: torch.Tensor

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def at(self, beta: float) -> EnergyModel:  # pragma: no cover
        raise NotImplementedError

    def move(self, x: torch.Tensor, beta: float, kernel: Kernel, generator: torch.Generator | None) -> torch.Tensor:
        """One step of ``kernel`` under ``p_beta``."""
        m = self.at(beta)
        state, _ = kernel.step(m, kernel.init(m, x), generator)
        return state.x

    def increment(self, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        """``log_f(x, hi) - log_f(x, lo)`` per row (float64)."""
        return self.log_f(x, hi) - self.log_f(x, lo)

    def advance(
        self, x: torch.Tensor, lo: float, hi: float, kernel: Kernel, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(increment(x, lo, hi), x moved once under p_hi)``."""
        return self.increment(x, lo, hi), self.move(x, hi, kernel, generator)


class _Geometric(EnergyModel):
    """``E_beta(x) = -(1 - beta) log q(x) + beta E(x)``: one point on the geometric path."""

    def __init__(self, model: EnergyModel, base: object, beta: float) -> None:
        super().__init__()
        self.target, self.base, self.beta = model, base, beta
        self.n_features, self.is_binary = model.n_features, model.is_binary

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return -(1 - self.beta) * self.base.log_prob(x).to(x.dtype) + self.beta * self.target.energy(x)


class GeometricPath(AnnealingPath):
    """``log f_beta = (1 - beta) log q(x) - beta E(x)`` from a normalized base ``q`` (``log Z_0 = 0``)."""

    def __init__(self, model: EnergyModel, base: object) -> None:
        if not (callable(getattr(base, "sample", None)) and callable(getattr(base, "log_prob", None))):
            raise TypeError("base must have sample() and log_prob(), like a torch.distributions object")
        self.model, self.base = model, base
        self.log_z0 = torch.zeros((), dtype=torch.float64, device=_device(model))

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return draw(self.base, (n,), generator).to(_dtype(self.model))

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        with torch.no_grad():
            return (1 - beta) * self.base.log_prob(x).double() - beta * self.model.energy(x).double()

    def at(self, beta: float) -> EnergyModel:
        return _Geometric(self.model, self.base, beta)


class BoltzmannPath(AnnealingPath):
    """Couplings ``beta W`` and biases ``(1 - beta) b0 + beta b``: each ``p_beta`` a Boltzmann machine."""

    def __init__(self, model: BoltzmannMachine, base: Bernoulli) -> None:
        self.model = model
        self.w, self.b = model.coupling.detach(), model.bias.detach()
        self.b0 = base.logits.to(self.b)
        self.base = base
        self.log_z0 = base.log_partition.to(self.b.device)

    def _bias(self, beta: float) -> torch.Tensor:
        return (1 - beta) * self.b0 + beta * self.b

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return self.base.sample((n,), generator).to(self.b)

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        return (x @ self._bias(beta).to(x) + 0.5 * beta * ((x @ self.w.to(x)) * x).sum(1)).double()

    def at(self, beta: float) -> BoltzmannMachine:
        m = BoltzmannMachine(self.model.n_features, init_std=0.0, device=self.b.device, dtype=self.b.dtype)
        with torch.no_grad():
            m.weight.copy_(beta * self.w)
            m.bias.copy_(self._bias(beta))
        return m

    def move(self, x: torch.Tensor, beta: float, kernel: Kernel, generator: torch.Generator | None) -> torch.Tensor:
        if type(kernel) is not Gibbs:
            return super().move(x, beta, kernel, generator)
        order = kernel.params["order"]
        backend = kernel.params["backend"]
        noise = torch.logit(torch.rand(x.shape, dtype=x.dtype, device=x.device, generator=generator))
        w, bias = (beta * self.w).to(x), self._bias(beta).to(x)
        if order == "reverse":
            return systematic_scan(x.flip(1), w.flip(0, 1), bias.flip(0), noise, backend).flip(1)
        return systematic_scan(x, w, bias, noise, backend)


class RBMPath(AnnealingPath):
    """Salakhutdinov and Murray's RBM path from independent visible units with log-odds ``b0``.

    ``p_beta`` is the RBM with weights ``beta W``, hidden biases ``beta c`` and visible biases
    ``(1 - beta) b0 + beta b``, so ``log f_beta(v) = v . b_beta + sum_j softplus(beta (c + v W)_j)``
    and ``log Z_0 = sum_i softplus(b0_i) + n_hidden log 2``.
    """

    def __init__(self, model: RBM, base: Bernoulli) -> None:
        self.model = model
        self.w, self.b, self.c = (p.detach() for p in (model.weight, model.visible_bias, model.hidden_bias))
        self.b0 = base.logits.to(self.b)
        self.base = base
        self.log_z0 = (base.log_partition + model.n_hidden * math.log(2.0)).to(self.b.device)

    def _bias(self, beta: float) -> torch.Tensor:
        return (1 - beta) * self.b0 + beta * self.b

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return self.base.sample((n,), generator).to(self.b)

    def _pre(self, v: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.c.to(v), v, self.w.to(v))

    def _log_f(self, v: torch.Tensor, beta: float, pre: torch.Tensor) -> torch.Tensor:
        return (v @ self._bias(beta).to(v) + softplus(beta * pre).sum(1)).double()

    def log_f(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        return self._log_f(v, beta, self._pre(v))

    def increment(self, v: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        pre = self._pre(v)
        return self._log_f(v, hi, pre) - self._log_f(v, lo, pre)

    def at(self, beta: float) -> RBM:
        m = RBM(self.model.n_visible, self.model.n_hidden, init_std=0.0, device=self.b.device, dtype=self.b.dtype)
        with torch.no_grad():
            m.weight.copy_(beta * self.w)
            m.visible_bias.copy_(self._bias(beta))
            m.hidden_bias.copy_(beta * self.c)
        return m

    def _gibbs(self, v: torch.Tensor, beta: float, pre: torch.Tensor, generator) -> torch.Tensor:
        h = bernoulli_(torch.sigmoid(beta * pre), generator)
        logits = torch.addmm(self._bias(beta).to(v), h, self.w.to(v).T, alpha=beta)
        return bernoulli_(logits.sigmoid_(), generator)

    def move(self, v: torch.Tensor, beta: float, kernel: Kernel, generator: torch.Generator | None) -> torch.Tensor:
        if type(kernel) is not Gibbs:
            return super().move(v, beta, kernel, generator)
        return self._gibbs(v, beta, self._pre(v), generator)  # block Gibbs is its own reversal

    def advance(
        self, v: torch.Tensor, lo: float, hi: float, kernel: Kernel, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if type(kernel) is not Gibbs:
            return super().advance(v, lo, hi, kernel, generator)
        pre = self._pre(v)  # shared by the weight increment and the move's hidden draw
        increment = self._log_f(v, hi, pre) - self._log_f(v, lo, pre)
        return increment, self._gibbs(v, hi, pre, generator)


class ShiftedPath(AnnealingPath):
    """A path whose model is shifted by a constant: ``log_f + beta c`` (a :class:`~ebmlib.models.LearnedNormalizer`)."""

    def __init__(self, path: AnnealingPath, c: torch.Tensor) -> None:
        self.path, self.c = path, c
        self.model, self.log_z0 = path.model, path.log_z0

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return self.path.sample_base(n, generator)

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        return self.path.log_f(x, beta) + beta * float(self.c)

    def at(self, beta: float) -> EnergyModel:
        return self.path.at(beta)  # a constant changes no move

    def move(self, x, beta, kernel, generator):
        return self.path.move(x, beta, kernel, generator)

    def increment(self, x, lo, hi):
        return self.path.increment(x, lo, hi) + (hi - lo) * float(self.c)

    def advance(self, x, lo, hi, kernel, generator):
        increment, x = self.path.advance(x, lo, hi, kernel, generator)
        return increment + (hi - lo) * float(self.c), x


def check_schedule(betas: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """An annealing schedule as a float64 tensor: starts at 0, ends at 1, never decreases."""
    b = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
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
    return torch.linspace(0.0, 1.0, n_betas, dtype=torch.float64)


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
            torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.9, 1.0, n_betas - first - second, dtype=torch.float64),
        ]
    )
