"""Noise-contrastive estimation and its relatives: learn by telling data from noise.

NCE (Gutmann and Hyvarinen 2010) trains a classifier between data (label 1) and ``k``
noise samples per data point (label 0) whose log-odds are

    G(u) = log p_model(u) - log p_noise(u) - log k,

with ``log p_model(u) = -E(u)`` read as a *normalized* density: wrap the model in
:class:`~ebmlib.models.LearnedNormalizer` so that a learned ``c`` plays ``-log Z``. The
loss per data point is the logistic loss in its stable log-sum-exp form,

    softplus(-G(x)) + k * mean_noise softplus(G(y)),    softplus(t) = log(1 + e^t),

and at its optimum ``p_model = p_data`` and ``c = -log Z``.

* :func:`~ebmlib.objectives.nce` needs a noise that can ``sample`` and give ``log_prob`` (every
  ``torch.distributions`` object over vectors does).
* :func:`~ebmlib.objectives.negative_sampling` (Mikolov et al. 2013) sets ``k p_noise = 1``: the noise need
  only be sampled. It equals NCE when ``k = |X|`` and the noise is uniform, and otherwise
  does not estimate the likelihood.
* :func:`~ebmlib.objectives.importance_sampled_nll`: the multi-class relative; the data point competes with
  its ``k`` noise samples in one softmax (``c`` cancels).
* :func:`~ebmlib.objectives.self_contrastive`: the noise is a frozen copy of the model itself; the expected
  gradient is ``k / (k + 1)`` times the maximum-likelihood gradient (Goodfellow 2014).
* :class:`~ebmlib.objectives.FlowContrastive`: the noise is a normalizing flow trained to make the
  classification hard (Gao et al. 2020); :class:`~ebmlib.objectives.AdversarialBound` trains a sampler flow
  against the model through ``log Z >= E_q[-E] + H(q)``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .._validation import check_generator, check_positive_int
from ..models import EnergyModel
from ..utils import draw, log_mean_exp

__all__ = [
    "nce",
    "negative_sampling",
    "importance_sampled_nll",
    "self_contrastive",
    "nce_accuracy",
    "FlowContrastive",
    "AdversarialBound",
]


def _draw(noise: object, n: int, n_features: int, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` samples ``[n, d]`` from a noise object (anything with ``sample(sample_shape, generator)``,
    ``torch.distributions`` objects included)."""
    if not callable(getattr(noise, "sample", None)):
        raise TypeError(
            f"noise must have a sample method (a torch.distributions object, say), got {type(noise).__name__}"
        )
    y = draw(noise, (n,), generator)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, n_features):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"noise.sample(({n},)) must return shape [{n}, {n_features}], got {shape}")
    return y


def _noise_log_prob(noise: object, y: torch.Tensor) -> torch.Tensor:
    """``log p_noise(y)`` per row, refusing noise objects that cannot evaluate a density."""
    if not callable(getattr(noise, "log_prob", None)):
        raise TypeError(
            f"NCE needs the noise density: noise must have a log_prob method, and "
            f"{type(noise).__name__} has none (negative_sampling needs only samples)"
        )
    log_q = noise.log_prob(y)
    if not isinstance(log_q, torch.Tensor) or tuple(log_q.shape) != (y.shape[0],):
        shape = tuple(log_q.shape) if isinstance(log_q, torch.Tensor) else type(log_q).__name__
        raise ValueError(
            f"noise.log_prob must return one value per row, shape [{y.shape[0]}], got {shape}; "
            "for a product of per-coordinate distributions use torch.distributions.Independent(dist, 1)"
        )
    return log_q.to(y.dtype)


def _negatives(
    model: EnergyModel,
    x: torch.Tensor,
    noise: object,
    k: int,
    noise_samples: torch.Tensor | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    model.check_input(x)
    check_positive_int(k, "k")
    check_generator(generator, x.device)
    if noise_samples is None:
        noise_samples = _draw(noise, k * x.shape[0], model.n_features, generator)
    return model.check_input(noise_samples.to(x.dtype), "noise_samples")


def _logistic_loss(data_logits: torch.Tensor, noise_logits: torch.Tensor, k: float) -> torch.Tensor:
    """``mean softplus(-G_data) + k * mean softplus(G_noise)``: the NCE loss per data point.

    ``-log sigmoid(G) = softplus(-G)`` and ``-log(1 - sigmoid(G)) = softplus(G)`` never
    overflow, however large ``|G|`` grows.
    """
    return F.softplus(-data_logits).mean() + k * F.softplus(noise_logits).mean()


def nce(
    model: EnergyModel,
    x: torch.Tensor,
    noise: object,
    k: int = 1,
    *,
    noise_samples: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Noise-contrastive estimation loss (minimise it).

    Args:
        model: read as normalized, ``log p(u) = -E(u)``; wrap it in
            :class:`~ebmlib.models.LearnedNormalizer` to learn ``c = -log Z``.
        x: ``[batch, n]`` data.
        noise: a distribution with ``sample`` and ``log_prob`` (any ``torch.distributions``
            object over vectors, a :class:`~ebmlib.models.CouplingFlow`, a
            :class:`~ebmlib.models.GaussianEnergy` ...).
        k: noise samples per data point (the prior odds noise : data).
        noise_samples: ``[k * batch, n]`` noise samples to use instead of drawing them
            (to hold them fixed across an optimization).
        generator: random generator for the noise draws.

    Returns:
        0-d loss; its minimiser over an unrestricted model is ``p_model = p_data``.
    """
    return _logistic_loss(*_nce_logits(model, x, noise, k, noise_samples, generator), k)


def _nce_logits(model, x, noise, k, noise_samples, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's log-odds ``G`` on the data rows and on the noise rows."""
    y = _negatives(model, x, noise, k, noise_samples, generator)
    log_k = math.log(k)
    g_data = -model.energy(x) - _noise_log_prob(noise, x) - log_k
    g_noise = -model.energy(y) - _noise_log_prob(noise, y) - log_k
    return g_data, g_noise


def nce_accuracy(
    model: EnergyModel,
    x: torch.Tensor,
    noise: object,
    k: int = 1,
    *,
    noise_samples: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """Share of data and noise samples that NCE's classifier labels correctly (``G > 0`` means data)."""
    with torch.no_grad():
        g_data, g_noise = _nce_logits(model, x, noise, k, noise_samples, generator)
        return float(((g_data > 0).sum() + (g_noise < 0).sum()) / (len(g_data) + len(g_noise)))


def negative_sampling(
    model: EnergyModel,
    x: torch.Tensor,
    noise: object,
    k: int = 1,
    *,
    noise_samples: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Negative sampling: NCE with ``k p_noise(u)`` replaced by 1, so ``G(u) = -E(u)``.

    The noise needs only ``sample``. The optimum is ``exp(-E(x)) = p_data(x) / (k p_noise(x))``:
    the data density divided by the noise, which is the likelihood's answer only when the
    noise is uniform (and normalized only when also ``k = |X|``).

    Args: as :func:`~ebmlib.objectives.nce`.
    """
    y = _negatives(model, x, noise, k, noise_samples, generator)
    return _logistic_loss(-model.energy(x), -model.energy(y), k)


def importance_sampled_nll(
    model: EnergyModel,
    x: torch.Tensor,
    noise: object,
    k: int = 1,
    *,
    noise_samples: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled NLL: each data point competes with its own ``k`` noise samples.

    ``log Z`` is estimated by importance sampling from the noise, with the data point
    itself among the ``k + 1`` samples (which keeps the estimate finite):
    ``log Z_hat(x) = log mean(w(x), w(y_1), ..., w(y_k))`` with ``log w(u) = -E(u) - log p_noise(u)``,
    and the loss is ``mean_x [E(x) + log Z_hat(x)]``: a consistent estimate of the NLL as
    ``k`` grows. Up to terms free of the model it is the cross-entropy of picking ``x`` out
    of the ``k + 1`` candidates, the multi-class relative of NCE; any ``c`` cancels.
    Noise samples are grouped ``k`` per data row, in order.

    Args: as :func:`~ebmlib.objectives.nce`.
    """
    y = _negatives(model, x, noise, k, noise_samples, generator)
    if y.shape[0] != k * x.shape[0]:
        raise ValueError(f"noise_samples must have k * batch = {k * x.shape[0]} rows, got {y.shape[0]}")
    e_data = model.energy(x)
    w_data = -e_data - _noise_log_prob(noise, x)
    w_noise = (-model.energy(y) - _noise_log_prob(noise, y)).reshape(x.shape[0], k)
    logits = torch.cat([w_data[:, None], w_noise], dim=1)
    return (e_data + log_mean_exp(logits, dim=1)).mean()


def self_contrastive(model: EnergyModel, x: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Self-contrastive estimation: NCE whose noise is a frozen copy of the model.

    With the copy's parameters equal to the model's, ``G(u) = -E(u) + E_frozen(u) - log k``
    is ``-log k`` everywhere (whatever ``c``), so the loss *value* is constant but its
    gradient is ``k / (k + 1)`` times :func:`~ebmlib.objectives.contrastive_loss`'s: in
    expectation over model samples, a multiple of the maximum-likelihood gradient.

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data.
        negatives: ``[k * batch, n]`` samples from the model (exact, or from a sampler);
            ``k`` is their number per data row.
    """
    model.check_input(x)
    model.check_input(negatives, "negatives")
    k = negatives.shape[0] / x.shape[0]
    e_data, e_noise = model.energy(x), model.energy(negatives.detach())
    log_k = math.log(k)
    return _logistic_loss(e_data.detach() - e_data - log_k, e_noise.detach() - e_noise - log_k, k)


@contextmanager
def _parameters_frozen(model: torch.nn.Module):
    """Stop gradients to ``model``'s parameters inside the block, restoring each one's flag after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _TrainedFlow:
    """What the two flow-training objectives share: the flow, its optimizer, checkpointing."""

    def __init__(
        self, flow: torch.nn.Module, optimizer: torch.optim.Optimizer, name: str, generator: torch.Generator | None
    ) -> None:
        for method in ("rsample_with_log_prob", "rsample", "sample", "log_prob"):
            if not callable(getattr(flow, method, None)):
                raise TypeError(
                    f"{name} must be a flow with rsample_with_log_prob, rsample, sample and "
                    f"log_prob (an ebmlib.models.CouplingFlow), got {type(flow).__name__}"
                )
        param = next(iter(flow.parameters()), None)
        check_generator(generator, param.device if param is not None else torch.device("cpu"))
        self.flow, self.optimizer, self.generator = flow, optimizer, generator

    def state_dict(self) -> dict:
        state = {"flow": self.flow.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.flow.load_state_dict(state["flow"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.generator is not None and "generator" in state:
            self.generator.set_state(state["generator"])


class FlowContrastive(_TrainedFlow):
    r"""Flow contrastive estimation (Gao et al. 2020): NCE against a flow that fights back.

    With ``J(theta, q) = -E_data[log sigma(G)] - k E_q[log(1 - sigma(G))]`` the NCE loss of the
    model against the flow ``q`` as noise, the two play

        min_theta max_q J(theta, q):

    each call first takes ``flow_steps`` steps of ``flow_optimizer`` that *raise* ``J`` (the
    flow moves its samples towards where the classifier is confused, i.e. towards the
    data), then returns ``J`` against fresh flow samples, for the model's optimizer to lower.
    Use it as ``loss_fn`` in :func:`ebmlib.training.fit`.

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
        n = self.k * x.shape[0]
        with _parameters_frozen(model):
            for _ in range(self.flow_steps):
                self.optimizer.zero_grad(set_to_none=True)
                y = self.flow.rsample(n, generator=self.generator)
                (-nce(model, x, self.flow, self.k, noise_samples=y)).backward()
                self.optimizer.step()
        # fresh samples, and a density that does not track the flow: only the model learns here
        y = self.flow.sample(n, generator=self.generator)
        return nce(model, x, _Frozen(self.flow), self.k, noise_samples=y)


class AdversarialBound(_TrainedFlow):
    """Adversarial training of an energy model against a sampler flow ``q``.

    For any ``q``, ``log Z >= E_q[-E(y)] + H(q)``, so ``E_data[-E(x)] - E_q[-E(y)] - H(q)``
    is an upper bound on the average log-likelihood. Each call takes steps of
    ``sampler_optimizer`` that tighten the bound (raise ``E_q[-E] + H(q)``, i.e. lower
    ``KL(q || p_model)``) and returns ``mean E(x) - mean E(y)`` over fresh samples ``y ~ q``,
    whose gradient is the likelihood gradient with the model's samples replaced by ``q``'s.
    The sampler plays the part of a GAN's generator, the energy that of its discriminator.

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
        with _parameters_frozen(model):
            for _ in range(self.sampler_steps):
                self.optimizer.zero_grad(set_to_none=True)
                y, log_q = self.flow.rsample_with_log_prob(n, self.generator)
                (model.energy(y) + log_q).mean().backward()  # KL(q || p~) up to log Z
                self.optimizer.step()
        y = self.flow.sample(n, generator=self.generator)
        return model.energy(x).mean() - model.energy(y.to(x.dtype)).mean()


class _Frozen:
    """A view of a flow whose ``log_prob`` does not track the flow's parameters."""

    def __init__(self, flow: torch.nn.Module) -> None:
        self.flow = flow

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.flow.log_prob(x)
