"""A small training loop: minibatches, an optimizer, a progress bar, a history, checkpoints.

The loop times only the training itself: metrics (for example the exact log-likelihood
of held-out data) are evaluated with the clock stopped, so that methods can be compared
at equal training time.

With ``checkpoint=path`` the loop saves everything a run depends on (model, optimizer,
the loss function's own state such as persistent chains, the history, the random states
and the position in the minibatch order) every ``checkpoint_every`` steps and at the end.
Calling :func:`fit` again with the same path resumes from the saved step, and the
resumed run is the same, bit for bit, as one that was never interrupted.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from ._validation import check_positive_int, mark_checked
from .utils import progress_range

__all__ = ["History", "fit", "minimize", "compare", "Comparison", "Run"]

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

    def record(self, metrics: Mapping[str, MetricFn], model: torch.nn.Module, step: int, seconds: float) -> None:
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
        self.epoch, self.order = -1, None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, slot = divmod(step - 1, self.per_epoch)
        if epoch != self.epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self.epoch, self.order = epoch, torch.randperm(self.n, generator=generator).to(self.device)
        return self.order[slot * self.batch_size : (slot + 1) * self.batch_size]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    if callable(getattr(model, "check_input", None)):
        model.check_input(data, "data")
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
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # never leave a half-written checkpoint behind

    if path is not None and path.exists():
        state = torch.load(path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "loss_fn" in state:
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


def minimize(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor,
    *,
    max_iter: int = 500,
    tolerance: float = 1e-9,
) -> float:
    """Minimise ``loss_fn(model, data)`` on the whole data set with L-BFGS (deterministic loss).

    For estimators whose statistical error is the point (for example NCE's error against
    the number of data points), the optimization error must be far below it; full-batch
    L-BFGS with a strong-Wolfe line search gets there in a few hundred iterations where
    stochastic gradients would need a decaying step size. The loss must be deterministic:
    hold any noise samples fixed (``noise_samples=`` in :func:`ebmlib.objectives.nce`).

    Args:
        model: the model; its parameters are updated in place.
        loss_fn: maps ``(model, data)`` to a scalar loss.
        data: the whole training set.
        max_iter: L-BFGS iterations at most.
        tolerance: stop when the gradient's largest entry or a step's change falls below this.

    Returns:
        The final loss.
    """
    check_positive_int(max_iter, "max_iter")
    optimizer = torch.optim.LBFGS(
        model.parameters(),
        max_iter=max_iter,
        tolerance_grad=tolerance,
        tolerance_change=tolerance * 1e-3,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, data)
        if not torch.isfinite(loss):
            raise ValueError("the loss became NaN or infinite during minimize")
        loss.backward()
        for p in model.parameters():  # L-BFGS flattens gradients with view()
            if p.grad is not None and not p.grad.is_contiguous():
                p.grad = p.grad.contiguous()
        return loss

    optimizer.step(closure)
    # no torch.no_grad() here: losses such as score matching differentiate with respect to the data
    return float(loss_fn(model, data).detach())


# ---------------------------------------------------------------------------------------------
# Many methods, one budget


@dataclass
class Run:
    """One training run of :func:`compare`.

    Attributes:
        method: the method's name.
        seed: the seed of its generators (model initialisation, objective, minibatch order).
        lr: the learning rate it ran with.
        history: the :class:`History` of :func:`fit` (metrics at ``eval_every`` steps).
        model: the trained model.
        score: ``select(model)`` at the end (``-inf`` when the run failed).
        error: why the run failed (an exception's message), or ``None``.
        variant: the label of the method's variant it ran (``None``: the method has none).
    """

    method: str
    seed: int
    lr: float
    history: History
    model: torch.nn.Module
    score: float
    error: str | None = None
    variant: str | None = None


@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes:
        runs: every final run (one per method and seed, at the chosen learning rate).
        lrs: method -> the learning rate chosen on ``select``.
        tuning: method -> {learning rate: ``select`` score of its tuning run}; for a method
            with variants the keys are ``(variant, learning rate)``.
        variants: method -> the variant chosen with its learning rate, for methods that have
            variants.
    """

    runs: list[Run]
    lrs: dict[str, float]
    tuning: dict[str, dict]
    variants: dict[str, str] = field(default_factory=dict)

    def of(self, method: str) -> list[Run]:
        """The runs of one method, in seed order."""
        found = [r for r in self.runs if r.method == method]
        if not found:
            raise KeyError(f"no method named {method!r}; have {sorted(self.lrs)}")
        return found

    def final(self, method: str, metric: str) -> torch.Tensor:
        """``[seeds]`` float64: the last value of ``metric`` in each run of ``method``."""
        return torch.tensor(
            [r.history.metrics[metric][-1] if r.error is None else float("nan") for r in self.of(method)],
            dtype=torch.float64,
        )

    def time_to_reach(self, method: str, metric: str, threshold: float) -> float:
        """Mean training seconds until ``metric`` first reaches ``threshold`` (``inf`` if a run never does)."""
        times = []
        for r in self.of(method):
            values, seconds = r.history.metrics.get(metric, []), r.history.metric_seconds
            hit = next((s for v, s in zip(values, seconds) if v >= threshold), math.inf)
            times.append(hit)
        return sum(times) / len(times)

    def table(self, metric: str, threshold: float | None = None) -> list[dict]:
        """One row per method: lr, mean / std / min / max of ``metric`` over seeds, seconds per update,
        updates run, (given ``threshold``) the mean time to reach it and, when any method has
        variants, the chosen one (``""`` for the others)."""
        rows = []
        for method in self.lrs:
            values = self.final(method, metric)
            runs = self.of(method)
            row = {
                "method": method,
                "lr": self.lrs[method],
                "mean": values.mean().item(),
                "std": values.std().item() if len(values) > 1 else 0.0,
                "min": values.min().item(),
                "max": values.max().item(),
                "seconds/update": sum(r.history.seconds_per_step for r in runs) / len(runs),
                "updates": sum(len(r.history.seconds) for r in runs) / len(runs),
            }
            if threshold is not None:
                row["seconds to threshold"] = self.time_to_reach(method, metric, threshold)
            if self.variants:
                row["variant"] = self.variants.get(method, "")
            rows.append(row)
        return rows


def compare(
    methods: Mapping[str, Callable[[torch.Generator], LossFn] | Mapping[str, Callable[[torch.Generator], LossFn]]],
    make_model: Callable[[torch.Generator], torch.nn.Module] | Mapping[str, Callable],
    data: torch.Tensor,
    *,
    n_steps: int,
    lr: float | Sequence[float] | Mapping[str, float | Sequence[float]],
    select: MetricFn | None = None,
    metrics: Mapping[str, MetricFn] | None = None,
    seeds: Sequence[int] = (0,),
    time_budget: float | None = None,
    batch_size: int = 100,
    optimizer: Callable[..., torch.optim.Optimizer] = torch.optim.SGD,
    eval_every: int = 10,
    progress: bool = False,
) -> Comparison:
    """Train one model per method and seed under the same budget, each at a tuned learning rate.

    For every method whose ``lr`` is a list, one run per learning rate (with the first seed) is
    scored by ``select`` (higher is better: for example the log-likelihood of a *validation*
    split, never the test split), and the best is kept. Then every seed runs at that rate (the
    tuning run of the first seed is reused, being the same run). A method given as a mapping
    of variants (a noise scale, a number of sampler steps) is tuned over every variant and
    learning rate together, in the same way. Every run gets ``n_steps``
    updates, or fewer when ``time_budget`` seconds of training run out first; :func:`fit`
    times the training alone, so the budgets are equal in wall-clock time too.

    A run that raises (a :class:`~ebmlib.objectives.DivergenceError`, say) or ends with a
    non-finite loss is kept with ``score = -inf`` and its ``error``; it is never chosen.

    Args:
        methods: name -> ``factory(generator) -> loss_fn``. The factory builds a fresh objective
            for every run (persistent chains must not leak between runs) from a generator on
            ``data``'s device. Or name -> {variant label: factory}, to choose among them.
        make_model: ``make_model(generator) -> model`` on ``data``'s device, initialised from the
            CPU ``generator`` it is given (every method starts from the same model per seed);
            or name -> such a factory, for methods that need their own model (NCE's learned
            normalizer, say).
        data: ``[N, n]`` training rows.
        n_steps: updates per run.
        lr: one rate for all, a list to choose from for all, or a per-method mapping of either.
        select: ``fn(model) -> float`` that picks the learning rate (required when any ``lr``
            is a list).
        metrics: recorded during training (see :func:`fit`).
        seeds: one final run per seed.
        time_budget: training seconds per run (``None``: ``n_steps`` updates exactly).
        batch_size: rows per update.
        optimizer: ``optimizer(parameters, lr=...)``; default plain SGD.
        eval_every: updates between metric evaluations.
        progress: a progress bar per run.

    Returns:
        A :class:`Comparison`; ``comparison.table(metric)`` summarises it.
    """
    from .utils import make_generator

    if not methods:
        raise ValueError("methods must name at least one method")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if isinstance(lr, Mapping):
        missing = set(methods) - set(lr)
        if missing:
            raise ValueError(f"lr gives no learning rate for {sorted(missing)}")
        grids = {name: lr[name] for name in methods}
    else:
        grids = {name: lr for name in methods}
    grids = {k: [float(v)] if isinstance(v, (int, float)) else [float(u) for u in v] for k, v in grids.items()}
    for name, grid in grids.items():
        if not grid or any(not math.isfinite(v) or v <= 0 for v in grid):
            raise ValueError(f"lr for {name!r} must be positive numbers, got {grid}")
    factories = {}  # name -> {variant label (None: the method has no variants): factory}
    for name, given in methods.items():
        if isinstance(given, Mapping) and not given:
            raise ValueError(f"the variants of {name!r} must name at least one factory")
        factories[name] = dict(given) if isinstance(given, Mapping) else {None: given}
    if select is None and any(len(grids[k]) * len(f) > 1 for k, f in factories.items()):
        raise ValueError("select is needed to choose among several learning rates or variants")

    if isinstance(make_model, Mapping):
        missing = set(methods) - set(make_model)
        if missing:
            raise ValueError(f"make_model gives no model for {sorted(missing)}")

    def one(name: str, seed: int, rate: float, variant: str | None = None) -> Run:
        factory = make_model[name] if isinstance(make_model, Mapping) else make_model
        model = factory(make_generator(seed, "model"))
        loss_fn = factories[name][variant](make_generator(seed, "objective", name, device=data.device))
        try:
            history = fit(
                model,
                loss_fn,
                data,
                n_steps=n_steps,
                batch_size=batch_size,
                optimizer=optimizer(model.parameters(), lr=rate),
                metrics=metrics,
                eval_every=eval_every,
                time_budget=time_budget,
                generator=make_generator(seed, "order", name),
                progress=progress,
            )
        except (RuntimeError, ValueError, FloatingPointError) as err:
            return Run(name, seed, rate, History(), model, -math.inf, f"{type(err).__name__}: {err}", variant)
        if history.loss and not math.isfinite(history.loss[-1]):
            return Run(name, seed, rate, history, model, -math.inf, "the loss is not finite", variant)
        score = float(select(model)) if select is not None else math.nan
        return Run(
            name,
            seed,
            rate,
            history,
            model,
            score if math.isfinite(score) or select is None else -math.inf,
            None,
            variant,
        )

    runs, lrs, tuning, chosen = [], {}, {}, {}
    for name, grid in grids.items():
        labels = list(factories[name])
        candidates = [(label, rate) for label in labels for rate in grid]
        first = {c: one(name, seeds[0], c[1], c[0]) for c in candidates}
        key = (lambda c: c[1]) if labels == [None] else (lambda c: c)
        tuning[name] = {key(c): run.score for c, run in first.items()}
        best = candidates[0] if len(candidates) == 1 else max(candidates, key=lambda c: first[c].score)
        lrs[name] = best[1]
        if labels != [None]:
            chosen[name] = best[0]
        runs.append(first[best])
        runs.extend(one(name, seed, best[1], best[0]) for seed in seeds[1:])
    return Comparison(runs, lrs, tuning, chosen)
