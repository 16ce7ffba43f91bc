r"""The interface every ebmlib model shares.

A model defines an unnormalized density :math:`\tilde p(x) = \exp(-E(x))` over rows of ``x``:

* ``energy(x)`` returns :math:`E(x)`, one value per row (``[batch, n_features] -> [batch]``);
* ``unnormalized_log_prob(x)`` returns :math:`-E(x)`;
* ``score(x)`` returns :math:`\nabla_x \log \tilde p(x) = -\nabla_x E(x)` (continuous models), and
  ``energy_and_score(x)`` both from one pass;
* ``n_features`` is the width of a row and ``is_binary`` says whether rows are 0/1.

A subclass sets ``n_features`` (and ``is_binary`` for 0/1 data) and implements ``energy``.
Every ``energy`` is wrapped so that a row of the wrong width is refused with a ``ValueError``
naming ``x`` and the expected shape (the check reads only the shape: it costs nothing and
never synchronises a GPU). ``energy`` must accept float64 rows even when the parameters are
float32: read each parameter through ``self._param(p, x)``, which casts it to ``x``'s dtype,
so that :mod:`ebmlib.exact` can evaluate the model in double precision.

**Capabilities.** The rest of the library asks a model what it supports through the methods
below, never through ``isinstance``, so wrappers (``LearnedNormalizer``) and your own models
get the fast paths and the right errors by overriding them:

* :meth:`~EnergyModel.enumeration`: how :mod:`ebmlib.exact` sums over a binary model's states
  (which layer, and the structure that sums out the other);
* :meth:`~EnergyModel.closed_form_log_partition`: :math:`\log Z` in closed form, where there is one;
* :meth:`~EnergyModel.gibbs_sweep`: one Gibbs sweep (block Gibbs for an RBM, a compiled
  systematic scan for a Boltzmann machine, energy differences otherwise);
* :meth:`~EnergyModel.flip_gaps`: :math:`E(x) - E(x^{(i)})` for every unit :math:`i`, with
  :math:`x^{(i)}` the state with unit :math:`i` flipped, which pseudolikelihood and ratio matching
  are made of;
* :meth:`~EnergyModel.at_temperature`: the model with its energy divided by ``T`` (parallel
  tempering).

The path from a tractable base to the model that AIS and linked importance sampling walk is
not a model method: the estimators layer chooses it, through
:func:`ebmlib.estimators.annealing_path`, which dispatches on the model's type (register your
own model types there).

The partition function :math:`Z = \sum_x \tilde p(x)` (or the integral) is *not* part of the interface:
that is the whole point of the book. Where it is tractable it lives in :mod:`ebmlib.exact`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .._validation import check_batch, check_positive_float, check_width
from ..utils import logistic_noise

__all__ = ["EnergyModel", "Enumeration", "Bipartite"]


@dataclass(frozen=True)
class Bipartite:
    r"""A two-layer structure,

    .. math::

        \tilde p(v, h) = \exp\big(\text{log\_prior}(h) + v \cdot \text{visible\_logits}(h)\big).

    Given ``h`` the visible units are independent Bernoullis with log-odds
    ``visible_logits(h)``; summing them out gives

    .. math::

        \log \tilde p(h) = \text{log\_prior}(h) + \sum_i \operatorname{softplus}(\text{visible\_logits}(h)_i).

    An RBM has ``log_prior(h) = c . h`` and ``visible_logits(h) = b + W h``.

    Attributes:
        n_hidden: width of ``h``.
        log_prior: ``[m, n_hidden] -> [m]``.
        visible_logits: ``[m, n_hidden] -> [m, n_visible]``.
        weight, bias: when given, ``visible_logits(h) = bias + h @ weight.T`` (``weight`` is
            ``[n_visible, n_hidden]``). Exact filling-in then projects the rows onto the hidden
            units (an inner dimension of ``n_hidden``, not ``n_visible``).
    """

    n_hidden: int
    log_prior: Callable[[torch.Tensor], torch.Tensor]
    visible_logits: Callable[[torch.Tensor], torch.Tensor]
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None


@dataclass(frozen=True)
class Enumeration:
    """How to sum exactly over a binary model's states (see :mod:`ebmlib.exact`).

    Attributes:
        layer: ``"visible"`` (sum over the rows ``x`` themselves) or ``"hidden"`` (sum over a
            hidden layer, with the visible units summed out in closed form through ``bipartite``).
        n_bits: the number of binary units enumerated (``2^n_bits`` states).
        log_weight: unnormalized log-probability of enumerated states, ``[m, n_bits] -> [m]``,
            differentiable in the parameters; ``log Z = logsumexp`` of it over all states.
        bipartite: the two-layer structure, when the model has one (needed by hidden-layer
            enumeration, block-Gibbs transition matrices and exact filling-in).
    """

    layer: str
    n_bits: int
    log_weight: Callable[[torch.Tensor], torch.Tensor]
    bipartite: Bipartite | None = None

    def shifted(self, shift: Callable[[torch.Tensor], torch.Tensor]) -> Enumeration:
        """The same enumeration with ``shift(states)`` (a constant) added to every log weight."""
        inner = self.bipartite
        bip = None
        if inner is not None:
            bip = Bipartite(
                inner.n_hidden, lambda h: inner.log_prior(h) + shift(h), inner.visible_logits, inner.weight, inner.bias
            )
        return Enumeration(self.layer, self.n_bits, lambda s: self.log_weight(s) + shift(s), bip)


def _width_checked(energy: Callable) -> Callable:
    @functools.wraps(energy)
    def checked(self: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        check_width(x, "x", self.n_features)
        return energy(self, x)

    checked._width_checked = True  # type: ignore[attr-defined]
    return checked


class EnergyModel(nn.Module):
    """Base class: an energy function over rows of ``x`` of width ``n_features``."""

    n_features: int
    is_binary: bool = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        energy = cls.__dict__.get("energy")
        if energy is not None and not getattr(energy, "_width_checked", False):
            cls.energy = _width_checked(energy)  # type: ignore[method-assign]

    def energy(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Energy :math:`E(x)` of each row: ``[batch, n_features] -> [batch]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`energy`."""
        return self.energy(x)

    def unnormalized_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log \tilde p(x) = -E(x)`, shape ``[batch]``."""
        return -self.energy(x)

    def energy_and_score(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`E(x)` (``[batch]``, detached) and the score :math:`-\nabla_x E(x)` (``[batch, n]``) from one pass.

        Gradients flow only to ``x``: the parameters' ``.grad`` are left untouched, so this is
        safe to call inside a sampler while training.
        """
        if self.is_binary:
            raise TypeError(f"{type(self).__name__} is a binary model: it has no score")
        if not getattr(type(self).energy, "_width_checked", False):  # else energy checks it
            check_width(x, "x", self.n_features)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            energy = self.energy(x)
            (grad,) = torch.autograd.grad(energy.sum(), x)
        return energy.detach(), -grad

    def score(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla_x \log \tilde p(x)`, shape ``[batch, n_features]``, by autograd."""
        return self.energy_and_score(x)[1]

    def check_input(self, x: object, name: str = "x") -> torch.Tensor:
        """Validate a batch for this model: shape, dtype, finite values, and 0/1 entries if binary.

        This reads the values; public entry points call it once per call.
        """
        return check_batch(x, name, self.n_features, binary=self.is_binary)

    def _param(self, p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A parameter cast to the dtype of ``like``; autograd still flows through it.

        This is what lets :mod:`ebmlib.exact` evaluate a float32 model in float64.
        """
        return p if p.dtype == like.dtype else p.to(like.dtype)

    # --- capabilities ---------------------------------------------------------------
    def enumeration(self) -> Enumeration | None:
        """How :mod:`ebmlib.exact` sums over this model's states; ``None`` if it cannot.

        The default enumerates the rows themselves for a binary model (``2^n_features``
        states) and gives ``None`` for a continuous one.
        """
        if not self.is_binary:
            return None
        return Enumeration("visible", self.n_features, lambda s: -self.energy(s))

    def closed_form_log_partition(self) -> torch.Tensor | None:
        r""":math:`\log Z` in closed form as a 0-d float64 tensor, or ``None`` (the default)."""
        return None

    def gibbs_sweep(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, order: str = "forward"
    ) -> torch.Tensor:
        r"""One systematic-scan Gibbs sweep of a binary model: ``[chains, n] -> [chains, n]`` (new tensor).

        The default reads each conditional off two energy evaluations,

        .. math::

            \log p(x_i = 1 | x_{-i}) / p(x_i = 0 | x_{-i}) = E(x, x_i = 0) - E(x, x_i = 1),

        so a sweep costs ``2 n`` energies; models with structure override it.

        Args:
            x: ``[chains, n]`` 0/1 states.
            generator: random generator on ``x``'s device.
            order: ``"forward"`` (units ``0, ..., n-1``) or ``"reverse"``: the reverse scan is the
                time reversal of the forward one (linked importance sampling needs it).
        """
        if not self.is_binary:
            raise TypeError(f"Gibbs sampling needs a binary model, {type(self).__name__} is continuous")
        units = _scan_order(self.n_features, order)
        with torch.no_grad():
            x = x.clone()
            noise = logistic_noise(x, generator=generator)
            for i in units:
                x[:, i] = 0.0
                e_off = self.energy(x)
                x[:, i] = 1.0
                e_on = self.energy(x)
                x[:, i] = (e_off - e_on > noise[:, i]).to(x.dtype)
        return x

    def flip_gaps(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x) - E(x^{(i)})` for every unit :math:`i` (:math:`x^{(i)}`: unit :math:`i` flipped),
        ``[batch, n] -> [batch, n]``.

        The default evaluates all ``n`` flipped copies of every row in one batched call.
        """
        batch, n = x.shape
        flipped = x[:, None, :].repeat(1, n, 1)
        idx = torch.arange(n, device=x.device)
        flipped[:, idx, idx] = 1 - flipped[:, idx, idx]
        return self.energy(x)[:, None] - self.energy(flipped.reshape(batch * n, n)).reshape(batch, n)

    def at_temperature(self, temperature: float) -> EnergyModel:
        r"""The model at temperature ``T``: :math:`p_T(x) \propto \exp(-E(x) / T)`.

        The default wraps this model (sharing its parameters); models whose family is closed
        under scaling (Boltzmann machines, RBMs, Gaussians) return a new model of their own kind.
        """
        from .wrappers import Tempered

        return Tempered(self, check_positive_float(temperature, "temperature"))


def _scan_order(n: int, order: str) -> range:
    if order == "forward":
        return range(n)
    if order == "reverse":
        return range(n - 1, -1, -1)
    raise ValueError(f"order must be 'forward' or 'reverse', got {order!r}")
