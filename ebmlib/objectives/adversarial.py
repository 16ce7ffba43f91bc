r"""Two players: an energy model trained against a normalizing flow that is trained against it.

* **Flow contrastive estimation** (Gao et al. 2020): NCE with a flow :math:`q` as the noise,
  and the flow trained to make the classification hard. With

  .. math::

      J(\theta, q) = -\mathbb{E}_\text{data}[\log \sigma(G)] - k\, \mathbb{E}_q[\log(1 - \sigma(G))]

  the NCE loss of the model against :math:`q`, the two play :math:`\min_\theta \max_q J(\theta, q)`:
  the flow moves its samples towards where the classifier is confused, i.e. towards the data.
* **The adversarial bound**: for any :math:`q`,
  :math:`\log Z \ge \mathbb{E}_q[-E(y)] + H(q)`, so

  .. math::

      \mathbb{E}_\text{data}[-E(x)] - \mathbb{E}_q[-E(y)] - H(q)

  bounds the average log-likelihood from above. The sampler :math:`q` tightens the bound
  (lowers :math:`\mathrm{KL}(q \,\|\, p_\theta)`), and the model's loss

  .. math::

      \operatorname{mean} E(x) - \operatorname{mean} E(y)

  over :math:`y \sim q` has the likelihood gradient with the model's samples replaced by
  :math:`q`'s. The sampler plays the part of a GAN's generator, the energy that of its
  discriminator.

Each method is two pure losses, one per player: :func:`~ebmlib.objectives.flow_contrastive` and
:func:`~ebmlib.objectives.flow_contrastive_flow_loss`,
:func:`~ebmlib.objectives.adversarial_bound` and
:func:`~ebmlib.objectives.adversarial_sampler_loss`. The flow's "state" is the flow itself and
its optimizer (PyTorch optimizers step in place), so the thin wrappers
:class:`~ebmlib.objectives.FlowContrastive` and :class:`~ebmlib.objectives.AdversarialBound`
hold the flow, its optimizer and the generator, take the flow's steps and return the model's
loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .._validation import check_generator, check_positive_int
from ..models import CouplingFlow, EnergyModel
from ..utils import _device_of
from ._state import load_generator, save_generator
from .noise_contrastive import nce

__all__ = [
    "flow_contrastive",
    "flow_contrastive_flow_loss",
    "adversarial_bound",
    "adversarial_sampler_loss",
    "FlowContrastive",
    "AdversarialBound",
]


@contextmanager
def _parameters_frozen(model: torch.nn.Module) -> Iterator[None]:
    """Stop gradients to ``model``'s parameters inside the block, restoring each one's flag after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _Frozen:
    """A view of a flow whose ``log_prob`` does not track the flow's parameters."""

    def __init__(self, flow: CouplingFlow) -> None:
        self.flow = flow

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.flow.log_prob(x)


def flow_contrastive(
    model: EnergyModel, x: torch.Tensor, flow: CouplingFlow, k: int = 1, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The model's loss in flow contrastive estimation: NCE against ``k`` fresh samples per data
    row from ``flow``, whose density is held fixed (only the model learns from it).

    Args:
        model: read as normalized (wrap it in :class:`~ebmlib.models.LearnedNormalizer`).
        x: ``[batch, n]`` data.
        flow: a :class:`~ebmlib.models.CouplingFlow`.
        k: flow samples per data row (NCE's noise ratio).
        generator: random generator for the flow's samples.
    """
    y = flow.sample(k * x.shape[0], generator=generator)
    return nce(model, x, _Frozen(flow), k, noise_samples=y)


def flow_contrastive_flow_loss(
    model: EnergyModel, x: torch.Tensor, flow: CouplingFlow, k: int = 1, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The flow's loss in flow contrastive estimation, ``-J``: minimising it raises NCE's loss
    (differentiable in the flow only; the model's parameters are held fixed).

    Args: as :func:`flow_contrastive`.
    """
    with _parameters_frozen(model):
        y = flow.rsample(k * x.shape[0], generator=generator)
        return -nce(model, x, flow, k, noise_samples=y)


def adversarial_bound(
    model: EnergyModel,
    x: torch.Tensor,
    sampler: CouplingFlow,
    n_samples: int | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""The model's loss against a sampler flow, over fresh :math:`y \sim q`:

    .. math::

        \operatorname{mean} E(x) - \operatorname{mean} E(y).

    Args:
        model: the energy model.
        x: ``[batch, n]`` data.
        sampler: a :class:`~ebmlib.models.CouplingFlow`.
        n_samples: sampler draws (default: the batch size).
        generator: random generator for the draws.
    """
    model.check_input(x)
    y = sampler.sample(n_samples or x.shape[0], generator=generator)
    return model.energy(x).mean() - model.energy(y.to(x.dtype)).mean()


def adversarial_sampler_loss(
    model: EnergyModel, sampler: CouplingFlow, n_samples: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""The sampler's loss (differentiable in the sampler only; the model's parameters are held fixed):

    .. math::

        \mathbb{E}_q[E(y) + \log q(y)] = \mathrm{KL}(q \,\|\, p_\theta) - \log Z.

    Args:
        model: the energy model.
        sampler: a :class:`~ebmlib.models.CouplingFlow`.
        n_samples: draws (reparameterized, so the gradient reaches the sampler).
        generator: random generator for the draws.
    """
    with _parameters_frozen(model):
        y, log_q = sampler.rsample_with_log_prob(n_samples, generator=generator)
        return (model.energy(y) + log_q).mean()


class _TrainedFlow:
    """What the two wrappers share: the flow, its optimizer, the generator, checkpointing."""

    def __init__(
        self, flow: torch.nn.Module, optimizer: torch.optim.Optimizer, name: str, generator: torch.Generator | None
    ) -> None:
        for method in ("rsample_with_log_prob", "rsample", "sample", "log_prob"):
            if not callable(getattr(flow, method, None)):
                raise TypeError(
                    f"{name} must be a flow with rsample_with_log_prob, rsample, sample and "
                    f"log_prob (an ebmlib.models.CouplingFlow), got {type(flow).__name__}"
                )
        check_generator(generator, _device_of(flow))
        self.flow: Any = flow
        self.optimizer, self.generator = optimizer, generator

    def _flow_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def state_dict(self) -> dict:
        """The flow's and its optimizer's state, and the generator's (tensors in plain containers)."""
        return save_generator(
            {"flow": self.flow.state_dict(), "optimizer": self.optimizer.state_dict()}, self.generator
        )

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.flow.load_state_dict(state["flow"])
        self.optimizer.load_state_dict(state["optimizer"])
        load_generator(state, self.generator)


class FlowContrastive(_TrainedFlow):
    """Flow contrastive estimation as a loss for :func:`ebmlib.training.fit`.

    Each call first takes ``flow_steps`` steps of ``flow_optimizer`` on
    :func:`flow_contrastive_flow_loss`, then returns :func:`flow_contrastive` against fresh flow
    samples, for the model's optimizer to lower.

    Args:
        flow: a :class:`~ebmlib.models.CouplingFlow`.
        flow_optimizer: an optimizer over the flow's parameters.
        k: noise samples per data point.
        flow_steps: flow updates per call (0 keeps the flow fixed: plain NCE).
        generator: random generator for the flow's samples (its state is in ``state_dict``).
    """

    def __init__(
        self,
        flow: torch.nn.Module,
        flow_optimizer: torch.optim.Optimizer,
        k: int = 1,
        flow_steps: int = 1,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(flow, flow_optimizer, "flow", generator)
        self.k = check_positive_int(k, "k")
        self.flow_steps = check_positive_int(flow_steps, "flow_steps", allow_zero=True)

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.flow_steps):
            self._flow_step(flow_contrastive_flow_loss(model, x, self.flow, self.k, generator=self.generator))
        return flow_contrastive(model, x, self.flow, self.k, generator=self.generator)


class AdversarialBound(_TrainedFlow):
    """The adversarial bound as a loss for :func:`ebmlib.training.fit`.

    Each call takes ``sampler_steps`` steps of ``sampler_optimizer`` on
    :func:`adversarial_sampler_loss` (tightening the bound), then returns
    :func:`adversarial_bound` over fresh samples.

    Args:
        sampler: a :class:`~ebmlib.models.CouplingFlow` (kept as ``self.flow``).
        sampler_optimizer: an optimizer over the sampler's parameters.
        n_samples: sampler draws per call (default: the batch size).
        sampler_steps: sampler updates per call; the sampler must keep up with the energy,
            or the energy runs away where the sampler is not.
        generator: random generator for the sampler's draws (its state is in ``state_dict``).
    """

    def __init__(
        self,
        sampler: torch.nn.Module,
        sampler_optimizer: torch.optim.Optimizer,
        n_samples: int | None = None,
        sampler_steps: int = 1,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(sampler, sampler_optimizer, "sampler", generator)
        self.n_samples = None if n_samples is None else check_positive_int(n_samples, "n_samples")
        self.sampler_steps = check_positive_int(sampler_steps, "sampler_steps")

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        model.check_input(x)
        n = self.n_samples or x.shape[0]
        for _ in range(self.sampler_steps):
            self._flow_step(adversarial_sampler_loss(model, self.flow, n, generator=self.generator))
        return adversarial_bound(model, x, self.flow, n, generator=self.generator)
