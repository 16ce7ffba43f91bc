"""A small training loop: minibatches, an optimizer, a progress bar, and a history.

The loop times only the training itself: metrics (for example the exact log-likelihood
of held-out data) are evaluated with the clock stopped, so that methods can be compared
at equal training time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from ._validation import check_positive_int
from .utils import progress_range

__all__ = ["History", "fit"]

LossFn = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.nn.Module], float]


@dataclass
class History:
    """What :func:`fit` records.

    Attributes:
        loss: the loss of every step.
        seconds: training wall time (metrics excluded) after every step.
        metric_steps: the steps (0 = before training) at which metrics were evaluated.
        metric_seconds: training wall time at those steps.
        metrics: each metric's values at ``metric_steps``.
    """

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    metric_steps: list[int] = field(default_factory=list)
    metric_seconds: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float:
        """Average training time of one step."""
        return self.seconds[-1] / len(self.seconds) if self.seconds else float("nan")

    def last(self, name: str) -> float:
        """The latest value of metric ``name``."""
        return self.metrics[name][-1]


def _batches(n: int, batch_size: int, generator: torch.Generator | None):
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor,
    *,
    n_steps: int,
    batch_size: int = 100,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.05,
    metrics: Mapping[str, MetricFn] | None = None,
    eval_every: int = 10,
    time_budget: float | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> History:
    """Minimise ``loss_fn(model, batch)`` over minibatches of ``data``.

    Args:
        model: the model; its parameters are updated in place.
        loss_fn: maps ``(model, batch)`` to a scalar loss, e.g.
            ``lambda m, x: ebmlib.objectives.naive_mcmc(m, x, burn_in=10)``.
        data: ``[N, n]`` training rows (on the model's device).
        n_steps: number of parameter updates.
        batch_size: rows per update (capped at ``N``); epochs are reshuffled with ``generator``.
        optimizer: any ``torch.optim`` optimizer; default plain SGD with learning rate ``lr``.
        lr: the default optimizer's learning rate.
        metrics: name -> ``fn(model) -> float``, evaluated (clock stopped, no gradients)
            before training, every ``eval_every`` steps, and after the last step.
        eval_every: steps between metric evaluations.
        time_budget: stop early once training time exceeds this many seconds.
        generator: CPU generator for the minibatch order.
        progress: show a progress bar.

    Returns:
        The :class:`History` of the run.
    """
    check_positive_int(n_steps, "n_steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(eval_every, "eval_every")
    if not isinstance(data, torch.Tensor) or data.dim() != 2:
        raise ValueError("data must be a [N, n] tensor")
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    metrics = dict(metrics or {})
    history = History(metrics={name: [] for name in metrics})
    batches = _batches(len(data), min(batch_size, len(data)), generator)
    elapsed = 0.0

    def evaluate(step: int) -> None:
        with torch.no_grad():
            for name, fn in metrics.items():
                history.metrics[name].append(float(fn(model)))
        history.metric_steps.append(step)
        history.metric_seconds.append(elapsed)

    if metrics:
        evaluate(0)
    bar = progress_range(n_steps, progress, "training")
    for step in (i + 1 for i in bar):
        start = time.perf_counter()
        batch = data[next(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        elapsed += time.perf_counter() - start
        history.loss.append(float(loss.detach()))
        history.seconds.append(elapsed)
        last = step == n_steps or (time_budget is not None and elapsed >= time_budget)
        if metrics and (step % eval_every == 0 or last):
            evaluate(step)
            if progress:
                bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.metrics.items()})
        if last:
            break
    return history
