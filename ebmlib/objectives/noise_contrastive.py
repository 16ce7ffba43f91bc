r"""Noise-contrastive estimation and its relatives: learn by telling data from noise.

NCE (Gutmann and Hyvarinen 2010) trains a classifier between data (label 1) and :math:`k`
noise samples per data point (label 0) whose log-odds are

.. math::

    G(u) = \log p_\text{model}(u) - \log p_\text{noise}(u) - \log k,

with :math:`\log p_\text{model}(u) = -E(u)` read as a *normalized* density: wrap the model in
:class:`~ebmlib.models.LearnedNormalizer` so that a learned :math:`c` plays :math:`-\log Z`. The
loss per data point is the logistic loss in its stable log-sum-exp form,

.. math::

    \operatorname{softplus}(-G(x)) + k \operatorname{mean}_\text{noise} \operatorname{softplus}(G(y)),
    \qquad \operatorname{softplus}(t) = \log(1 + e^t),

and at its optimum :math:`p_\text{model} = p_\text{data}` and :math:`c = -\log Z`.

* :func:`~ebmlib.objectives.nce` needs a noise that can ``sample`` and give ``log_prob`` (every
  ``torch.distributions`` object over vectors does).
* :func:`~ebmlib.objectives.negative_sampling` (Mikolov et al. 2013) sets
  :math:`k\, p_\text{noise} = 1`: the noise need only be sampled. It equals NCE when
  :math:`k = |X|` and the noise is uniform, and otherwise does not estimate the likelihood.
* :func:`~ebmlib.objectives.importance_sampled_nll`: the multi-class relative; the data point
  competes with its :math:`k` noise samples in one softmax (:math:`c` cancels).
* :func:`~ebmlib.objectives.self_contrastive`: the noise is a frozen copy of the model itself;
  the expected gradient is :math:`k / (k + 1)` times the maximum-likelihood gradient
  (Goodfellow 2014).
* flow contrastive estimation, whose noise is a normalizing flow trained to make the
  classification hard (Gao et al. 2020), is in :mod:`ebmlib.objectives.adversarial`.

``k``, the number of noise samples per data point, keeps its name from the literature (NCE's
noise ratio).
"""

from __future__ import annotations

import math
from typing import Any

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
]


def _draw(noise: object, n: int, n_features: int, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` samples ``[n, d]`` from a noise object (anything with ``sample(sample_shape, generator)``,
    ``torch.distributions`` objects included)."""
    if not callable(getattr(noise, "sample", None)):
        raise TypeError(
            f"noise must have a sample method (a torch.distributions object, say), got {type(noise).__name__}"
        )
    y = draw(noise, (n,), generator=generator)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, n_features):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"noise.sample(({n},)) must return shape [{n}, {n_features}], got {shape}")
    return y


def _noise_log_prob(noise: Any, y: torch.Tensor) -> torch.Tensor:
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
    r"""Noise-contrastive estimation loss (minimise it).

    Args:
        model: read as normalized, :math:`\log p(u) = -E(u)`; wrap it in
            :class:`~ebmlib.models.LearnedNormalizer` to learn :math:`c = -\log Z`.
        x: ``[batch, n]`` data.
        noise: a distribution with ``sample`` and ``log_prob`` (any ``torch.distributions``
            object over vectors, a :class:`~ebmlib.models.CouplingFlow`, a
            :class:`~ebmlib.models.GaussianEnergy` ...).
        k: noise samples per data point (the prior odds noise : data).
        noise_samples: ``[k * batch, n]`` noise samples to use instead of drawing them
            (to hold them fixed across an optimization).
        generator: random generator for the noise draws.

    Returns:
        0-d loss; its minimiser over an unrestricted model is :math:`p_\text{model} = p_\text{data}`.
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
    r"""Negative sampling: NCE with ``k p_noise(u)`` replaced by 1, so :math:`G(u) = -E(u)`.

    The noise needs only ``sample``. The optimum is

    .. math::

        \exp(-E(x)) = p_\text{data}(x) / (k p_\text{noise}(x)),

    the data density divided by the noise, which is the likelihood's answer only when the
    noise is uniform (and normalized only when also :math:`k = |X|`).

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
    r"""Importance-sampled NLL: each data point competes with its own ``k`` noise samples.

    :math:`\log Z` is estimated by importance sampling from the noise, with the data point
    itself among the :math:`k + 1` samples (which keeps the estimate finite):

    .. math::

        \log \hat{Z}(x) = \log \operatorname{mean}(w(x), w(y_1), \dots, w(y_k))

    with :math:`\log w(u) = -E(u) - \log p_\text{noise}(u)`, and the loss is

    .. math::

        \operatorname{mean}_x [E(x) + \log \hat{Z}(x)],

    a consistent estimate of the NLL as :math:`k` grows. Up to terms free of the model it is the
    cross-entropy of picking ``x`` out of the ``k + 1`` candidates, the multi-class relative of
    NCE; any ``c`` cancels.
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
    r"""Self-contrastive estimation: NCE whose noise is a frozen copy of the model.

    With the copy's parameters equal to the model's, :math:`G(u) = -E(u) + E_\text{frozen}(u) - \log k`
    is :math:`-\log k` everywhere (whatever ``c``), so the loss *value* is constant but its
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
