"""Training a softmax over many outputs without paying for its normalizer.

A model with a linear output layer scores every class ``w`` given features ``phi``:
``s(w) = u_w . phi + b_w``, and ``p(w | phi) = exp(s(w)) / Z(phi)`` with
``Z(phi) = sum_w exp(s(w))``, a pass over all ``V`` rows of the output layer per example.
The functions below take the layer's ``weight [V, d]`` and ``bias [V]``, the features
``hidden [batch, d]`` and the targets ``[batch]`` (the interface of TensorFlow's
``nce_loss`` and ``sampled_softmax_loss``); the sampled ones touch only the target rows and
``k`` rows drawn from ``noise_probs`` (shared by the batch):

* :func:`~ebmlib.objectives.softmax_nll`: the full softmax (optionally with the self-normalization penalty);
* :func:`~ebmlib.objectives.sampled_nce`: NCE with the per-context normalizer fixed (Mnih and Teh 2012) or a
  learned global ``log_c``;
* :func:`~ebmlib.objectives.sampled_negative_sampling`: Mikolov et al.'s negative sampling;
* :func:`~ebmlib.objectives.sampled_softmax`: importance-sampled softmax (Jean et al. 2015);
* :func:`~ebmlib.objectives.normalization_penalty`: ``lambda * mean(log Z)^2`` (Devlin et al. 2014), zero
  exactly when every normalizer is 1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validation import check_generator, check_ids, check_positive_int
from .noise_contrastive import _logistic_loss

__all__ = [
    "softmax_nll",
    "sampled_nce",
    "sampled_negative_sampling",
    "sampled_softmax",
    "normalization_penalty",
    "next_word_loss",
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


def _check_noise_probs(noise_probs: torch.Tensor, n_classes: int) -> None:
    if not isinstance(noise_probs, torch.Tensor) or noise_probs.shape != (n_classes,):
        raise ValueError(f"noise_probs must be a tensor of shape [{n_classes}] (one probability per class)")
    if not bool(torch.isfinite(noise_probs).all()) or bool((noise_probs <= 0).any()):
        raise ValueError("noise_probs must be finite and > 0 for every class (NCE divides by them)")
    if abs(float(noise_probs.sum()) - 1.0) > 1e-4:
        raise ValueError(f"noise_probs must sum to 1, got {float(noise_probs.sum()):.6f}")


def _sampled_scores(weight, bias, hidden, target, noise_probs, k, generator):
    """Target scores ``[batch]``, sampled ids ``[k]`` and their scores ``[batch, k]``."""
    _check_layer(weight, bias, hidden, target)
    _check_noise_probs(noise_probs, weight.shape[0])
    check_positive_int(k, "k")
    check_generator(generator, hidden.device)
    ids = torch.multinomial(noise_probs, k, replacement=True, generator=generator)
    s_target = (hidden * weight[target]).sum(-1) + bias[target]
    s_noise = hidden @ weight[ids].T + bias[ids]
    return s_target, ids, s_noise


def softmax_nll(
    weight: torch.Tensor,
    bias: torch.Tensor,
    hidden: torch.Tensor,
    target: torch.Tensor,
    self_normalization: float = 0.0,
) -> torch.Tensor:
    """Full-softmax negative log-likelihood, plus ``self_normalization * mean(log Z)^2``.

    Args:
        weight: ``[V, d]`` output weights.
        bias: ``[V]`` output biases.
        hidden: ``[batch, d]`` features.
        target: ``[batch]`` class ids.
        self_normalization: the penalty weight ``lambda >= 0`` (0: plain softmax).
    """
    _check_layer(weight, bias, hidden, target)
    if not isinstance(self_normalization, (int, float)) or not self_normalization >= 0:
        raise ValueError(f"self_normalization must be a number >= 0, got {self_normalization!r}")
    scores = hidden @ weight.T + bias
    log_z = torch.logsumexp(scores, dim=-1)
    nll = (log_z - scores.gather(1, target[:, None]).squeeze(1)).mean()
    return nll + normalization_penalty(log_z, self_normalization) if self_normalization else nll


def normalization_penalty(log_z: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """``weight * mean(log_z^2)``: zero exactly when every normalizer ``Z`` is 1.

    Args:
        log_z: log normalizers, any shape (one per context, or a model's 0-d ``log Z``).
        weight: the penalty weight ``lambda``.
    """
    if not isinstance(log_z, torch.Tensor) or not log_z.is_floating_point():
        raise TypeError("log_z must be a floating tensor")
    if not bool(torch.isfinite(log_z).all()):
        raise ValueError("log_z contains NaN or infinite values")
    return weight * (log_z * log_z).mean()


def sampled_nce(
    weight: torch.Tensor,
    bias: torch.Tensor,
    hidden: torch.Tensor,
    target: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    log_c: torch.Tensor | float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """NCE over classes: ``G(w) = s(w) + log_c - log(k q(w))``, logistic loss on target vs ``k`` samples.

    ``log p(w | phi)`` is taken to be ``s(w) + log_c``: with ``log_c = 0`` (fixed, as Mnih and
    Teh did) the network is pushed to make every ``Z(phi)`` equal 1 by itself; pass a
    learnable 0-d parameter to learn one shared ``log_c = -log Z``.

    Args:
        weight, bias, hidden, target: as :func:`~ebmlib.objectives.softmax_nll`.
        noise_probs: ``[V]`` noise distribution ``q`` (the unigram, say), every entry > 0.
        k: noise classes drawn per batch (with replacement, shared by its rows).
        log_c: the normalizing constant, fixed or learned.
        generator: random generator for the draws.
    """
    s_target, ids, s_noise = _sampled_scores(weight, bias, hidden, target, noise_probs, k, generator)
    log_kq = noise_probs.log() + math.log(k)
    return _logistic_loss(s_target + log_c - log_kq[target], s_noise + log_c - log_kq[ids], k)


def sampled_negative_sampling(
    weight: torch.Tensor,
    bias: torch.Tensor,
    hidden: torch.Tensor,
    target: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Negative sampling over classes: ``G(w) = s(w)``; ``q`` is used only to draw.

    Its optimum is ``exp(s(w)) = p(w | phi) / (k q(w))``, so the softmax of the learned
    scores is the data distribution divided by ``q``: good for embeddings, not for likelihood.
    """
    s_target, _, s_noise = _sampled_scores(weight, bias, hidden, target, noise_probs, k, generator)
    return _logistic_loss(s_target, s_noise, k)


def sampled_softmax(
    weight: torch.Tensor,
    bias: torch.Tensor,
    hidden: torch.Tensor,
    target: torch.Tensor,
    noise_probs: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled softmax: cross-entropy of the target among ``k`` sampled classes.

    The logits are corrected by ``-log q``, so that the sum over samples is an importance
    estimate of ``Z(phi)`` (Jean et al. 2015); as ``k`` grows the gradient tends to the full
    softmax's. A sampled class equal to the target ("accidental hit") is kept, as in the
    basic form; its effect is of order ``k q(target)``.
    """
    s_target, ids, s_noise = _sampled_scores(weight, bias, hidden, target, noise_probs, k, generator)
    log_q = noise_probs.log()
    logits = torch.cat([(s_target - log_q[target])[:, None], s_noise - log_q[ids]], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(target))


def next_word_loss(objective, *args, **kwargs):
    """Turn an output-layer objective into a ``loss(lm, batch)`` for :func:`ebmlib.training.fit`.

    ``batch`` rows are ``[context words..., target word]`` (``data.ngrams`` joined as columns);
    the loss computes the language model's features of the context and applies
    ``objective(lm.output.weight, lm.output.bias, features, target, *args, **kwargs)``.

    Example:
        ``loss = next_word_loss(sampled_nce, unigram, 64, generator=gen)``.
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")

    def loss(lm, batch: torch.Tensor) -> torch.Tensor:
        hidden = lm.features(batch[:, :-1])
        return objective(lm.output.weight, lm.output.bias, hidden, batch[:, -1], *args, **kwargs)

    return loss
