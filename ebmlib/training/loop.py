"""The training loop: minibatches, an optimizer, a progress bar, a history, checkpoints.

The loop times only the training itself: metrics (for example the exact log-likelihood
of held-out data) are evaluated with the clock stopped, so that methods can be compared
at equal training time.

With ``checkpoint=path`` the loop saves everything a run depends on (model, optimizer,
the loss function's own state such as persistent chains, the history, the random states
and the position in the minibatch order) every ``checkpoint_every`` steps and at the end.
Calling :func:`fit` again with the same path resumes from the saved step, and the
resumed run is the same, bit for bit, as one that was never interrupted. A checkpoint holds
only tensors, numbers, strings and plain containers, and is loaded with
``torch.load(weights_only=True)``: a file that holds any other object (which unpickling could
turn into running code) is refused.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._validation import check_positive_int, mark_checked
from ..utils import progress_range

__all__ = ["History", "fit", "LossFn", "MetricFn"]

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

    def record(
        self, metrics: Mapping[str, Callable[[Any], float]], model: torch.nn.Module, step: int, seconds: float
    ) -> None:
        """Evaluate every metric on ``model`` (no gradients) and store it with its step and time."""
        with torch.no_grad():
            for name, fn in metrics.items():
                self.metrics.setdefault(name, []).append(float(fn(model)))
        self.metric_steps.append(step)
        self.metric_seconds.append(seconds)


class _BatchOrder:
    """Row indices of minibatch ``step`` (1-based): epoch ``e`` is a permutation seeded by
    ``seed + e``, so any step's batch can be recomputed when a run resumes. The permutation
    is made once per epoch."""

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device) -> None:
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.per_epoch = n // batch_size
        self.epoch, self.order = -1, torch.empty(0, dtype=torch.long)

    def __call__(self, step: int) -> torch.Tensor:
        epoch, slot = divmod(step - 1, self.per_epoch)
        if epoch != self.epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self.epoch, self.order = epoch, torch.randperm(self.n, generator=generator).to(self.device)
        return self.order[slot * self.batch_size : (slot + 1) * self.batch_size]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind


def _load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, read with ``weights_only=True``: tensors and plain containers only."""
    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"checkpoint {path} holds objects other than tensors, numbers, strings and plain containers; "
            "it was not loaded (unpickling such objects can run code). Checkpoints written by fit never do."
        ) from err


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
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    callback: Callable[[int, torch.nn.Module], None] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> History:
    """Minimise ``loss_fn(model, batch)`` over minibatches of ``data``.

    Args:
        model: the model; its parameters are updated in place.
        loss_fn: maps ``(model, batch)`` to a scalar loss, e.g.
            ``lambda m, x: ebmlib.objectives.naive_mcmc(m, x, n_steps=10)``.
        data: ``[N, n]`` training rows (on the model's device).
        n_steps: number of parameter updates.
        batch_size: rows per update (capped at ``N``); epochs are reshuffled with ``generator``.
        optimizer: any ``torch.optim`` optimizer; default plain SGD with learning rate ``lr``.
        lr: the default optimizer's learning rate.
        metrics: name -> ``fn(model) -> float``, evaluated (clock stopped, no gradients)
            before training, every ``eval_every`` steps, and after the last step.
        eval_every: steps between metric evaluations.
        time_budget: stop early once training time exceeds this many seconds.
        generator: generator for the seed of the minibatch order (``None``: the global state).
        progress: show a progress bar.
        checkpoint: file to save the run to; if it exists, the run resumes from it.
        checkpoint_every: steps between checkpoints (one is always written at the end).
        callback: ``callback(step, model)`` after every step, with the clock stopped (to
            record chains, say).
        scheduler: a learning-rate scheduler of ``optimizer``, stepped after every update
            (stochastic gradients need a decaying rate to converge to a point).

    Returns:
        The :class:`History` of the run.
    """
    check_positive_int(n_steps, "n_steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(eval_every, "eval_every")
    if not isinstance(data, torch.Tensor) or data.dim() != 2:
        raise ValueError("data must be a [N, n] tensor")
    # Check the rows once, here; every minibatch is a copy of checked rows and is marked so.
    binary = None
    check_input = getattr(model, "check_input", None)
    if callable(check_input):
        check_input(data, "data")
        binary = bool(getattr(model, "is_binary", False))
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    check_positive_int(checkpoint_every, "checkpoint_every")
    metrics = dict(metrics or {})
    history = History(metrics={name: [] for name in metrics})
    batch_size = min(batch_size, len(data))
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device if generator else "cpu"))
    elapsed = 0.0
    first = 1
    path = Path(checkpoint) if checkpoint is not None else None

    def save(step: int) -> None:
        state = {
            "step": step,
            "seed": seed,
            "elapsed": elapsed,
            "history": asdict(history),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": _rng_state(),
        }
        if hasattr(loss_fn, "state_dict"):
            state["loss_fn"] = loss_fn.state_dict()
        if scheduler is not None:
            state["scheduler"] = scheduler.state_dict()
        if path is not None:
            _save_checkpoint(path, state)

    if path is not None and path.exists():
        state = _load_checkpoint(path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "loss_fn" in state and hasattr(loss_fn, "load_state_dict"):
            loss_fn.load_state_dict(state["loss_fn"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"])
        history = History(**state["history"])
        seed, elapsed, first = state["seed"], state["elapsed"], state["step"] + 1

    if metrics and first == 1:
        history.record(metrics, model, 0, elapsed)
    order = _BatchOrder(len(data), batch_size, seed, data.device)
    pending: list[torch.Tensor] = []  # losses not yet read back as floats

    def flush() -> None:
        if pending:
            history.loss.extend(torch.stack(pending).reshape(-1).double().tolist())
            pending.clear()

    bar = progress_range(n_steps - first + 1, progress, "training")
    for step in (first + i for i in bar):
        start = time.perf_counter()
        batch = data[order(step)]
        if binary is not None:
            mark_checked(batch, binary)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        pending.append(loss.detach())
        _synchronize(data.device)  # a GPU's queued work belongs to this step's time
        elapsed += time.perf_counter() - start
        history.seconds.append(elapsed)
        last = step == n_steps or (time_budget is not None and elapsed >= time_budget)
        if callback is not None:
            callback(step, model)
        if metrics and (step % eval_every == 0 or last):
            flush()
            history.record(metrics, model, step, elapsed)
            if progress:
                bar.set_postfix({k: f"{v[-1]:.3f}" for k, v in history.metrics.items()})
        if path is not None and (step % checkpoint_every == 0 or last):
            flush()
            save(step)
        if last:
            break
    flush()
    return history
