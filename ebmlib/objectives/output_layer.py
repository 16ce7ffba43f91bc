r"""Training a softmax over many outputs without paying for its normalizer.

A language model with a linear output layer (:class:`~ebmlib.models.NeuralLM`) scores every
word :math:`w` given the features :math:`\phi(h)` of its context:
:math:`s(w) = u_w^\top \phi + b_w`, and :math:`p(w \mid h) = e^{s(w)} / Z(h)` with
:math:`Z(h) = \sum_w e^{s(w)}`, a pass over all :math:`V` rows of the output layer per example.
The objectives below have the one shape of :mod:`ebmlib.objectives`,
``objective(lm, batch, ...) -> loss``, where the rows of ``batch`` are
``[context words..., target word]`` (``data.ngrams`` joined as columns), so they drop into
:func:`ebmlib.training.fit`; the sampled ones touch only the target rows of the output layer and
``k`` rows drawn from ``noise_probs`` (shared by the batch):

* :func:`~ebmlib.objectives.softmax_nll`: the full softmax (optionally with the self-normalization penalty);
* :func:`~ebmlib.objectives.sampled_nce`: NCE with the per-context normalizer fixed (Mnih and Teh 2012) or a
  learned global ``log_c``;
* :func:`~ebmlib.objectives.sampled_negative_sampling`: Mikolov et al.'s negative sampling;
* :func:`~ebmlib.objectives.sampled_softmax`: importance-sampled softmax (Jean et al. 2015);
* :func:`~ebmlib.objectives.normalization_penalty`: :math:`\lambda \operatorname{mean}((\log Z)^2)`
  (Devlin et al. 2014), zero exactly when every normalizer is 1.

``k``, the number of sampled words, keeps its name from the literature (NCE's noise ratio).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validation import check_generator, check_ids, check_positive_int
from ..models import NeuralLM
from .noise_contrastive import _logistic_loss

__all__ = [
    "softmax_nll",
    "sampled_nce",
    "sampled_negative_sampling",
    "sampled_softmax",
    "normalization_penalty",
]


def _check_layer(weight: torch.Tensor, bias: torch.Tensor, hidden: torch.Tensor, target: torch.Tensor) -> None:
    for t, name in [(weight, "weight"), (bias, "bias"), (hidden, "hidden")]:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if weight.dim() != 2 or bias.shape != (weight.shape[0],):
        raise ValueError(f"weight must be [V, d] and bias [V], got {tuple(weight.shape)} and {tuple(bias.shape)}")
    if hidden.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden must have shape [batch, {weight.shape[1]}], got {tuple(hidden.shape)}")
    check_ids(target, "target", weight.shape[0], ())
    if target.shape[0] != hidden.shape[0]:
        raise ValueError(f"target must have one id per row of hidden ({hidden.shape[0]}), got {target.shape[0]}")


def _layer(lm: NeuralLM, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The output layer's ``weight [V, d]`` and ``bias [V]``, the context features ``[batch, d]``
    and the targets ``[batch]`` of a batch of ``[context..., target]`` rows."""
    for attribute in ("features", "output", "vocab_size", "context_size"):
        if not hasattr(lm, attribute):
            raise TypeError(
                f"lm must be a language model with features(), an output layer, vocab_size and context_size "
                f"(an ebmlib.models.NeuralLM), got {type(lm).__name__}"
            )
    width = lm.context_size + 1
    if not isinstance(batch, torch.Tensor) or batch.dtype != torch.long or batch.dim() != 2 or batch.shape[1] != width:
        shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(
            f"batch must be a long tensor of word ids, [batch, {width}] (context, then target), got {shape}"
        )
    hidden = lm.features(batch[:, :-1])  # checks the context ids; _check_layer the targets
    weight, bias, target = lm.output.weight, lm.output.bias, batch[:, -1]
    _check_layer(weight, bias, hidden, target)
    return weight, bias, hidden, target


def _check_noise_probs(noise_probs: torch.Tensor, n_classes: int) -> None:
    if not isinstance(noise_probs, torch.Tensor) or noise_probs.shape != (n_classes,):
        raise ValueError(f"noise_probs must be a tensor of shape [{n_classes}] (one probability per class)")
    if not bool(torch.isfinite(noise_probs).all()) or bool((noise_probs <= 0).any()):
        raise ValueError("noise_probs must be finite and > 0 for every class (NCE divides by them)")
    if abs(float(noise_probs.sum()) - 1.0) > 1e-4:
        raise ValueError(f"noise_probs must sum to 1, got {float(noise_probs.sum()):.6f}")


def _sampled_scores(lm, batch, noise_probs, k, generator):
    """Target scores ``[batch]``, sampled ids ``[k]`` and their scores ``[batch, k]``."""
    weight, bias, hidden, target = _layer(lm, batch)
    _check_noise_probs(noise_probs, weight.shape[0])
    check_positive_int(k, "k")
    check_generator(generator, hidden.device)
    ids = torch.multinomial(noise_probs, k, replacement=True, generator=generator)
    s_target = (hidden * weight[target]).sum(-1) + bias[target]
    s_noise = hidden @ weight[ids].T + bias[ids]
    return s_target, ids, s_noise, target


def softmax_nll(lm: NeuralLM, batch: torch.Tensor, *, self_normalization: float = 0.0) -> torch.Tensor:
    r"""Full-softmax negative log-likelihood, plus ``self_normalization`` times
    :math:`\operatorname{mean}((\log Z(h))^2)`.

    Args:
        lm: a language model (:class:`~ebmlib.models.NeuralLM`).
        batch: ``[batch, context_size + 1]`` word ids, each row the context and then the target.
        self_normalization: the penalty weight :math:`\lambda \ge 0` (0: plain softmax).
    """
    weight, bias, hidden, target = _layer(lm, batch)
    if not isinstance(self_normalization, (int, float)) or not self_normalization >= 0:
        raise ValueError(f"self_normalization must be a number >= 0, got {self_normalization!r}")
    scores = hidden @ weight.T + bias
    log_z = torch.logsumexp(scores, dim=-1)
    nll = (log_z - scores.gather(1, target[:, None]).squeeze(1)).mean()
    return nll + normalization_penalty(log_z, self_normalization) if self_normalization else nll


def normalization_penalty(log_z: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    r"""``weight`` times :math:`\operatorname{mean}((\log Z)^2)`: zero exactly when every normalizer :math:`Z` is 1.

    Args:
        log_z: log normalizers, any shape (one per context, or a model's 0-d :math:`\log Z`).
        weight: the penalty weight :math:`\lambda`.
    """
    if not isinstance(log_z, torch.Tensor) or not log_z.is_floating_point():
        raise TypeError("log_z must be a floating tensor")
    if not bool(torch.isfinite(log_z).all()):
        raise ValueError("log_z contains NaN or infinite values")
    return weight * (log_z * log_z).mean()


def sampled_nce(
    lm: NeuralLM,
    batch: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    log_c: torch.Tensor | float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""NCE over classes: :math:`G(w) = s(w) + \log c - \log(k\, q(w))`, logistic loss on target vs ``k`` samples.

    :math:`\log p(w | \phi)` is taken to be ``s(w) + log_c``: with ``log_c = 0`` (fixed, as Mnih and
    Teh did) the network is pushed to make every :math:`Z(\phi)` equal 1 by itself; pass a
    learnable 0-d parameter to learn one shared ``log_c``, :math:`\log c = -\log Z`.

    Args:
        lm, batch: as :func:`~ebmlib.objectives.softmax_nll`.
        noise_probs: ``[V]`` noise distribution ``q`` (the unigram, say), every entry > 0.
        k: noise classes drawn per batch (with replacement, shared by its rows).
        log_c: the normalizing constant, fixed or learned.
        generator: random generator for the draws.
    """
    s_target, ids, s_noise, target = _sampled_scores(lm, batch, noise_probs, k, generator)
    log_kq = noise_probs.log() + math.log(k)
    return _logistic_loss(s_target + log_c - log_kq[target], s_noise + log_c - log_kq[ids], k)


def sampled_negative_sampling(
    lm: NeuralLM,
    batch: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Negative sampling over classes: :math:`G(w) = s(w)`; ``q`` is used only to draw.

    Its optimum is :math:`\exp(s(w)) = p(w | \phi) / (k q(w))`, so the softmax of the learned
    scores is the data distribution divided by ``q``: good for embeddings, not for likelihood.

    Args: as :func:`~ebmlib.objectives.sampled_nce`.
    """
    s_target, _, s_noise, _ = _sampled_scores(lm, batch, noise_probs, k, generator)
    return _logistic_loss(s_target, s_noise, k)


def sampled_softmax(
    lm: NeuralLM,
    batch: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Importance-sampled softmax: cross-entropy of the target among ``k`` sampled classes.

    The logits are corrected by :math:`-\log q`, so that the sum over samples is an importance
    estimate of :math:`Z(\phi)` (Jean et al. 2015); as ``k`` grows the gradient tends to the full
    softmax's. A sampled class equal to the target ("accidental hit") is kept, as in the
    basic form; its effect is of order ``k q(target)``.

    Args: as :func:`~ebmlib.objectives.sampled_nce`.
    """
    s_target, ids, s_noise, target = _sampled_scores(lm, batch, noise_probs, k, generator)
    log_q = noise_probs.log()
    logits = torch.cat([(s_target - log_q[target])[:, None], s_noise - log_q[ids]], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(target))
