r"""Annealing paths: distributions :math:`p_\beta`, :math:`\beta \in [0, 1]`, from a tractable base to a model.

AIS, reverse AIS and linked importance sampling all walk a path

.. math::

    p_\beta(x) \propto f_\beta(x) = \exp(\log f(x, \beta))

whose end :math:`\beta = 0` is a *base* with known :math:`\log Z_0` that can be sampled exactly,
and whose end :math:`\beta = 1` is the model. A path (:class:`~ebmlib.estimators.AnnealingPath`) says

* ``log_z0`` and ``sample_base(sample_shape, *, generator)``: the base;
* ``log_f(x, beta)``: the unnormalized log density of :math:`p_\beta` (float64);
* ``at(beta)``: :math:`p_\beta` as an :class:`~ebmlib.models.EnergyModel`, so that any kernel
  can move chains under it;
* ``move(x, beta, kernel, *, generator)``: one kernel step under :math:`p_\beta`;
* ``increment(x, lo, hi)``: an importance weight factor,

  .. math::

      \log f(x, \beta_\text{hi}) - \log f(x, \beta_\text{lo}),

  formed in float64 from terms whose rounding the two ends share, so that its error shrinks
  with :math:`\beta_\text{hi} - \beta_\text{lo}` (a difference of two rounded float32
  values would carry an error of about :math:`10^{-7} |\log f|` at every step, however small);

* ``advance(x, lo, hi, kernel, *, generator)``: AIS's unit of work, the increment and then a
  move under :math:`p_\text{hi}`.

Which path a model gets is decided here, not by the model: :func:`~ebmlib.estimators.annealing_path` dispatches on
the model's type (``functools.singledispatch``):

* any model, any base :math:`q` with ``sample`` and ``log_prob``: the geometric path
  :math:`f_\beta = q^{1 - \beta} \tilde p^\beta` (:class:`~ebmlib.estimators.GeometricPath`);
* a Boltzmann machine from independent units with log-odds :math:`b_0`
  (:class:`~ebmlib.distributions.IndependentBernoulli`): couplings :math:`\beta W` and biases
  :math:`(1 - \beta) b_0 + \beta b`, every :math:`p_\beta` a Boltzmann machine
  (:class:`~ebmlib.estimators.BoltzmannPath`, the geometric path written in its own family);
* an RBM from an :class:`~ebmlib.distributions.IndependentBernoulli` base: :math:`W` and
  :math:`c` scaled by :math:`\beta`, visible biases blended :math:`(1 - \beta) b_0 + \beta b`
  (Salakhutdinov and Murray 2008), so that every :math:`p_\beta` is an RBM and block Gibbs
  moves stay available (:class:`~ebmlib.estimators.RBMPath`);
* a :class:`~ebmlib.models.LearnedNormalizer`: the wrapped model's path, with
  :math:`\log f` raised by :math:`\beta c` (:class:`~ebmlib.estimators.ShiftedPath`).

A model type of your own gets a path of its own by registering it::

    @ebmlib.estimators.annealing_path.register
    def _(model: MyModel, base):
        return MyPath(model, base)  # an AnnealingPath

The two binary paths run the default Gibbs kernel through fused code (one matrix product of
the weight increment is shared with the move); any other kernel runs on ``at(beta)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch.nn.functional import softplus

from ..distributions import IndependentBernoulli
from ..models import RBM, BoltzmannMachine, EnergyModel, LearnedNormalizer, block_gibbs
from ..models._scan import sweep
from ..samplers import Gibbs, Kernel, run_chain
from ..utils import _device_of, _dtype_of, draw

__all__ = ["AnnealingPath", "GeometricPath", "BoltzmannPath", "RBMPath", "ShiftedPath", "annealing_path"]


class AnnealingPath:
    """Base class; subclasses set ``model``, ``log_z0`` and implement ``sample_base``, ``log_f``, ``at``."""

    model: EnergyModel
    log_z0: torch.Tensor

    def sample_base(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:  # pragma: no cover
        """Exact draws from the base, ``sample_shape + [n]``, in the model's dtype."""
        raise NotImplementedError

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:  # pragma: no cover
        r""":math:`\log f(x, \beta)` per row, float64."""
        raise NotImplementedError

    def at(self, beta: float) -> EnergyModel:  # pragma: no cover
        r""":math:`p_\beta` as a model."""
        raise NotImplementedError

    def move(
        self, x: torch.Tensor, beta: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        r"""One step of ``kernel`` under :math:`p_\beta`."""
        return run_chain(kernel, self.at(beta), x, 1, generator=generator).x

    def increment(self, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        """``log_f(x, hi) - log_f(x, lo)`` per row (float64)."""
        return self.log_f(x, hi) - self.log_f(x, lo)

    def advance(
        self, x: torch.Tensor, lo: float, hi: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(increment(x, lo, hi), x moved once under p_hi)``."""
        return self.increment(x, lo, hi), self.move(x, hi, kernel, generator=generator)


class _Geometric(EnergyModel):
    """``E_beta(x) = -(1 - beta) log q(x) + beta E(x)``: one point on the geometric path."""

    def __init__(self, model: EnergyModel, base: Any, beta: float) -> None:
        super().__init__()
        self.target, self.base, self.beta = model, base, beta
        self.n_features, self.is_binary = model.n_features, model.is_binary

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return -(1 - self.beta) * self.base.log_prob(x).to(x.dtype) + self.beta * self.target.energy(x)


class GeometricPath(AnnealingPath):
    r"""The geometric path from a normalized base :math:`q` (:math:`\log Z_0 = 0`):

    .. math::

        \log f_\beta = (1 - \beta) \log q(x) - \beta E(x).
    """

    def __init__(self, model: EnergyModel, base: object) -> None:
        if not (callable(getattr(base, "sample", None)) and callable(getattr(base, "log_prob", None))):
            raise TypeError("base must have sample() and log_prob(), like a torch.distributions object")
        self.model, self.base = model, cast(Any, base)
        self.log_z0 = torch.zeros((), dtype=torch.float64, device=_device_of(model))

    def sample_base(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return draw(self.base, sample_shape, generator=generator).to(_dtype_of(self.model))

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        with torch.no_grad():
            return (1 - beta) * self.base.log_prob(x).double() - beta * self.model.energy(x).double()

    def increment(self, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        # -(hi - lo) (log q + E): one evaluation of each, and an error that shrinks with the step
        with torch.no_grad():
            return -(hi - lo) * (self.base.log_prob(x).double() + self.model.energy(x).double())

    def at(self, beta: float) -> EnergyModel:
        return _Geometric(self.model, self.base, beta)


class _FromIndependentUnits(AnnealingPath):
    """What the two binary paths share: an :class:`~ebmlib.distributions.IndependentBernoulli` base
    whose log-odds :math:`b_0` are blended into the model's visible biases :math:`b`."""

    b: torch.Tensor

    def _set_base(self, base: IndependentBernoulli) -> None:
        self.base, self.b0 = base, base.logits.to(self.b)

    def _bias(self, beta: float) -> torch.Tensor:
        return (1 - beta) * self.b0 + beta * self.b

    def sample_base(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.base.sample(sample_shape, generator=generator).to(self.b)


class BoltzmannPath(_FromIndependentUnits):
    r"""Couplings :math:`\beta W` and biases :math:`(1 - \beta) b_0 + \beta b`: each :math:`p_\beta` a
    Boltzmann machine."""

    model: BoltzmannMachine

    def __init__(self, model: BoltzmannMachine, base: IndependentBernoulli) -> None:
        self.model = model
        self.w, self.b = model.coupling.detach(), model.bias.detach()
        self._set_base(base)
        self.log_z0 = base.log_partition.to(self.b.device)

    def _terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x . b_0``, ``x . b`` and ``x^T W x / 2`` per row, float64 (x's rounding is shared)."""
        xw = ((x @ self.w.to(x)) * x).sum(1).double()
        return (x @ self.b0.to(x)).double(), (x @ self.b.to(x)).double(), 0.5 * xw

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        base, bias, pair = self._terms(x)
        return (1 - beta) * base + beta * (bias + pair)

    def increment(self, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        base, bias, pair = self._terms(x)
        return (hi - lo) * (bias + pair - base)

    def at(self, beta: float) -> BoltzmannMachine:
        m = BoltzmannMachine(self.model.n_features, init_std=0.0, device=self.b.device, dtype=self.b.dtype)
        with torch.no_grad():
            m.weight.copy_(beta * self.w)
            m.bias.copy_(self._bias(beta))
        return m

    def move(
        self, x: torch.Tensor, beta: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if type(kernel) is not Gibbs:
            return super().move(x, beta, kernel, generator=generator)
        w, bias = (beta * self.w).to(x), self._bias(beta).to(x)
        return sweep(x, w, bias, generator=generator, order=kernel.params["order"], backend=kernel.params["backend"])


class RBMPath(_FromIndependentUnits):
    r"""Salakhutdinov and Murray's RBM path from independent visible units with log-odds :math:`b_0`.

    :math:`p_\beta` is the RBM with weights :math:`\beta W`, hidden biases :math:`\beta c` and
    visible biases :math:`b_\beta = (1 - \beta) b_0 + \beta b`, so

    .. math::

        \log f_\beta(v) = v^\top b_\beta + \sum_j \operatorname{softplus}(\beta (c + v W)_j)

    and

    .. math::

        \log Z_0 = \sum_i \operatorname{softplus}(b_{0,i}) + n_\text{hidden} \log 2.
    """

    model: RBM

    def __init__(self, model: RBM, base: IndependentBernoulli) -> None:
        self.model = model
        self.w, self.b, self.c = (p.detach() for p in (model.weight, model.visible_bias, model.hidden_bias))
        self._set_base(base)
        self.log_z0 = (base.log_partition + model.n_hidden * math.log(2.0)).to(self.b.device)

    def _pre(self, v: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.c.to(v), v, self.w.to(v))

    def log_f(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        pre = self._pre(v).double()
        base, bias = (v @ self.b0.to(v)).double(), (v @ self.b.to(v)).double()
        return (1 - beta) * base + beta * bias + softplus(beta * pre).sum(1)

    def _increment(self, v: torch.Tensor, lo: float, hi: float, pre: torch.Tensor) -> torch.Tensor:
        # From the pre-activations, whose rounding both ends share, and summed in float64, so that
        # the error shrinks with hi - lo (two float32 log f's differ by ~1e-7 |log f|). For the
        # small steps of AIS, softplus(a + s) - softplus(a) = log1p(sigmoid(a) expm1(s)) is
        # accurate to a few float32 roundings of itself and no dearer than two softplus; a large
        # step takes the difference in float64.
        step = hi - lo
        visible = step * (v @ (self.b - self.b0).to(v)).double()
        scaled = step * pre
        if float(scaled.abs().max()) <= 1.0:  # log1p's argument stays above e^-1 - 1
            gap = torch.log1p(torch.sigmoid(lo * pre) * torch.expm1(scaled))
            return visible + gap.sum(1, dtype=torch.float64)
        wide = pre.double()
        return visible + (softplus(hi * wide) - softplus(lo * wide)).sum(1)

    def increment(self, v: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        return self._increment(v, lo, hi, self._pre(v))

    def at(self, beta: float) -> RBM:
        m = RBM(self.model.n_visible, self.model.n_hidden, init_std=0.0, device=self.b.device, dtype=self.b.dtype)
        with torch.no_grad():
            m.weight.copy_(beta * self.w)
            m.visible_bias.copy_(self._bias(beta))
            m.hidden_bias.copy_(beta * self.c)
        return m

    def _gibbs(self, v: torch.Tensor, beta: float, pre: torch.Tensor, generator) -> torch.Tensor:
        w, c, b = self.w.to(v), self.c.to(v), self._bias(beta).to(v)
        return block_gibbs(v, w, b, c, beta=beta, hidden_pre=pre, generator=generator)

    def move(
        self, v: torch.Tensor, beta: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if type(kernel) is not Gibbs:
            return super().move(v, beta, kernel, generator=generator)
        return self._gibbs(v, beta, self._pre(v), generator)  # block Gibbs is its own reversal

    def advance(
        self, v: torch.Tensor, lo: float, hi: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if type(kernel) is not Gibbs:
            return super().advance(v, lo, hi, kernel, generator=generator)
        pre = self._pre(v)  # shared by the weight increment and the move's hidden draw
        return self._increment(v, lo, hi, pre), self._gibbs(v, hi, pre, generator)


class ShiftedPath(AnnealingPath):
    r"""A path whose model is shifted by a constant: :math:`\log f + \beta c`
    (a :class:`~ebmlib.models.LearnedNormalizer`)."""

    def __init__(self, path: AnnealingPath, c: torch.Tensor) -> None:
        self.path, self.c = path, c
        self.model, self.log_z0 = path.model, path.log_z0

    def sample_base(
        self, sample_shape: int | Sequence[int] | torch.Size = (), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.path.sample_base(sample_shape, generator=generator)

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        return self.path.log_f(x, beta) + beta * float(self.c)

    def at(self, beta: float) -> EnergyModel:
        return self.path.at(beta)  # a constant changes no move

    def move(
        self, x: torch.Tensor, beta: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.path.move(x, beta, kernel, generator=generator)

    def increment(self, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        return self.path.increment(x, lo, hi) + (hi - lo) * float(self.c)

    def advance(
        self, x: torch.Tensor, lo: float, hi: float, kernel: Kernel, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        increment, x = self.path.advance(x, lo, hi, kernel, generator=generator)
        return increment + (hi - lo) * float(self.c), x


@functools.singledispatch
def annealing_path(model: EnergyModel, base: object) -> AnnealingPath:
    r"""The path of distributions from ``base`` to ``model`` that AIS, reverse AIS and linked
    importance sampling walk, chosen by the model's type.

    The default, for any model, is the geometric path (:class:`GeometricPath`)

    .. math::

        p_\beta \propto q(x)^{1 - \beta} \tilde p(x)^\beta

    from a base :math:`q` with ``sample`` and ``log_prob``. Registered types: :class:`~ebmlib.models.BoltzmannMachine`
    (:class:`BoltzmannPath`) and :class:`~ebmlib.models.RBM` (:class:`RBMPath`) from an
    :class:`~ebmlib.distributions.IndependentBernoulli` base, whose intermediate distributions
    are models of their own kind (so their fast Gibbs sweeps apply), and
    :class:`~ebmlib.models.LearnedNormalizer` (:class:`ShiftedPath` around the wrapped
    model's path). Register your own model type with ``@annealing_path.register``
    (see the module docstring).

    Args:
        model: the model at :math:`\beta = 1`.
        base: the base at :math:`\beta = 0`, as :func:`~ebmlib.estimators.resolve_base` returns it.

    Returns:
        An :class:`AnnealingPath`.
    """
    return GeometricPath(model, base)


@annealing_path.register
def _boltzmann(model: BoltzmannMachine, base: object) -> AnnealingPath:
    if isinstance(base, IndependentBernoulli):
        return BoltzmannPath(model, base)
    return GeometricPath(model, base)


@annealing_path.register
def _rbm(model: RBM, base: object) -> AnnealingPath:
    if isinstance(base, IndependentBernoulli):
        return RBMPath(model, base)
    return GeometricPath(model, base)


@annealing_path.register
def _shifted(model: LearnedNormalizer, base: object) -> AnnealingPath:
    return ShiftedPath(annealing_path(model.model, base), model.c)
