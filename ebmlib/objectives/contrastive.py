"""Contrastive divergence and persistent chains: cheaper negative phases.

The naive algorithm (:func:`~ebmlib.objectives.naive_mcmc`) burns in fresh chains from
noise at every update. Two ways to avoid paying that again and again:

* **CD-k** {Hinton 2002}: start the chains *at the data* and run ``k`` steps. Cheap and
  low-variance, but biased: regions the chains never reach in ``k`` steps from the data
  are never pushed down.
* **PCD-k / SML** {Tieleman 2008; Younes 1998}: keep the chains from one update to the
  next and run ``k`` more steps. With small learning rates the chains stay close to
  the model's distribution, and the gradient is close to the exact one.

Persistent chains are state: :func:`~ebmlib.objectives.pcd` takes them and returns them (state in, state
out); :class:`~ebmlib.objectives.PersistentCD` keeps them for you, with any sampler inside, optionally
parallel tempering, and with ``state_dict`` so a checkpoint can store them.
:class:`~ebmlib.objectives.FastPCD` adds Tieleman and Hinton's (2009) fast weights, which push the chains
out of the modes they have just visited.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch

from .. import exact
from .._validation import check_batch, check_generator, check_positive_float, check_positive_int
from ..models import EnergyModel
from ..samplers import gibbs, parallel_tempering
from ..samplers.tempering import check_temperatures
from .likelihood import contrastive_loss

__all__ = ["cd", "expected_cd", "pcd", "PersistentCD", "FastPCD"]

Sampler = Callable[..., torch.Tensor]


def cd(
    model: EnergyModel,
    x: torch.Tensor,
    k: int = 1,
    *,
    sampler: Sampler = gibbs,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """CD-k loss: negatives are ``k`` sampler steps started at the data batch ``x``.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        k: sampler steps from the data (>= 1).
        sampler: ``sampler(model, x, n_steps, generator=...) -> x``, default Gibbs.
        generator: random generator on ``x``'s device.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    negatives = sampler(model, x, k, generator=generator)
    return contrastive_loss(model, x, negatives)


def expected_cd(model: EnergyModel, x: torch.Tensor, k: int = 1) -> torch.Tensor:
    """The CD-k loss averaged *exactly* over the sampler's randomness (small models only).

    The chains' law after ``k`` Gibbs steps from the data is ``q T^k``, with ``q`` the
    empirical distribution of ``x`` and ``T`` the exact transition matrix
    (:func:`ebmlib.exact.gibbs_transition`). Its gradient is the expected CD-k update with
    no Monte Carlo noise, so gradient descent on it converges to CD-k's fixed point.
    Returns a 0-d float64 tensor.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    n = model.n_features
    with torch.no_grad():
        step = exact.gibbs_transition(model)
        codes = (x.double() * 2 ** torch.arange(n, dtype=torch.float64, device=x.device)).sum(1).long()
        q = torch.bincount(codes, minlength=2**n).double() / len(x)
        law = q @ torch.linalg.matrix_power(step, k)
    states = exact.binary_states(n, device=x.device)
    return model.energy(x.double()).mean() - law @ model.energy(states)


def pcd(
    model: EnergyModel,
    x: torch.Tensor,
    chains: torch.Tensor,
    k: int = 1,
    *,
    sampler: Sampler = gibbs,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PCD-k (SML) loss: advance the persistent ``chains`` by ``k`` steps and use them.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        chains: ``[chains, n]`` the persistent chains' current state.
        k: sampler steps per update (>= 1).
        sampler: ``sampler(model, x, n_steps, generator=...) -> x``, default Gibbs.
        generator: random generator on ``x``'s device.

    Returns:
        ``(loss, chains)``: the loss and the chains' new state, to pass to the next call.
    """
    check_positive_int(k, "k")
    model.check_input(x)
    model.check_input(chains, "chains")
    chains = sampler(model, chains, k, generator=generator)
    return contrastive_loss(model, x, chains), chains


class PersistentCD:
    """PCD-k as a loss function that keeps its own chains: ``loss = pcd_loss(model, x)``.

    Args:
        chains: ``[chains, n]`` initial states of the persistent chains.
        k: sampler steps per update (>= 1).
        sampler: ``sampler(model, x, n_steps, generator=...) -> x``, default Gibbs.
        temperatures: if given, the chains are replicated over this temperature ladder
            (starting at 1) and advanced by :func:`~ebmlib.samplers.parallel_tempering`;
            the ``T = 1`` replica gives the negatives, and ``swap_rates`` reports the
            swap acceptance rates of the last update.
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
        sampler: Sampler = gibbs,
        temperatures: Sequence[float] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.k = check_positive_int(k, "k")
        if not isinstance(chains, torch.Tensor) or chains.dim() != 2:
            raise ValueError("chains must be a [chains, n] tensor")
        check_generator(generator, chains.device)
        self.sampler = sampler
        self.temperatures = None if temperatures is None else check_temperatures(temperatures)
        n_temps = 1 if self.temperatures is None else len(self.temperatures)
        self.replicas = chains.detach().expand(n_temps, -1, -1).clone()
        self.generator = generator
        self.swap_rates: torch.Tensor | None = None

    @property
    def chains(self) -> torch.Tensor:
        """The ``T = 1`` chains, ``[chains, n]``."""
        return self.replicas[0]

    def advance(self, model: EnergyModel) -> torch.Tensor:
        """Move the chains ``k`` steps under ``model`` and return the new ``T = 1`` states."""
        check_batch(self.chains, "chains", model.n_features, binary=model.is_binary)
        if self.temperatures is None:
            self.replicas[0] = self.sampler(model, self.chains, self.k, generator=self.generator)
        else:
            result = parallel_tempering(model, self.replicas, self.temperatures, self.k, generator=self.generator)
            self.replicas, self.swap_rates = result.replicas, result.swap_rates
        return self.chains

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        model.check_input(x)
        return contrastive_loss(model, x, self.advance(model))

    def state_dict(self) -> dict:
        """The persistent state: replicas and generator state (tensors, safe to ``torch.save``)."""
        state = {"replicas": self.replicas.clone()}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
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


class FastPCD(PersistentCD):
    """Fast persistent contrastive divergence (Tieleman and Hinton, 2009).

    The chains sample from a model with parameters ``theta + theta_fast``. After every
    update the fast weights take the same gradient step as the model, with their own,
    larger learning rate, and decay towards zero:
    ``theta_fast <- decay * theta_fast - fast_lr * grad``. The fast weights raise the
    energy wherever the chains have just been, pushing them on to other modes.

    Args:
        chains, k, sampler, generator: as in :class:`PersistentCD`.
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
        sampler: Sampler = gibbs,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(chains, k, sampler=sampler, generator=generator)
        self.fast_lr = check_positive_float(fast_lr, "fast_lr")
        if not 0.0 < fast_decay < 1.0:
            raise ValueError(f"fast_decay must lie strictly between 0 and 1, got {fast_decay}")
        self.fast_decay = fast_decay
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
        loss = contrastive_loss(model, x, self.advance(self._shadow))
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
