r"""Annealed importance sampling (Neal 2001), forward and reverse.

AIS walks a path :math:`p_0, \dots, p_K` from a base with known :math:`Z_0` to the model
(:mod:`ebmlib.estimators.paths`) along a schedule
:math:`0 = \beta_0 < \beta_1 < \dots < \beta_K = 1`. Each run draws :math:`x_1` from :math:`p_0`
and, for :math:`k = 1, \dots, K`, multiplies its weight by :math:`f_k(x_k) / f_{k-1}(x_k)` and
moves :math:`x_k \to x_{k+1}` with a kernel that leaves :math:`p_k` invariant. The weight

.. math::

    w = \prod_k \frac{f_k(x_k)}{f_{k-1}(x_k)}

has expectation :math:`Z_K / Z_0`: the joint law of the run, divided into the law of the same
states run backwards from :math:`p_K` with the reversed kernels, is exactly :math:`w Z_0 / Z_K`,
and any density ratio averages to 1. So :math:`\operatorname{mean}(w)` is unbiased for
:math:`Z / Z_0` and, by Jensen, :math:`\mathbb{E}[\log \hat Z] \le \log Z`: forward AIS is a
*stochastic lower bound* (in expectation; a single estimate can land above :math:`\log Z`, by
:math:`b` nats with probability at most :math:`e^{-b}`). Run backwards from exact samples of
the model, the same construction estimates :math:`Z_0 / Z` and gives a *stochastic upper bound*
(reverse AIS, the other half of bidirectional Monte Carlo, Grosse, Ghahramani and Adams 2015).
Both bounds need kernels that leave each :math:`p_k` invariant (Gibbs, MALA; not unadjusted
Langevin). Pooling reverse weights started from held-out *data* is not RAISE (Burda, Grosse and
Salakhutdinov 2015), which keeps one estimate per test example.

Any kernel composes: the default is Gibbs for binary models (fused with the path's weight
computation for RBMs and Boltzmann machines) and MALA for continuous ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .._validation import check_generator, check_kernel, check_positive_int
from ..models import EnergyModel
from ..samplers import Kernel, default_kernel
from ..utils import progress_range
from .bases import resolve_base
from .paths import AnnealingPath, annealing_path
from .result import Estimate
from .schedules import check_schedule, linear_schedule

__all__ = ["ais", "reverse_ais", "ais_schedule_check", "ScheduleCheck"]


def _prepare(
    model: EnergyModel, n_chains: int, name: str, base, kernel, generator, device: torch.device | None = None
) -> tuple[AnnealingPath, Kernel]:
    """What the path estimators share: checks, the path and the kernel."""
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
    check_positive_int(n_chains, name)
    if n_chains < 2:
        raise ValueError(f"{name} must be >= 2 to give a standard error")
    path = annealing_path(model, resolve_base(model, base))
    if kernel is None:
        kernel = default_kernel(model)
    check_kernel(kernel)
    check_generator(generator, device if device is not None else path.log_z0.device)
    return path, kernel


def _kernels(kernel: Kernel, step_sizes: Callable[[float], float] | None) -> Callable[[float], Kernel]:
    """``beta -> kernel``: the kernel itself, or a copy holding ``step_sizes(beta)``."""
    if step_sizes is None:
        return lambda beta: kernel
    if not callable(step_sizes):
        raise TypeError(
            f"step_sizes must be a function beta -> step size (a StepSchedule), got {type(step_sizes).__name__}"
        )
    if "step_size" not in getattr(kernel, "params", {}):
        raise TypeError(f"step_sizes needs a kernel with a step_size setting, {type(kernel).__name__} has none")
    return lambda beta: kernel.with_settings(step_size=float(step_sizes(beta)))


def _schedule(n_betas: int | None, betas) -> list[float]:
    if betas is not None:
        return check_schedule(betas).tolist()
    if n_betas is None:
        raise ValueError("give n_betas (a linear schedule) or betas")
    return linear_schedule(n_betas).tolist()


def ais(
    model: EnergyModel,
    n_chains: int,
    n_betas: int | None = 1000,
    *,
    betas: Sequence[float] | torch.Tensor | None = None,
    base=None,
    kernel: Kernel | None = None,
    step_sizes: Callable[[float], float] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    r"""Forward annealed importance sampling: an estimate (and stochastic lower bound) of :math:`\log Z`.

    Args:
        model: any model (binary or continuous) with an annealing path.
        n_chains: independent AIS runs (>= 2).
        n_betas: number of distributions in a linear schedule from 0 to 1 (ignored if
            ``betas`` is given).
        betas: any schedule, checked to run from 0 to 1 without decreasing (the linear one
            did at least as well as Salakhutdinov and Murray's
            :func:`~ebmlib.estimators.piecewise_schedule` at 100 distributions, on two trained
            MNIST RBMs and one random one: ``benchmarks/ais.py``; that says nothing about
            much longer schedules).
        base: where the path starts (see :func:`~ebmlib.estimators.resolve_base`): for binary
            models ``"model"`` (independent units with the model's own visible biases, the
            default), ``"uniform"`` or log-odds (the base rate:
            ``utils.base_rate_logits(train)``); for continuous ones a distribution (default a
            standard normal).
        kernel: the move at each distribution (default Gibbs, or MALA with step 0.1).
        step_sizes: the kernel's step size at each :math:`\beta` (``beta -> step``), held fixed
            through the run: a :class:`~ebmlib.estimators.StepSchedule` from
            :func:`~ebmlib.estimators.tune_ais_steps`'s pilot run (default: the kernel's own
            step everywhere).
        generator: random generator on the model's device.
        progress: show a progress bar over the schedule.

    Returns:
        An :class:`~ebmlib.estimators.Estimate` (``log_weights`` are the runs' :math:`\log w`).
    """
    path, kernel = _prepare(model, n_chains, "n_chains", base, kernel, generator)
    schedule = _schedule(n_betas, betas)
    kernel_at = _kernels(kernel, step_sizes)
    with torch.no_grad():
        x = path.sample_base(n_chains, generator=generator)
        log_w = torch.zeros(n_chains, dtype=torch.float64, device=x.device)
        last = len(schedule) - 2
        for k in progress_range(len(schedule) - 1, progress, "AIS"):
            lo, hi = schedule[k], schedule[k + 1]
            if k < last:
                increment, x = path.advance(x, lo, hi, kernel_at(hi), generator=generator)
            else:  # no move is needed after the last weight update
                increment = path.increment(x, lo, hi)
            log_w += increment
    return Estimate.from_log_weights(log_w, path.log_z0)


def reverse_ais(
    model: EnergyModel,
    samples: torch.Tensor,
    n_betas: int | None = 1000,
    *,
    betas: Sequence[float] | torch.Tensor | None = None,
    base=None,
    kernel: Kernel | None = None,
    step_sizes: Callable[[float], float] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    r"""Reverse AIS from samples of the model: an estimate (and stochastic upper bound) of :math:`\log Z`.

    The chains start at ``samples`` (exact samples of the model; from other samples, such as
    held-out data, the pooled weights do not estimate :math:`Z_0 / Z`, and this is not Burda
    et al.'s RAISE, which keeps one estimate per example) and anneal from :math:`\beta = 1`
    down to the base. The weights estimate :math:`Z_0 / Z`; the returned ``log_z`` is
    :math:`\log Z_0 - \log \operatorname{mean}(w)`, and ``log_weights`` are the negated reverse
    weights, so that ``ess`` and ``stderr`` keep their meaning. Arguments as in :func:`ais`.
    """
    model.check_input(samples, "samples")
    path, kernel = _prepare(model, len(samples), "len(samples)", base, kernel, generator, device=samples.device)
    schedule = _schedule(n_betas, betas)[::-1]
    kernel_at = _kernels(kernel, step_sizes)
    with torch.no_grad():
        x = samples.clone()
        log_r = torch.zeros(len(x), dtype=torch.float64, device=x.device)
        for k in progress_range(len(schedule) - 1, progress, "reverse AIS"):
            hi, lo = schedule[k], schedule[k + 1]
            if k > 0:  # the samples already follow p_1: move first only after the first step
                x = path.move(x, hi, kernel_at(hi), generator=generator)
            log_r += path.increment(x, hi, lo)
    estimate = Estimate.from_log_weights(log_r)  # estimates log(Z_0 / Z)
    return Estimate(path.log_z0 - estimate.log_z, -log_r, estimate.ess, estimate.stderr)


@dataclass
class ScheduleCheck:
    """AIS run at several schedule lengths, and whether the estimate has stopped moving.

    Attributes:
        estimates: number of distributions -> :class:`~ebmlib.estimators.Estimate`, shortest first.
        converged: whether the two longest schedules agree within ``sigmas`` combined standard
            errors.
        sigmas: the tolerance used.
    """

    estimates: dict[int, Estimate]
    converged: bool
    sigmas: float

    @property
    def estimate(self) -> Estimate:
        """The estimate from the longest schedule."""
        return self.estimates[max(self.estimates)]

    def __repr__(self) -> str:
        runs = ", ".join(f"{k}: {float(e.log_z):.3f} ± {e.stderr:.3f}" for k, e in self.estimates.items())
        return f"ScheduleCheck({runs}; converged={self.converged})"


def ais_schedule_check(
    model: EnergyModel,
    n_chains: int,
    lengths: Sequence[int] = (250, 1000, 4000),
    *,
    sigmas: float = 3.0,
    base=None,
    kernel: Kernel | None = None,
    step_sizes: Callable[[float], float] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> ScheduleCheck:
    """Run :func:`ais` with linear schedules of increasing length and check that it settled.

    An AIS estimate whose schedule is too short is biased (downwards, on average) and its
    standard error does not show it; lengthening the schedule until the estimate stops
    moving is the practical check. The two longest runs must agree within ``sigmas`` times
    the square root of the sum of their squared standard errors. Agreement is necessary, not
    sufficient: two schedules that are both far too short can agree on a wrong value.

    Args:
        model, n_chains, base, kernel, step_sizes, generator, progress: as in :func:`ais`.
        lengths: numbers of distributions, increasing (at least two).
        sigmas: the tolerance in combined standard errors.

    Returns:
        A :class:`ScheduleCheck`; ``.estimate`` is the longest run's.
    """
    lengths = [check_positive_int(k, "lengths[i]") for k in lengths]
    if len(lengths) < 2 or any(b <= a for a, b in zip(lengths, lengths[1:])):
        raise ValueError(f"lengths must hold at least two increasing schedule lengths, got {lengths}")
    estimates = {
        k: ais(
            model, n_chains, k, base=base, kernel=kernel, step_sizes=step_sizes, generator=generator, progress=progress
        )
        for k in lengths
    }
    last, previous = estimates[lengths[-1]], estimates[lengths[-2]]
    gap = abs(float(last.log_z) - float(previous.log_z))
    converged = gap <= sigmas * (last.stderr**2 + previous.stderr**2) ** 0.5
    return ScheduleCheck(estimates, converged, sigmas)
