"""Annealed importance sampling (Neal 2001), forward and reverse.

AIS walks from a base distribution ``p_0`` with known ``Z_0`` to the model ``p_1`` through
``p_k ∝ exp(f_k)`` along a schedule ``0 = beta_0 < beta_1 < ... < beta_K = 1``. Each chain
starts with an exact draw from ``p_0``; at step ``k`` its log weight grows by
``f_k(x) - f_{k-1}(x)`` and then ``x`` moves by a transition that leaves ``p_k`` invariant.
``mean(exp(log w))`` is an unbiased estimate of ``Z_1 / Z_0``, so ``E[log Z_hat] <= log Z``:
forward AIS is a *stochastic lower bound*. Run backwards from exact samples of the model,
the same construction estimates ``Z_0 / Z_1`` and gives a *stochastic upper bound*
(reverse AIS; Burda, Grosse and Salakhutdinov 2015; Grosse, Ghahramani and Adams 2015).

Paths, by model:

* :class:`~ebmlib.models.RBM`: ``p_beta`` is the RBM with weights ``beta W``, hidden biases
  ``beta c`` and visible biases ``(1 - beta) b_0 + beta b`` (Salakhutdinov and Murray 2008),
  whose base (``beta = 0``) has independent visible units with biases ``b_0``: all zero
  (uniform), or the log-odds of the data's pixel means (the *base-rate* model). Block Gibbs
  moves; each step costs two matrix products for all chains.
* :class:`~ebmlib.models.BoltzmannMachine`: couplings ``beta W``, biases
  ``(1 - beta) b_0 + beta b``; systematic-scan Gibbs moves.
* continuous models: ``f_beta = (1 - beta) log q(x) + beta (-E(x))`` from a base distribution
  ``q`` with ``sample`` and ``log_prob`` (default: standard normal); MALA moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.functional import softplus

from .._validation import check_generator, check_positive_float, check_positive_int
from ..models import RBM, BoltzmannMachine, EnergyModel
from ..samplers._scan import systematic_scan
from ..samplers.langevin import langevin_step
from ..utils import progress_range
from .result import Estimate, from_log_weights

__all__ = ["ais", "reverse_ais", "check_schedule", "base_rate_bias", "piecewise_schedule"]


def check_schedule(betas: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """An annealing schedule as a float64 tensor: starts at 0, ends at 1, never decreases."""
    b = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
    if b.numel() < 2:
        raise ValueError(f"betas must hold at least two values (0 and 1), got {b.tolist()}")
    if not bool(torch.isfinite(b).all()):
        raise ValueError("betas contains NaN or infinite values")
    if b[0].item() != 0.0 or b[-1].item() != 1.0:
        raise ValueError(f"betas must run from 0 to 1, got {b[0].item()} ... {b[-1].item()}")
    if bool((b[1:] < b[:-1]).any()):
        raise ValueError("betas must not decrease")
    return b


def piecewise_schedule(n_betas: int) -> torch.Tensor:
    """The schedule shape of Salakhutdinov and Murray (2008), scaled to ``n_betas`` points.

    They used 500 betas on [0, 0.5), 4,000 on [0.5, 0.9) and 10,000 on [0.9, 1]: the steps
    are smallest near the model, where the distributions change fastest for an RBM.
    """
    check_positive_int(n_betas, "n_betas")
    if n_betas < 10:
        raise ValueError(f"n_betas must be >= 10 for a piecewise schedule, got {n_betas}")
    first, second = max(1, round(n_betas * 500 / 14500)), max(1, round(n_betas * 4000 / 14500))
    return torch.cat([
        torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.9, 1.0, n_betas - first - second, dtype=torch.float64),
    ])


def base_rate_bias(data: torch.Tensor, smoothing: float = 0.05) -> torch.Tensor:
    """Visible biases of the base-rate model: the log-odds of each unit's (smoothed) mean in ``data``."""
    p = (data.double().sum(0) + smoothing) / (len(data) + 2 * smoothing)
    return torch.log(p) - torch.log1p(-p)


def _schedule(n_betas: int | None, betas, device) -> torch.Tensor:
    if betas is None:
        check_positive_int(n_betas, "n_betas")
        if n_betas < 2:
            raise ValueError("n_betas must be >= 2")
        betas = torch.linspace(0.0, 1.0, n_betas, dtype=torch.float64)
    return check_schedule(betas).to(device)


class _BinaryPath:
    """Unnormalized log densities f_beta and transitions for an RBM or a Boltzmann machine."""

    def __init__(self, model: EnergyModel, base_bias: torch.Tensor, generator) -> None:
        self.model, self.generator = model, generator
        self.dtype = next(model.parameters()).dtype
        self.b0 = base_bias.to(self.dtype)
        n = model.n_features
        extra = model.n_hidden * torch.log(torch.tensor(2.0, dtype=torch.float64)) if isinstance(model, RBM) else 0.0
        self.log_z0 = softplus(base_bias.double()).sum() + extra
        if isinstance(model, RBM):
            self.w, self.b, self.c = (p.detach() for p in (model.weight, model.visible_bias, model.hidden_bias))
        else:
            self.w, self.b = model.coupling.detach(), model.bias.detach()
        self.n = n

    def sample_base(self, n: int) -> torch.Tensor:
        u = torch.rand(n, self.n, dtype=self.dtype, device=self.b0.device, generator=self.generator)
        return u.lt_(torch.sigmoid(self.b0))

    def log_f(self, v: torch.Tensor, beta: float, pre: torch.Tensor | None = None) -> torch.Tensor:
        """f_beta(v) = log of the unnormalized path density (float64)."""
        bias = (1 - beta) * self.b0 + beta * self.b
        if isinstance(self.model, RBM):
            return (v @ bias + softplus(beta * pre).sum(1)).double()
        return (v @ bias + 0.5 * beta * ((v @ self.w) * v).sum(1)).double()

    def pre(self, v: torch.Tensor) -> torch.Tensor | None:
        return torch.addmm(self.c, v, self.w) if isinstance(self.model, RBM) else None

    def move(self, v: torch.Tensor, beta: float, pre: torch.Tensor | None, reverse: bool = False) -> torch.Tensor:
        """One transition leaving p_beta invariant; ``reverse`` gives its time reversal.

        Block Gibbs on an RBM's visible layer is reversible, so it is its own reversal; the
        reversal of a systematic scan is the scan in the opposite unit order.
        """
        bias = (1 - beta) * self.b0 + beta * self.b
        if isinstance(self.model, RBM):
            h = torch.rand(pre.shape, dtype=v.dtype, device=v.device, generator=self.generator).lt_(torch.sigmoid(beta * pre))
            logits = torch.addmm(bias, h, self.w.T, alpha=beta)
            return torch.rand(v.shape, dtype=v.dtype, device=v.device, generator=self.generator).lt_(torch.sigmoid(logits))
        noise = torch.logit(torch.rand(v.shape, dtype=v.dtype, device=v.device, generator=self.generator))
        if reverse:
            flipped = systematic_scan(v.flip(1), beta * self.w.flip(0, 1), bias.flip(0), noise)
            return flipped.flip(1)
        return systematic_scan(v, beta * self.w, bias, noise)


class _ContinuousPath:
    def __init__(self, model: EnergyModel, base, step_size: float, generator) -> None:
        if not (callable(getattr(base, "sample", None)) and callable(getattr(base, "log_prob", None))):
            raise TypeError("base must have sample() and log_prob(), like a torch.distributions object")
        self.model, self.base, self.step_size, self.generator = model, base, step_size, generator
        self.log_z0 = torch.zeros((), dtype=torch.float64)

    def sample_base(self, n: int) -> torch.Tensor:
        return self.base.sample((n,))

    def pre(self, v):
        return None

    def log_f(self, x: torch.Tensor, beta: float, pre=None) -> torch.Tensor:
        return ((1 - beta) * self.base.log_prob(x) - beta * self.model.energy(x)).double()

    def move(self, x: torch.Tensor, beta: float, pre=None, reverse: bool = False) -> torch.Tensor:
        path = _Tempered(self.model, self.base, beta)  # MALA is reversible: its own reversal
        energy = path.energy(x)
        new, *_ = langevin_step(path, x, energy, path.score(x), self.step_size, True, self.generator)
        return new.detach()


class _Tempered(EnergyModel):
    """E_beta(x) = -(1 - beta) log q(x) + beta E(x): one point on the continuous path."""

    def __init__(self, model: EnergyModel, base, beta: float) -> None:
        super().__init__()
        self.target, self.base, self.beta = model, base, beta
        self.n_features = model.n_features

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return -(1 - self.beta) * self.base.log_prob(x) + self.beta * self.target.energy(x)


def _path(model, base, data, step_size, generator):
    if isinstance(model, (RBM, BoltzmannMachine)):
        device = next(model.parameters()).device
        if data is not None:
            model.check_input(data, "data")
            bias = base_rate_bias(data).to(device)
        else:
            bias = torch.zeros(model.n_features, dtype=torch.float64, device=device)
        return _BinaryPath(model, bias, generator)
    if model.is_binary:
        raise TypeError(f"ais supports RBM, BoltzmannMachine and continuous models, got {type(model).__name__}")
    if base is None:
        base = torch.distributions.Independent(
            torch.distributions.Normal(torch.zeros(model.n_features), torch.ones(model.n_features)), 1)
    return _ContinuousPath(model, base, check_positive_float(step_size, "step_size"), generator)


def _start(model, n_runs: int, name: str, base, data, step_size, generator):
    """Checks shared by the path estimators; returns the path and its device."""
    check_positive_int(n_runs, name)
    if n_runs < 2:
        raise ValueError(f"{name} must be >= 2 to give a standard error")
    path = _path(model, base, data, step_size, generator)
    device = path.b0.device if isinstance(path, _BinaryPath) else torch.device("cpu")
    check_generator(generator, device)
    return path, device


def ais(
    model: EnergyModel,
    n_chains: int,
    n_betas: int | None = 1000,
    *,
    betas: Sequence[float] | torch.Tensor | None = None,
    data: torch.Tensor | None = None,
    base=None,
    step_size: float = 0.1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    """Forward annealed importance sampling: an estimate (and stochastic lower bound) of ``log Z``.

    Args:
        model: an RBM, a Boltzmann machine or a continuous model.
        n_chains: independent AIS runs (>= 2).
        n_betas: number of distributions in a linear schedule from 0 to 1 (ignored if
            ``betas`` is given).
        betas: any schedule, checked to run from 0 to 1 without decreasing.
        data: binary models only: fit the base-rate base model to these rows (default: the
            uniform base).
        base: continuous models only: the base distribution (``sample``, ``log_prob``).
        step_size: MALA step size on the continuous path.
        generator: random generator on the model's device.
        progress: show a progress bar over the schedule.

    Returns:
        An :class:`~ebmlib.estimators.Estimate`.
    """
    path, device = _start(model, n_chains, "n_chains", base, data, step_size, generator)
    schedule = _schedule(n_betas, betas, device).tolist()
    with torch.no_grad():
        x = path.sample_base(n_chains)
        log_w = torch.zeros(n_chains, dtype=torch.float64, device=x.device)
        for k in progress_range(len(schedule) - 1, progress, "AIS"):
            lo, hi = schedule[k], schedule[k + 1]
            pre = path.pre(x)
            log_w += path.log_f(x, hi, pre) - path.log_f(x, lo, pre)
            if k < len(schedule) - 2:  # no move is needed after the last weight update
                x = path.move(x, hi, pre)
    return from_log_weights(log_w, path.log_z0)


def reverse_ais(
    model: EnergyModel,
    samples: torch.Tensor,
    n_betas: int | None = 1000,
    *,
    betas: Sequence[float] | torch.Tensor | None = None,
    data: torch.Tensor | None = None,
    base=None,
    step_size: float = 0.1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    """Reverse AIS from samples of the model: an estimate (and stochastic upper bound) of ``log Z``.

    The chains start at ``samples`` (exact samples of the model for a valid bound; held-out
    data for the RAISE-style estimate) and anneal from ``beta = 1`` down to the base. The
    weights estimate ``Z_0 / Z``; the returned ``log_z`` is ``log Z_0 - log mean(w)``, and
    ``log_weights`` are the negated reverse weights, so that ``ess`` and ``stderr`` keep
    their meaning.
    """
    path = _path(model, base, data, step_size, generator)
    model.check_input(samples, "samples")
    if len(samples) < 2:
        raise ValueError("at least two samples are needed to give a standard error")
    check_generator(generator, samples.device)
    schedule = _schedule(n_betas, betas, samples.device).tolist()[::-1]
    with torch.no_grad():
        x = samples.clone()
        log_r = torch.zeros(len(x), dtype=torch.float64, device=x.device)
        for k in progress_range(len(schedule) - 1, progress, "reverse AIS"):
            hi, lo = schedule[k], schedule[k + 1]
            pre = path.pre(x)
            if k > 0:  # the samples already follow p_1: move first only after the first step
                x = path.move(x, hi, pre)
                pre = path.pre(x)
            log_r += path.log_f(x, lo, pre) - path.log_f(x, hi, pre)
    estimate = from_log_weights(log_r)  # estimates log(Z_0 / Z)
    return Estimate(path.log_z0 - estimate.log_z, -log_r, estimate.ess, estimate.stderr)
