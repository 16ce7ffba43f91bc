r"""CD-k and PCD-k training of an RBM by SGD, with the gradient written out by hand.

The general route, an objective from :mod:`ebmlib.objectives` inside
:func:`ebmlib.training.fit`, works for every model and optimizer and pays a little for
autograd and generality (``benchmarks/rbm_training.py`` measures how little). For the RBM
the likelihood gradient has a closed form,

.. math::

    \frac{\partial F(v)}{\partial W} = -v^\top \sigma(v W + c), \quad
    \frac{\partial F}{\partial b} = -v, \quad
    \frac{\partial F}{\partial c} = -\sigma(v W + c),

so one update is five matrix products (data to hidden, the chain's hidden -> visible ->
hidden, and the two outer products) plus the draws, applied in place with SGD. This
module does exactly that, checking its arguments once per run.

The persistent state is the chains' *hidden* layer, as in Tieleman (2008) and
scikit-learn: the hidden units drawn at the end of one update start the next one. That
saves the sixth product that keeping visible chains would cost (the chain's first
visible -> hidden step is the previous update's last one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch

from ._random import bernoulli_
from ._validation import check_generator, check_positive_float, check_positive_int
from .models import RBM
from .training import History
from .utils import progress_range

__all__ = ["fit_rbm"]


def _sgd_update_(
    model: RBM,
    v_pos: torch.Tensor,
    h_pos: torch.Tensor,
    v_neg: torch.Tensor,
    h_neg: torch.Tensor,
    lr: float,
) -> None:
    """One SGD step on the contrastive loss ``mean F(v_pos) - mean F(v_neg)``, in place.

    Args:
        model: the RBM, updated in place.
        v_pos: ``[B, n_visible]`` data; ``h_pos`` its hidden probabilities ``sigmoid(v W + c)``.
        v_neg: ``[C, n_visible]`` negative samples; ``h_neg`` their hidden probabilities.
        lr: the learning rate.
    """
    a, b = lr / len(v_pos), lr / len(v_neg)
    with torch.no_grad():
        model.weight.addmm_(v_pos.T, h_pos, alpha=a).addmm_(v_neg.T, h_neg, alpha=-b)
        model.visible_bias.add_(v_pos.sum(0), alpha=a).sub_(v_neg.sum(0), alpha=b)
        model.hidden_bias.add_(h_pos.sum(0), alpha=a).sub_(h_neg.sum(0), alpha=b)


def fit_rbm(
    model: RBM,
    data: torch.Tensor,
    *,
    n_epochs: int,
    batch_size: int = 100,
    lr: float = 0.05,
    k: int = 1,
    persistent: bool = True,
    shuffle: bool = True,
    metrics: Mapping[str, Callable[[RBM], float]] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> History:
    """Train an RBM by CD-k (``persistent=False``) or PCD-k with plain SGD, fast.

    The updates are those of :func:`ebmlib.objectives.cd` and
    :class:`ebmlib.objectives.PersistentCD` with ``torch.optim.SGD``, with one persistent
    chain per batch row (PCD) and the hidden layer as the chains' state (see above).

    Args:
        model: the RBM, trained in place (any device; ``data`` must be on the same one).
        data: ``[N, n_visible]`` binary training rows.
        n_epochs: passes over the data; each has ``N // batch_size`` updates.
        batch_size: rows per update.
        lr: SGD learning rate on the mean gradient.
        k: Gibbs steps of the negative phase per update.
        persistent: PCD-k if True, else CD-k (chains restart at the data).
        shuffle: reshuffle the rows every epoch (with ``generator``).
        metrics: name -> ``fn(model) -> float``, evaluated before training and after every
            epoch, with the clock stopped.
        generator: random generator on ``data``'s device, for the draws and the shuffles.
        progress: show a progress bar over epochs.

    Returns:
        A :class:`~ebmlib.training.History` (``metric_steps`` count updates).
    """
    if not isinstance(model, RBM):
        raise TypeError(f"fit_rbm trains an RBM, got {type(model).__name__}")
    model.check_input(data, "data")
    check_positive_int(n_epochs, "n_epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(k, "k")
    check_positive_float(lr, "lr")
    check_generator(generator, data.device)
    if batch_size > len(data):
        raise ValueError(f"batch_size ({batch_size}) must not exceed the number of rows ({len(data)})")
    data = data.to(model.weight.dtype)
    metrics = dict(metrics or {})
    history = History(metrics={name: [] for name in metrics})
    per_epoch = len(data) // batch_size
    elapsed = 0.0

    def draw(probs: torch.Tensor) -> torch.Tensor:  # in place: the probabilities become the draws
        return bernoulli_(probs, generator=generator)

    if metrics:
        history.record(metrics, model, 0, elapsed)
    chains = torch.zeros(batch_size, model.n_hidden, dtype=data.dtype, device=data.device)
    with torch.no_grad():
        for epoch in progress_range(n_epochs, progress, "fit_rbm"):
            start = time.perf_counter()
            rows = data
            if shuffle:
                rows = data[torch.randperm(len(data), generator=generator, device=data.device)]
            for i in range(per_epoch):
                v_pos = rows[i * batch_size : (i + 1) * batch_size]
                h_pos = model.hidden_logits(v_pos).sigmoid_()
                h = chains if persistent else draw(h_pos.clone())
                for step in range(k):
                    v_neg = model.sample_visible(h, generator=generator)
                    h_neg = model.hidden_logits(v_neg).sigmoid_()
                    if step < k - 1:
                        h = draw(h_neg)
                _sgd_update_(model, v_pos, h_pos, v_neg, h_neg, lr)
                if persistent:
                    chains = draw(h_neg)
            if data.device.type == "cuda":
                torch.cuda.synchronize()
            epoch_seconds = time.perf_counter() - start
            history.seconds.extend(elapsed + epoch_seconds * (j + 1) / per_epoch for j in range(per_epoch))
            elapsed += epoch_seconds
            if metrics:
                history.record(metrics, model, (epoch + 1) * per_epoch, elapsed)
    return history
