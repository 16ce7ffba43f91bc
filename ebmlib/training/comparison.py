"""Many methods, one budget: each trained at a tuned learning rate, over several seeds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from ..objectives import DivergenceError
from ..utils import make_generator
from .loop import History, LossFn, MetricFn, fit

__all__ = ["compare", "Comparison", "Run"]


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


def _finite(model: torch.nn.Module) -> bool:
    with torch.no_grad():
        return all(bool(torch.isfinite(p).all()) for p in model.parameters())


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

    A run that *diverges* is kept with ``score = -inf`` and its ``error``, and is never chosen: it
    raised :class:`~ebmlib.objectives.DivergenceError`, or it ended with a non-finite loss, or it
    raised anything else *after its parameters stopped being finite* (a sampler refusing NaN
    chains, say: a symptom of the divergence). Any other error (out of memory, a device error, a
    bug) is not a property of the learning rate: it propagates.

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
    if not methods:
        raise ValueError("methods must name at least one method")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if isinstance(lr, Mapping):
        missing = set(methods) - set(lr)
        if missing:
            raise ValueError(f"lr gives no learning rate for {sorted(missing)}")
        given = {name: lr[name] for name in methods}
    else:
        given = dict.fromkeys(methods, lr)
    grids: dict[str, list[float]] = {
        k: [float(v)] if isinstance(v, (int, float)) else [float(u) for u in v] for k, v in given.items()
    }
    for name, grid in grids.items():
        if not grid or any(not math.isfinite(v) or v <= 0 for v in grid):
            raise ValueError(f"lr for {name!r} must be positive numbers, got {grid}")
    # name -> {variant label (None: the method has no variants): factory}
    factories: dict[str, dict[str | None, Callable[[torch.Generator], LossFn]]] = {}
    for name, method in methods.items():
        if isinstance(method, Mapping) and not method:
            raise ValueError(f"the variants of {name!r} must name at least one factory")
        variants: dict[str | None, Callable[[torch.Generator], LossFn]] = {}
        for label, factory in method.items() if isinstance(method, Mapping) else [(None, method)]:
            variants[label] = factory
        factories[name] = variants
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
        except DivergenceError as err:
            return Run(name, seed, rate, History(), model, -math.inf, f"{type(err).__name__}: {err}", variant)
        except Exception as err:
            if _finite(model):
                raise
            message = f"the parameters are not finite ({type(err).__name__}: {err})"
            return Run(name, seed, rate, History(), model, -math.inf, message, variant)
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

    runs: list[Run] = []
    lrs: dict[str, float] = {}
    tuning: dict[str, dict] = {}
    chosen: dict[str, str] = {}
    for name, grid in grids.items():
        labels = list(factories[name])
        candidates = [(label, rate) for label in labels for rate in grid]
        first = {c: one(name, seeds[0], c[1], c[0]) for c in candidates}
        key = (lambda c: c[1]) if labels == [None] else (lambda c: c)
        tuning[name] = {key(c): run.score for c, run in first.items()}
        best = candidates[0] if len(candidates) == 1 else max(candidates, key=lambda c: first[c].score)
        lrs[name] = best[1]
        if best[0] is not None:  # the method has variants
            chosen[name] = best[0]
        runs.append(first[best])
        runs.extend(one(name, seed, best[1], best[0]) for seed in seeds[1:])
    return Comparison(runs, lrs, tuning, chosen)
