r"""A neural n-gram language model: an energy model over a large discrete output.

:math:`p(w | h) = \exp(s(w, h)) / Z(h)` with scores :math:`s(w, h) = u_w \cdot \phi(h) + b_w`, where
``h`` is the previous ``context_size`` words and ``phi`` embeds and mixes them. Here the
normalizer :math:`Z(h) = \sum_w \exp(s(w, h))` is tractable but costs a pass over the whole
vocabulary for every context: the output layer dominates training and inference once
the vocabulary has tens of thousands of words. The objectives in
:mod:`ebmlib.objectives.output_layer` train it without that pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_ids, check_positive_int
from ..utils import _on_cpu
from ._init import linear

__all__ = ["NeuralLM"]


class NeuralLM(nn.Module):
    r"""Bengio-style feed-forward language model with a linear output layer.

    Args:
        vocab_size: number of words ``V`` (outputs).
        context_size: number of previous words the model sees.
        embed_dim: width of the word embeddings.
        hidden_dim: width of the hidden features ``phi(h)``.
        unigram: optional ``[V]`` word frequencies; the output bias starts at their log, so
            the untrained model is the (normalized) unigram model, :math:`\log Z(h) = 0`.
        generator: random generator for the initial embeddings and hidden layer.
        device, dtype: where and in what precision the parameters live. The model is drawn on
            the CPU and then moved, so that one generator gives the same model on every device.

    Attributes:
        embedding: ``[V, embed_dim]`` input embeddings.
        hidden: the layer from the concatenated embeddings to ``phi(h)``.
        output: the output layer; ``output.weight`` is ``[V, hidden_dim]``, ``output.bias`` ``[V]``.
    """

    def __init__(
        self,
        vocab_size: int,
        context_size: int = 1,
        embed_dim: int = 32,
        hidden_dim: int = 64,
        unigram: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for value, name in [
            (vocab_size, "vocab_size"),
            (context_size, "context_size"),
            (embed_dim, "embed_dim"),
            (hidden_dim, "hidden_dim"),
        ]:
            check_positive_int(value, name)
        self.vocab_size = vocab_size
        self.context_size = context_size
        generator = _on_cpu(generator)  # the model is made on the CPU; move it with .to()
        self.embedding = nn.utils.skip_init(nn.Embedding, vocab_size, embed_dim)
        with torch.no_grad():
            self.embedding.weight.normal_(generator=generator)
        self.hidden = linear(context_size * embed_dim, hidden_dim, generator)
        self.output = nn.utils.skip_init(nn.Linear, hidden_dim, vocab_size)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        if unigram is not None:
            unigram = torch.as_tensor(unigram, dtype=torch.float32)
            if unigram.shape != (vocab_size,) or not bool((unigram > 0).all()):
                raise ValueError(f"unigram must be [{vocab_size}] positive frequencies")
            with torch.no_grad():
                self.output.bias.copy_((unigram / unigram.sum()).log())
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def check_context(self, context: object, name: str = "context") -> torch.Tensor:
        """Check a ``[batch, context_size]`` tensor of word ids in ``[0, V)``."""
        return check_ids(context, name, self.vocab_size, (self.context_size,))

    def features(self, context: torch.Tensor) -> torch.Tensor:
        """``phi(h)``: ``[batch, context_size]`` word ids -> ``[batch, hidden_dim]``."""
        self.check_context(context)
        return torch.tanh(self.hidden(self.embedding(context).flatten(1)))

    def scores(self, context: torch.Tensor) -> torch.Tensor:
        """Unnormalized log-probabilities of every word, ``[batch, V]``."""
        return self.output(self.features(context))

    def log_partition(self, context: torch.Tensor) -> torch.Tensor:
        r""":math:`\log Z(h)` per context, ``[batch]`` (a pass over the whole vocabulary)."""
        return torch.logsumexp(self.scores(context), dim=-1)

    def log_prob(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r"""Normalized :math:`\log p(w | h)` per row, ``[batch]``: the full softmax."""
        target = check_ids(target, "target", self.vocab_size, ())
        scores = self.scores(context)
        return scores.gather(1, target[:, None]).squeeze(1) - torch.logsumexp(scores, dim=-1)

    def unnormalized_log_prob(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r"""``s(w, h)`` per row, ``[batch]``: one output row per example and no normalizer.

        Equals :meth:`log_prob` when the model is self-normalized (:math:`\log Z(h) = 0`).
        """
        target = check_ids(target, "target", self.vocab_size, ())
        phi = self.features(context)
        return (phi * self.output.weight[target]).sum(-1) + self.output.bias[target]

    def perplexity(self, context: torch.Tensor, target: torch.Tensor, log_normalizer: float | None = None) -> float:
        r""":math:`\exp(-\operatorname{mean} \log p(w | h))` over the rows, with no gradient.

        Args:
            context: ``[batch, context_size]`` word ids.
            target: ``[batch]`` word ids.
            log_normalizer: ``None`` for the full softmax; a number ``a`` to read ``s(w, h) - a``
                as the log-probability without computing :math:`Z(h)` (``0`` for a self-normalized
                model), which is a true perplexity only if the model really is normalized.
        """
        with torch.no_grad():
            if log_normalizer is None:
                log_p = self.log_prob(context, target)
            else:
                log_p = self.unnormalized_log_prob(context, target) - log_normalizer
        return math.exp(-float(log_p.mean()))
