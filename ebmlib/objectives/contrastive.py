"""Contrastive divergence and persistent chains: cheaper negative phases.

The naive algorithm (:func:`~ebmlib.objectives.naive_mcmc`) burns in fresh chains from
noise at every update. Two ways to avoid paying that again and again:

* **CD-k** {Hinton 2002}: start the chains *at the data* and run ``k`` steps. Cheap and
  low-variance, but biased: regions the chains never reach in ``k`` steps from the data
  are never pushed down.
* **PCD-k / SML** {Tieleman 2008; Younes 1998}: keep the chains from one update to the
  next and run ``k`` more steps. With small learning rates the chains stay close to
  the model's distribution, and the gradient is close to the exact one.

``k`` keeps its name from the literature (CD-k). Persistent chains are state:
:func:`~ebmlib.objectives.pcd` takes them and returns them (state in, state out);
:class:`~ebmlib.objectives.PersistentCD` keeps them for you, with any kernel inside, optionally
parallel tempering, and with ``state_dict`` so a checkpoint can store them.
:class:`~ebmlib.objectives.FastPCD` adds Tieleman and Hinton's (2009) fast weights, which push the
chains out of the modes they have just visited. :class:`~ebmlib.objectives.Centering` turns any of
them into the centered gradient of Montavon and Mueller (2012).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from .. import exact
from .._validation import check_generator, check_positive_float, check_positive_int, check_probability
from ..models import EnergyModel
from ..samplers import Kernel, ParallelTempering, default_kernel
from ..samplers.base import _check_kernel
from .likelihood import contrastive_loss

__all__ = ["cd", "expected_cd", "pcd", "PersistentCD", "FastPCD", "Centering"]


class Centering:
    r"""Centered gradients for an RBM (Montavon and Mueller 2012; Melchior, Fischer and Wiskott 2016).

    Write the energy with offsets ``mu`` (visible) and ``lambda`` (hidden),
    ``E(v, h) = -(v - mu)^T W (h - lambda) - b'^T (v - mu) - c'^T (h - lambda)``, take the
    likelihood gradient step in ``(W, b', c')`` and map it back: with ``<.>`` the data average
    minus the model average and ``h^ = sigmoid(c + W^T v)``,

        dW = <(v - mu)(h^ - lambda)^T>,   db = <v> - dW lambda,   dc = <h^> - dW^T mu.

    The model is the same; only the direction of the step changes, which conditions the
    problem far better when units are mostly on or mostly off. The offsets follow running
    averages of the data's visible means and hidden probabilities (rate ``rate``).
    ``mu = lambda = 0`` gives the plain gradient back.

    Use it through the ``centering=`` argument of :func:`cd`, :func:`pcd`,
    :class:`PersistentCD` and :class:`FastPCD`; it keeps its offsets in ``state_dict``.

    Args:
        rate: weight of the newest batch in the running averages of the offsets, in ``(0, 1]``.
    """

    def __init__(self, rate: float = 0.01) -> None:
        self.rate = check_probability(rate, "rate", open_low=True)
        self.mu: torch.Tensor | None = None
        self.lam: torch.Tensor | None = None

    def update(self, model: EnergyModel, x: torch.Tensor) -> None:
        """Move the offsets towards the means of batch ``x`` (the first batch sets them)."""
        if not callable(getattr(model, "hidden_logits", None)):
            raise TypeError(f"centering needs an RBM (a model with hidden_logits), got {type(model).__name__}")
        with torch.no_grad():
            mu, lam = x.mean(0), torch.sigmoid(model.hidden_logits(x)).mean(0)
            if self.mu is None:
                self.mu, self.lam = mu.clone(), lam.clone()
            else:
                self.mu.lerp_(mu, self.rate)
                self.lam.lerp_(lam, self.rate)

    def surrogate(self, model: EnergyModel, v: torch.Tensor) -> torch.Tensor:
        """Per row, a function whose parameter gradient is minus the centered statistics of ``v``."""
        with torch.no_grad():
            a = v - self.mu.to(v)
            e = torch.sigmoid(model.hidden_logits(v)) - self.lam.to(v)
            alpha = v - a * (e @ self.lam.to(v))[:, None]
            gamma = torch.sigmoid(model.hidden_logits(v)) - e * (a @ self.mu.to(v))[:, None]
        w, b, c = model.weight, model.visible_bias, model.hidden_bias
        return -((a @ w.to(v)) * e).sum(1) - alpha @ b.to(v) - gamma @ c.to(v)

    def loss(self, model: EnergyModel, x: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """The centered counterpart of :func:`contrastive_loss` (its value means nothing; its gradient does)."""
        self.update(model, x)
        return self.surrogate(model, x).mean() - self.surrogate(model, negatives.detach()).mean()

    def state_dict(self) -> dict:
        return {} if self.mu is None else {"mu": self.mu.clone(), "lam": self.lam.clone()}

    def load_state_dict(self, state: dict) -> None:
        if "mu" in state:
            self.mu, self.lam = state["mu"].clone(), state["lam"].clone()


def _loss(model: EnergyModel, x: torch.Tensor, negatives: torch.Tensor, centering: Centering | None) -> torch.Tensor:
    if centering is None:
        return contrastive_loss(model, x, negatives)
    model.check_input(negatives, "negatives")
    return centering.loss(model, x, negatives)


def _run(kernel: Kernel, model: EnergyModel, x: torch.Tensor, n_steps: int, generator) -> torch.Tensor:
    """``n_steps`` of ``kernel`` from ``x`` (already checked), returning the new states."""
    state = kernel.init(model, x)
    for _ in range(n_steps):
        state, _ = kernel.step(model, state, generator)
    return state.x


def cd(
    model: EnergyModel,
    x: torch.Tensor,
    k: int = 1,
    *,
    kernel: Kernel | None = None,
    centering: Centering | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """CD-k loss: negatives are ``k`` kernel steps started at the data batch ``x``.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        k: kernel steps from the data (>= 1).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise).
        centering: a :class:`Centering` for centered gradients (RBMs).
        generator: random generator on ``x``'s device.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    check_generator(generator, x.device)
    with torch.no_grad():
        negatives = _run(kernel or default_kernel(model), model, x, k, generator)
    return _loss(model, x, negatives, centering)


def expected_cd(model: EnergyModel, x: torch.Tensor, k: int = 1) -> torch.Tensor:
    """The CD-k loss averaged *exactly* over the sampler's randomness (small models only).

    The chains' law after ``k`` Gibbs steps from the data is ``q T^k``, with ``q`` the
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
        law = exact.chain_law(model, q, k)
    states = exact.binary_states(n, device=x.device)
    return model.energy(x.double()).mean() - law @ model.energy(states)


def pcd(
    model: EnergyModel,
    x: torch.Tensor,
    chains: torch.Tensor,
    k: int = 1,
    *,
    kernel: Kernel | None = None,
    centering: Centering | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PCD-k (SML) loss: advance the persistent ``chains`` by ``k`` steps and use them.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        chains: ``[chains, n]`` the persistent chains' current state.
        k: kernel steps per update (>= 1).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise).
        centering: a :class:`Centering` for centered gradients (RBMs).
        generator: random generator on ``x``'s device.

    Returns:
        ``(loss, chains)``: the loss and the chains' new state, to pass to the next call.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    check_generator(generator, x.device)
    with torch.no_grad():
        chains = _run(kernel or default_kernel(model), model, model.check_input(chains, "chains"), k, generator)
    return _loss(model, x, chains, centering), chains


class PersistentCD:
    """PCD-k as a loss function that keeps its own chains: ``loss = pcd_loss(model, x)``.

    Args:
        chains: ``[chains, n]`` initial states of the persistent chains.
        k: kernel steps per update (>= 1).
        kernel: the sampler (default Gibbs for binary models, MALA otherwise).
        temperatures: if given, the chains are replicated over this temperature ladder
            (starting at 1) and advanced by :class:`~ebmlib.samplers.ParallelTempering`
            around ``kernel``; the ``T = 1`` replica gives the negatives, and ``swap_rates``
            reports the swap acceptance rates of the last update.
        centering: a :class:`Centering` for centered gradients (RBMs).
        generator: random generator on the chains' device. Its state is part of
            :meth:`state_dict`, so a checkpointed run resumes bit for bit.

    Attributes:
        replicas: ``[n_temperatures, chains, n]`` the persistent state (one temperature
            unless ``temperatures`` is given); ``chains`` is ``replicas[0]``.
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
            _check_kernel(kernel)
        self.kernel = kernel
        self.tempering = None if temperatures is None else ParallelTempering(kernel, temperatures)
        n_temps = 1 if self.tempering is None else len(self.tempering.temperatures)
        self.replicas = chains.detach().expand(n_temps, -1, -1).clone()
        self.centering = centering
        self.generator = generator
        self.swap_rates: torch.Tensor | None = None

    @property
    def chains(self) -> torch.Tensor:
        """The ``T = 1`` chains, ``[chains, n]``."""
        return self.replicas[0]

    def advance(self, model: EnergyModel) -> torch.Tensor:
        """Move the chains ``k`` steps under ``model`` and return the new ``T = 1`` states."""
        model.check_input(self.chains, "chains")
        with torch.no_grad():
            if self.tempering is None:
                kernel = self.kernel or default_kernel(model)
                self.replicas = _run(kernel, model, self.chains, self.k, self.generator)[None]
            else:
                state = self.tempering.init(model, self.replicas)
                rates = []
                for _ in range(self.k):
                    state, info = self.tempering.step(model, state, self.generator)
                    rates.append(info.swap_rates)
                self.replicas, self.swap_rates = state.replicas, torch.stack(rates).mean(0)
        return self.chains

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        return _loss(model, x, self.advance(model), self.centering)

    def state_dict(self) -> dict:
        """The persistent state: replicas, generator state, centering offsets (tensors, safe to ``torch.save``)."""
        state = {"replicas": self.replicas.clone()}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        if self.centering is not None:
            state["centering"] = self.centering.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        if tuple(state["replicas"].shape) != tuple(self.replicas.shape):
            raise ValueError(
                f"saved replicas have shape {tuple(state['replicas'].shape)}, "
                f"these chains have {tuple(self.replicas.shape)}"
            )
        self.replicas = state["replicas"].to(self.replicas).clone()
        if self.generator is not None and "generator" in state:
            self.generator.set_state(state["generator"])
        if self.centering is not None and "centering" in state:
            self.centering.load_state_dict(state["centering"])


class FastPCD(PersistentCD):
    r"""Fast persistent contrastive divergence (Tieleman and Hinton, 2009).

    The chains sample from a model with parameters ``theta + theta_fast``. After every
    update the fast weights take the same gradient step as the model, with their own,
    larger learning rate, and decay towards zero:

        theta_fast <- decay * theta_fast - fast_lr * grad,

    where ``grad`` is the gradient of this loss. The fast weights raise the energy wherever
    the chains have just been, pushing them on to other modes.

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
        self.fast: list[torch.Tensor] | None = None
        self._shadow: EnergyModel | None = None

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        model.check_input(x)
        params = list(model.parameters())
        if self._shadow is None:
            self._shadow = copy.deepcopy(model).requires_grad_(False)
            self.fast = [torch.zeros_like(p) for p in params] if self.fast is None else self.fast
        with torch.no_grad():
            for shadow, p, f in zip(self._shadow.parameters(), params, self.fast):
                shadow.copy_(p + f)
        loss = _loss(model, x, self.advance(self._shadow), self.centering)
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        with torch.no_grad():
            for f, g in zip(self.fast, grads):
                f.mul_(self.fast_decay)
                if g is not None:
                    f.sub_(self.fast_lr * g)
        return loss

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.fast is not None:
            state["fast"] = [f.clone() for f in self.fast]
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "fast" in state:
            self.fast = [f.clone() for f in state["fast"]]
            self._shadow = None
