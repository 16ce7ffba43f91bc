r"""Step-size adaptation by dual averaging (Hoffman and Gelman 2014, section 3.2.1), as a warm-up.

A kernel with a ``step_size`` (MALA, HMC) and an ``accept_prob`` in its info can have its step
tuned so that the mean acceptance probability hits a target ``delta``. Dual averaging treats
``H_t = delta - alpha_t`` (``alpha_t`` the acceptance probability of step ``t``) as a noisy
gradient and sets, for ``t = 1, 2, ...``,

    Hbar_t        = (1 - 1/(t + t0)) Hbar_{t-1} + (delta - alpha_t) / (t + t0)
    log eps_t     = mu - sqrt(t) / gamma * Hbar_t
    log epsbar_t  = t^(-kappa) log eps_t + (1 - t^(-kappa)) log epsbar_{t-1}

from ``Hbar_0 = 0``, ``log epsbar_0 = 0`` and ``mu = log(10 eps_0)``, with the paper's constants
``gamma = 0.05``, ``t0 = 10``, ``kappa = 0.75``. Step ``t`` runs with ``eps_{t-1}``; the iterates
``eps_t`` keep exploring (their noise does not die out), while the average ``epsbar_t``
converges, and is the step size the warm-up returns.

Adaptation is a **warm-up only**. A chain whose step size keeps changing with its own past is
not a Markov chain with a fixed transition, so "every kernel leaves ``p`` invariant" no longer
implies that the chain samples ``p``; and an annealed importance sampler whose transitions
were tuned on the states of the same run loses the argument that makes its weights unbiased
(each transition must be a fixed kernel that leaves its distribution invariant, chosen before
the run). So: adapt on a warm-up (or pilot) run, then hold the returned step size fixed for
the run whose draws or weights you use.

The update is stateless (:class:`DualAveraging` holds settings, :class:`DualAveragingState` the
iterates), shared by all chains (one step size from the mean acceptance probability) or per chain
(a ``[chains]`` step size, each steered by its own chain's acceptance probability).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._validation import check_generator, check_kernel, check_positive_float, check_positive_int, check_probability
from ..utils import progress_range
from .base import Kernel

__all__ = ["DualAveraging", "DualAveragingState", "Adapted", "adapt_step_size"]


class DualAveragingState(NamedTuple):
    """The iterates of dual averaging after ``n_updates`` updates (float64 tensors of shape ``[]``
    when shared, ``[chains]`` per chain): ``log_step_size`` is ``log eps_t``, the step the next
    step runs with; ``log_step_size_avg`` is ``log epsbar_t``, the averaged iterate (the adapted
    step size); ``error_avg`` is ``Hbar_t``, the running average of ``delta - alpha``; ``mu`` is
    ``log(10 eps_0)``, the point the iterates are shrunk towards; ``n_updates`` is ``t`` (an int)."""

    log_step_size: torch.Tensor
    log_step_size_avg: torch.Tensor
    error_avg: torch.Tensor
    mu: torch.Tensor
    n_updates: int


class DualAveraging:
    """Hoffman and Gelman's dual averaging of ``log eps`` towards a target acceptance probability.

    The object holds settings only; :meth:`init` and :meth:`update` return new states.

    Args:
        target_accept: ``delta`` in ``(0, 1)``.
        gamma: ``gamma > 0``, how strongly the iterates are shrunk towards ``mu`` (0.05).
        t0: ``t0 >= 0``, damps the first updates (10).
        kappa: ``kappa`` in ``(0.5, 1]``, how fast the average forgets early iterates (0.75).
    """

    def __init__(self, target_accept: float, *, gamma: float = 0.05, t0: float = 10.0, kappa: float = 0.75) -> None:
        self.target_accept = check_probability(target_accept, "target_accept", open_low=True, open_high=True)
        self.gamma = check_positive_float(gamma, "gamma")
        if isinstance(t0, bool) or not isinstance(t0, (int, float)) or not math.isfinite(t0) or t0 < 0:
            raise ValueError(f"t0 must be a finite number >= 0, got {t0!r}")
        self.t0 = float(t0)
        if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or not 0.5 < kappa <= 1:
            raise ValueError(f"kappa must lie in (0.5, 1], got {kappa!r}")
        self.kappa = float(kappa)

    def init(self, step_size: float | torch.Tensor) -> DualAveragingState:
        """The state before any update: ``eps_0 = step_size`` (a float, or a ``[chains]`` tensor)."""
        eps0 = (
            step_size.detach().to(torch.float64)
            if isinstance(step_size, torch.Tensor)
            else torch.tensor(float(step_size), dtype=torch.float64, device="cpu")
        )
        if not bool(((eps0 > 0) & torch.isfinite(eps0)).all()):
            raise ValueError("step_size must hold finite numbers > 0")
        log_eps0 = eps0.log()
        zeros = torch.zeros_like(log_eps0)
        return DualAveragingState(log_eps0, zeros, zeros, log_eps0 + math.log(10.0), 0)

    def update(self, state: DualAveragingState, accept_prob: torch.Tensor) -> DualAveragingState:
        """One update from the acceptance probabilities of the step that ran with ``exp(state.log_step_size)``.

        Args:
            state: the current iterates.
            accept_prob: ``alpha_t``, shaped like the state (``[]`` or ``[chains]``), in ``[0, 1]``.
        """
        t = state.n_updates + 1
        alpha = accept_prob.to(torch.float64)
        weight = 1.0 / (t + self.t0)
        error_avg = (1.0 - weight) * state.error_avg + weight * (self.target_accept - alpha)
        log_eps = state.mu - math.sqrt(t) / self.gamma * error_avg
        eta = t ** (-self.kappa)
        log_eps_avg = eta * log_eps + (1.0 - eta) * state.log_step_size_avg
        return DualAveragingState(log_eps, log_eps_avg, error_avg, state.mu, t)

    @staticmethod
    def final(state: DualAveragingState) -> torch.Tensor:
        """The adapted step size ``epsbar_t = exp(log_step_size_avg)`` (float64, ``[]`` or ``[chains]``)."""
        if state.n_updates == 0:
            return state.log_step_size.exp()
        return state.log_step_size_avg.exp()


class Adapted(NamedTuple):
    """What :func:`adapt_step_size` returns: ``(state, step_size, trace, dual_averaging)``.

    ``state`` is the kernel's state at the end of the warm-up (continue the chains from
    ``state.x``). ``step_size`` is the adapted step size, the averaged iterate ``epsbar``: a float
    (shared) or a ``[chains]`` tensor in the chains' dtype (per chain); hold it fixed from now on.
    ``trace`` holds ``"step_size"``, the step size each warm-up step ran with (``[n_steps]``
    shared, ``[n_steps, chains]`` per chain), and ``"accept_prob"``, ``[n_steps, chains]``.
    ``dual_averaging`` is the final :class:`DualAveragingState`.
    """

    state: Any
    step_size: float | torch.Tensor
    trace: dict[str, torch.Tensor]
    dual_averaging: DualAveragingState


def adapt_step_size(
    kernel: Kernel,
    model,
    x: torch.Tensor,
    n_steps: int,
    *,
    target_accept: float,
    per_chain: bool = False,
    initial_step_size: float | torch.Tensor | None = None,
    gamma: float = 0.05,
    t0: float = 10.0,
    kappa: float = 0.75,
    generator: torch.Generator | None = None,
    progress: bool = False,
    **params,
) -> Adapted:
    """Warm ``kernel`` up for ``n_steps`` while dual averaging tunes its ``step_size``.

    Dual averaging (Hoffman and Gelman 2014, section 3.2.1) steers ``log eps`` so that the
    acceptance probability averages ``target_accept``; the step size returned is the averaged
    iterate ``epsbar``, not the last, noisier iterate. Typical targets: about 0.57 for MALA and
    0.65 to 0.8 for HMC (the optimal-scaling results of Roberts and Rosenthal 1998 and Beskos et
    al. 2013; Stan's default is 0.8).

    This is a warm-up only: sample with the returned step size *held fixed*. While it adapts,
    the step size depends on the chain's own past, so the chain is no longer a Markov chain
    with one transition that leaves ``p`` invariant, and nothing guarantees that it samples
    ``p``; and an annealed importance sampler whose transitions were tuned on the states of the
    same run loses the argument that makes its weights unbiased (each transition must be a fixed
    kernel that leaves its own distribution invariant, chosen before the run). Adapting on a
    warm-up or pilot run and then fixing the step size keeps both exact::

        adapted = adapt_step_size(HMC(0.1, 10), model, x0, 500, target_accept=0.8)
        chain = run_chain(
            HMC(0.1, 10), model, adapted.state.x, 1000, step_size=adapted.step_size
        )

    Args:
        kernel: a kernel whose settings include ``step_size`` and whose info reports
            ``accept_prob`` (:class:`~ebmlib.samplers.HMC`, MALA as
            ``Langevin(adjusted=True)``, continuous :class:`~ebmlib.samplers.MetropolisHastings`).
        model: the model the kernel samples.
        x: ``[chains, d]`` start states.
        n_steps: warm-up steps (>= 1), each one kernel step.
        target_accept: ``delta`` in ``(0, 1)``.
        per_chain: one step size per chain, each steered by its chain's acceptance probability
            (needs a kernel that takes a ``[chains]`` step size: HMC, MALA); else one step size
            for all chains, steered by the mean acceptance probability. Per chain, each update
            sees one noisy acceptance probability, and the averaged iterate ends on the cautious
            side: acceptance a few points above the target after a few hundred steps (about
            +0.03 for MALA and +0.06 for HMC on Gaussians after 400), shrinking as the warm-up
            grows. Shared adaptation averages over the chains and has no such bias.
        initial_step_size: ``eps_0`` (default the kernel's ``step_size``); a ``[chains]`` tensor
            only with ``per_chain``.
        gamma, t0, kappa: dual averaging's constants (see :class:`DualAveraging`).
        generator: random generator on ``x``'s device.
        progress: show a progress bar.
        params: other settings passed to every step (``n_leapfrog=...``).

    Returns:
        An :class:`Adapted`: the final kernel state, the adapted step size and the traces.
    """
    check_kernel(kernel)
    settings = getattr(kernel, "params", {})
    if "step_size" not in settings:
        raise TypeError(
            f"kernel must have a step_size setting to adapt, {type(kernel).__name__} has {sorted(settings)}"
        )
    if "step_size" in params:
        raise TypeError("pass the first step size as initial_step_size, not step_size: adaptation sets it")
    check_positive_int(n_steps, "n_steps")
    averaging = DualAveraging(target_accept, gamma=gamma, t0=t0, kappa=kappa)
    state = kernel.init(model, x)
    x = state.x
    check_generator(generator, x.device)
    n_chains = x.shape[0]
    eps0 = settings["step_size"] if initial_step_size is None else initial_step_size
    if isinstance(eps0, torch.Tensor):
        if eps0.dim() == 0:
            eps0 = float(eps0)
        elif not per_chain:
            raise ValueError("initial_step_size may be a [chains] tensor only with per_chain=True")
        elif tuple(eps0.shape) != (n_chains,):
            raise ValueError(
                f"initial_step_size must be a float or a [{n_chains}] tensor, got shape {tuple(eps0.shape)}"
            )
    else:
        eps0 = check_positive_float(eps0, "initial_step_size")
    if per_chain and not isinstance(eps0, torch.Tensor):
        eps0 = torch.full((n_chains,), eps0, dtype=torch.float64, device=x.device)
    da = averaging.init(eps0.detach().to(device=x.device) if isinstance(eps0, torch.Tensor) else eps0)
    da = da._replace(
        **{f: getattr(da, f).to(x.device) for f in ("log_step_size", "log_step_size_avg", "error_avg", "mu")}
    )
    used, probs = [], []
    with torch.no_grad():
        for _ in progress_range(n_steps, progress, "adapting step size"):
            eps = da.log_step_size.exp()
            step_size = eps.to(x.dtype) if per_chain else float(eps)
            state, info = kernel.step(model, state, generator=generator, step_size=step_size, **params)
            accept_prob = getattr(info, "accept_prob", None)
            if accept_prob is None:
                raise TypeError(
                    f"{type(kernel).__name__}'s steps report no accept_prob: only a kernel that accepts "
                    f"or rejects (MALA, HMC) can be adapted to a target acceptance rate"
                )
            da = averaging.update(da, accept_prob if per_chain else accept_prob.to(torch.float64).mean())
            used.append(eps)
            probs.append(accept_prob)
    final = averaging.final(da)
    step_size = final.to(x.dtype) if per_chain else float(final)
    trace = {"step_size": torch.stack(used), "accept_prob": torch.stack(probs)}
    return Adapted(state, step_size, trace, da)
