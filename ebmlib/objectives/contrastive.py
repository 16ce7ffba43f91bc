"""Contrastive divergence and persistent chains: cheaper negative phases.

The naive algorithm (:func:`~ebmlib.objectives.naive_mcmc`) burns in fresh chains from
noise at every update. Two ways to avoid paying that again and again:

* **CD-k** (Hinton 2002): start the chains *at the data* and run ``k`` steps. Cheap and
  low-variance, but biased: regions the chains never reach in ``k`` steps from the data
  are never pushed down.
* **PCD-k / SML** (Tieleman 2008; Younes 1998): keep the chains from one update to the
  next and run ``k`` more steps. With small learning rates the chains stay close to
  the model's distribution, and the gradient is close to the exact one.

``k`` keeps its name from the literature (CD-k, PCD-k): it is the number of kernel steps per
update, what the rest of ebmlib calls ``n_steps``.

Persistent chains are state (:class:`~ebmlib.objectives.PCDState`):
:func:`~ebmlib.objectives.pcd` takes the state and returns the new one, ``loss, state =
pcd(model, x, state)``; :func:`~ebmlib.objectives.fast_pcd` does the same with Tieleman and
Hinton's (2009) fast weights in the state, which push the chains out of the modes they have just
visited. Any kernel runs the chains, parallel tempering
(:class:`~ebmlib.samplers.ParallelTempering`) included, and ``centering=``
(:class:`~ebmlib.objectives.Centering`) turns either into the centered gradient of Montavon and
Mueller (2012), with the offsets in the state. :class:`~ebmlib.objectives.PersistentCD` and
:class:`~ebmlib.objectives.FastPCD` are their thin wrappers for a training loop: they store the
state (and the generator) and have ``state_dict`` so a checkpoint can store it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import NamedTuple

import torch

from .._validation import (
    check_generator,
    check_kernel,
    check_positive_float,
    check_positive_int,
    check_probability,
)
from ..exact import binary_states, chain_law
from ..models import EnergyModel
from ..samplers import Kernel, ParallelTempering, default_kernel, run_chain
from ._state import load_generator, plain, save_generator
from .centering import Centering, Offsets
from .likelihood import contrastive_loss

__all__ = ["cd", "expected_cd", "pcd", "fast_pcd", "PCDState", "PersistentCD", "FastPCD"]


class PCDState(NamedTuple):
    r"""The persistent state of PCD-k: ``PCDState(chains)`` starts it.

    ``chains`` are the persistent chains as the kernel's ``init`` takes them: ``[chains, n]``, or
    ``[n_temperatures, chains, n]`` for :class:`~ebmlib.samplers.ParallelTempering` (whose
    :math:`T = 1` replica gives the negatives); ``offsets`` the centering offsets (with
    ``centering=``; ``None`` until the first update); ``fast`` the fast weights of
    :func:`fast_pcd`, one tensor per ``model.parameters()`` (``None`` until the first update);
    ``swap_rates`` the ``[n_temperatures - 1]`` swap acceptance rates of the last update, with
    parallel tempering (else ``None``).
    """

    chains: torch.Tensor
    offsets: Offsets | None = None
    fast: tuple[torch.Tensor, ...] | None = None
    swap_rates: torch.Tensor | None = None

    @property
    def negatives(self) -> torch.Tensor:
        r"""The negative samples, the :math:`T = 1` chains ``[chains, n]``."""
        return self.chains if self.chains.dim() == 2 else self.chains[0]

    @classmethod
    def from_dict(cls, state: dict) -> PCDState:
        """The state from the plain ``dict`` that a wrapper's ``state_dict`` stores."""
        offsets = state.get("offsets")
        fast = state.get("fast")
        return cls(
            state["chains"].clone(),
            None if offsets is None else Offsets(offsets["visible"].clone(), offsets["hidden"].clone()),
            None if fast is None else tuple(f.clone() for f in fast),
            state.get("swap_rates"),
        )


def _loss(
    model: EnergyModel,
    x: torch.Tensor,
    negatives: torch.Tensor,
    centering: Centering | None,
    offsets: Offsets | None,
) -> tuple[torch.Tensor, Offsets | None]:
    """The (centered, with ``centering``) contrastive loss, and the offsets moved by the batch."""
    if centering is None:
        return contrastive_loss(model, x, negatives), offsets
    offsets = centering.update(model, x, offsets)
    return centering.loss(model, x, negatives, offsets), offsets


def cd(
    model: EnergyModel,
    x: torch.Tensor,
    k: int = 1,
    *,
    kernel: Kernel | None = None,
    offsets: Offsets | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """CD-k loss: negatives are ``k`` kernel steps started at the data batch ``x``.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        k: kernel steps from the data (>= 1; the literature's name).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise).
        offsets: fixed centering :class:`~ebmlib.objectives.Offsets` for the centered gradient
            of an RBM (offsets that follow running averages are state: see :func:`pcd`).
        generator: random generator on ``x``'s device.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    check_generator(generator, x.device)
    negatives = run_chain(kernel or default_kernel(model), model, x, k, generator=generator).x
    if offsets is None:
        return contrastive_loss(model, x, negatives)
    return Centering().loss(model, x, negatives, offsets)


def expected_cd(model: EnergyModel, x: torch.Tensor, k: int = 1) -> torch.Tensor:
    """The CD-k loss averaged *exactly* over the sampler's randomness (small models only).

    The chains' law after ``k`` Gibbs steps from the data is :math:`q T^k`, with ``q`` the
    empirical distribution of ``x`` and ``T`` the exact transition matrix
    (:func:`ebmlib.exact.chain_law` propagates it). Its gradient is the expected CD-k update
    with no Monte Carlo noise, so a fit with it reaches CD-k's fixed point, which
    ``expected_cd``'s gradient being zero certifies. Returns a 0-d float64 tensor.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    n = model.n_features
    with torch.no_grad():
        codes = (x.double() * 2 ** torch.arange(n, dtype=torch.float64, device=x.device)).sum(1).long()
        q = torch.bincount(codes, minlength=2**n).double() / len(x)
        law = chain_law(model, q, k)
    states = binary_states(n, device=x.device)
    return model.energy(x.double()).mean() - law @ model.energy(states)


def _advance(
    model: EnergyModel, state: PCDState, k: int, kernel: Kernel | None, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The chains moved ``k`` steps under ``model``, and the swap rates (parallel tempering)."""
    chains = state.chains
    model.check_input(chains if chains.dim() == 2 else chains[0], "chains")
    kernel = kernel or default_kernel(model)
    tempering = isinstance(kernel, ParallelTempering)
    run = run_chain(kernel, model, chains, k, generator=generator, trace=("swap_rates",) if tempering else None)
    if tempering:
        return run.state.replicas, run.trace["swap_rates"].mean(0)
    return run.x, None


def _check_state(state: object) -> PCDState:
    if not isinstance(state, PCDState):
        raise TypeError(f"state must be a PCDState (PCDState(chains) to start), got {type(state).__name__}")
    return state


def pcd(
    model: EnergyModel,
    x: torch.Tensor,
    state: PCDState,
    k: int = 1,
    *,
    kernel: Kernel | None = None,
    centering: Centering | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, PCDState]:
    """PCD-k (SML): advance the persistent chains by ``k`` steps and use them as negatives.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        state: the :class:`PCDState` (``PCDState(chains)`` for the first call).
        k: kernel steps per update (>= 1; the literature's name).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise); a
            :class:`~ebmlib.samplers.ParallelTempering` kernel runs a ladder of replicas
            (``state.chains`` then ``[n_temperatures, chains, n]``).
        centering: a :class:`~ebmlib.objectives.Centering` for centered gradients (RBMs); the
            offsets are kept in the state.
        generator: random generator on ``x``'s device.

    Returns:
        ``(loss, state)``: the loss and the new state, to pass to the next call.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    check_generator(generator, x.device)
    state = _check_state(state)
    chains, rates = _advance(model, state, k, kernel, generator)
    loss, offsets = _loss(model, x, chains if chains.dim() == 2 else chains[0], centering, state.offsets)
    return loss, state._replace(chains=chains, offsets=offsets, swap_rates=rates)


def fast_pcd(
    model: EnergyModel,
    x: torch.Tensor,
    state: PCDState,
    k: int = 1,
    *,
    fast_lr: float = 0.05,
    fast_decay: float = 0.95,
    kernel: Kernel | None = None,
    centering: Centering | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, PCDState]:
    r"""Fast persistent contrastive divergence (Tieleman and Hinton, 2009).

    The chains sample from a model with parameters :math:`\theta + \theta_\text{fast}`. After
    every update the fast weights take the same gradient step as the model, with their own,
    larger learning rate, and decay towards zero:

    .. math::

        \theta_\text{fast} \leftarrow \text{decay} \cdot \theta_\text{fast} - \text{fast\_lr} \cdot g,

    where :math:`g` is the gradient of this loss. The fast weights raise the energy wherever
    the chains have just been, pushing them on to other modes.

    Args:
        model, x, state, k, kernel, centering, generator: as in :func:`pcd`.
        fast_lr: learning rate of the fast weights.
        fast_decay: multiplicative decay of the fast weights per update (in ``(0, 1)``).

    Returns:
        ``(loss, state)``, the state's ``fast`` holding the new fast weights.
    """
    check_positive_int(k, "k")
    check_positive_float(fast_lr, "fast_lr")
    check_probability(fast_decay, "fast_decay", open_low=True, open_high=True)
    model.check_input(x)
    check_generator(generator, x.device)
    state = _check_state(state)
    params = list(model.parameters())
    fast = state.fast if state.fast is not None else tuple(torch.zeros_like(p) for p in params)
    shadow = copy.deepcopy(model).requires_grad_(False)  # the model at theta + theta_fast
    with torch.no_grad():
        for s, p, f in zip(shadow.parameters(), params, fast):
            s.copy_(p + f)
    chains, rates = _advance(shadow, state, k, kernel, generator)
    loss, offsets = _loss(model, x, chains if chains.dim() == 2 else chains[0], centering, state.offsets)
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    with torch.no_grad():
        fast = tuple(f * fast_decay if g is None else f * fast_decay - fast_lr * g for f, g in zip(fast, grads))
    return loss, PCDState(chains, offsets, fast, rates)


class PersistentCD:
    """PCD-k as a loss that keeps its own state: ``loss = pcd_loss(model, x)`` (see :func:`pcd`).

    Args:
        chains: ``[chains, n]`` initial states of the persistent chains.
        k: kernel steps per update (>= 1).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise).
        temperatures: if given, the chains are replicated over this temperature ladder
            (starting at 1) and advanced by :class:`~ebmlib.samplers.ParallelTempering`
            around ``kernel``; the :math:`T = 1` replica gives the negatives, and ``swap_rates``
            reports the swap acceptance rates of the last update.
        centering: a :class:`~ebmlib.objectives.Centering` for centered gradients (RBMs).
        generator: random generator on the chains' device. Its state is part of
            :meth:`state_dict`, so a checkpointed run resumes bit for bit.

    Attributes:
        state: the :class:`PCDState`.
    """

    def __init__(
        self,
        chains: torch.Tensor,
        k: int = 1,
        *,
        kernel: Kernel | None = None,
        temperatures: Sequence[float] | None = None,
        centering: Centering | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.k = check_positive_int(k, "k")
        if not isinstance(chains, torch.Tensor) or chains.dim() != 2:
            raise ValueError("chains must be a [chains, n] tensor")
        check_generator(generator, chains.device)
        if kernel is not None:
            check_kernel(kernel)
        self.kernel = kernel if temperatures is None else ParallelTempering(kernel, temperatures)
        start = chains.detach()
        if isinstance(self.kernel, ParallelTempering):
            start = start.expand(len(self.kernel.temperatures), -1, -1)
        self.state = PCDState(start.clone())
        self.centering = centering
        self.generator = generator

    @property
    def chains(self) -> torch.Tensor:
        """The :math:`T = 1` chains, ``[chains, n]``."""
        return self.state.negatives

    @property
    def replicas(self) -> torch.Tensor:
        """Every replica, ``[n_temperatures, chains, n]`` (one temperature without a ladder)."""
        chains = self.state.chains
        return chains if chains.dim() == 3 else chains[None]

    @property
    def swap_rates(self) -> torch.Tensor | None:
        """The last update's swap acceptance rates (with ``temperatures``; else ``None``)."""
        return self.state.swap_rates

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        loss, self.state = pcd(
            model, x, self.state, self.k, kernel=self.kernel, centering=self.centering, generator=self.generator
        )
        return loss

    def state_dict(self) -> dict:
        """The state and the generator's state, as tensors in plain containers (``torch.save``-safe)."""
        return save_generator({"state": plain(self.state)}, self.generator)

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        saved = PCDState.from_dict(state["state"])
        if tuple(saved.chains.shape) != tuple(self.state.chains.shape):
            raise ValueError(
                f"saved chains have shape {tuple(saved.chains.shape)}, these have {tuple(self.state.chains.shape)}"
            )
        self.state = saved._replace(chains=saved.chains.to(self.state.chains))
        load_generator(state, self.generator)


class FastPCD(PersistentCD):
    """Fast PCD as a loss that keeps its own state (see :func:`fast_pcd`).

    Args:
        chains, k, kernel, centering, generator: as in :class:`PersistentCD`.
        fast_lr: learning rate of the fast weights.
        fast_decay: multiplicative decay of the fast weights per update (in ``(0, 1)``).
    """

    def __init__(
        self,
        chains: torch.Tensor,
        k: int = 1,
        *,
        fast_lr: float = 0.05,
        fast_decay: float = 0.95,
        kernel: Kernel | None = None,
        centering: Centering | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(chains, k, kernel=kernel, centering=centering, generator=generator)
        self.fast_lr = check_positive_float(fast_lr, "fast_lr")
        self.fast_decay = check_probability(fast_decay, "fast_decay", open_low=True, open_high=True)

    @property
    def fast(self) -> tuple[torch.Tensor, ...] | None:
        """The fast weights (``None`` before the first update)."""
        return self.state.fast

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        loss, self.state = fast_pcd(
            model,
            x,
            self.state,
            self.k,
            fast_lr=self.fast_lr,
            fast_decay=self.fast_decay,
            kernel=self.kernel,
            centering=self.centering,
            generator=self.generator,
        )
        return loss
